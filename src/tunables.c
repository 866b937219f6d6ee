/* The table of tunables (options.h): each option's name, type, default,
 * bounds and when it may change, and the function of the module that
 * applies a change made while the program runs. It sits above the modules
 * it names, so that options.c, which reads and sets the values, needs none
 * of them. */
#include "options.h"
#include "slab.h"

#include "hardened.h"
#include "log.h"
#include "prof.h"
#include "signals.h"
#include "statpage.h"

static const char *const misuse_words[] = { "abort", "report", NULL };
static const char *const stats_format_words[] = { "text", "json", NULL };
static const char *const canary_words[] = { "off", "large", "medium", "all", NULL };
static const char *const thp_words[] = { "default", "never", "always", NULL };
#ifdef HAKMEM_DEBUG_LOG
static const char *const log_words[] = { "os", "superslab", "pool", "thread", "large", "ctl", NULL };
#endif

const struct hk_option hk_options[] = {
	{ .name = "superslab_lg", .type = HK_OPT_U64, .when = HK_OPT_BEFORE_USE,
	  .def = 21, .min = 20, .max = 21, .value = &hk_opt.superslab_lg,
	  .alias = "HAKMEM_TINY_SS_FORCE_LG" },
	{ .name = "superslab_reserve", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 2, .min = 0, .max = 1024, .value = &hk_opt.superslab_reserve },
	{ .name = "trim", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 1, .value = &hk_opt.trim, .alias = "HAKMEM_TINY_TRIM_SS" },
	{ .name = "trim_interval_ms", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 0, .min = 0, .max = 3600000, .value = &hk_opt.trim_interval_ms,
	  .alias = "HAKMEM_TINY_IDLE_TRIM_MS" },
	{ .name = "purge_decay_ms", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 1000, .min = 1, .max = 3600000, .value = &hk_opt.purge_decay_ms },
	{ .name = "thread_cache", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 1, .value = &hk_opt.thread_cache },
	{ .name = "large_cache", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = (uint64_t)64 << 20, .min = 0, .max = (uint64_t)1 << 40,
	  .value = &hk_opt.large_cache },
	{ .name = "large_hugepages", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 1, .value = &hk_opt.large_hugepages },
	{ .name = "large_hold", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 1, .value = &hk_opt.large_hold },
	{ .name = "large_protect", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .value = &hk_opt.large_protect },
	{ .name = "misuse", .type = HK_OPT_WORD, .when = HK_OPT_ANYTIME,
	  .def = HK_MISUSE_ABORT, .words = misuse_words, .value = &hk_log_misuse },
	{ .name = "hardened", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .value = &hk_opt.hardened },
	{ .name = "canary", .type = HK_OPT_WORD, .when = HK_OPT_BEFORE_USE,
	  .def = HK_CANARY_LARGE, .words = canary_words, .value = &hk_opt.canary },
	{ .name = "guard_pages", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .value = &hk_opt.guard_pages },
	{ .name = "zero_on_free", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .value = &hk_opt.zero_on_free },
	{ .name = "zero_on_free_max", .type = HK_OPT_U64, .when = HK_OPT_BEFORE_USE,
	  .def = 64, .min = 0, .max = HK_SCRUB_MAX, .value = &hk_opt.zero_on_free_max },
	{ .name = "zero_alloc", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .value = &hk_opt.zero_alloc },
	{ .name = "quarantine", .type = HK_OPT_U64, .when = HK_OPT_BEFORE_USE,
	  .def = 0, .min = 0, .max = HK_QUARANTINE_MAX, .value = &hk_opt.quarantine },
	{ .name = "zero_size", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 1, .value = &hk_opt.zero_size },
	{ .name = "trailer", .type = HK_OPT_BOOL, .when = HK_OPT_BEFORE_USE,
	  .def = 1, .value = &hk_opt.trailer },
	{ .name = "stats_print", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 0, .value = &hk_opt.stats_print, .alias = "HAKMEM_STATS" },
	{ .name = "crash_report", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 0, .value = &hk_opt.crash_report, .changed = hk_signals_update },
	{ .name = "fail_mmap_every", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 0, .min = 0, .max = 1000000, .value = &hk_opt.fail_mmap_every },
	/* Observation (report.c, statpage.c). */
	{ .name = "stats_format", .type = HK_OPT_WORD, .when = HK_OPT_ANYTIME,
	  .def = HK_STATS_TEXT, .words = stats_format_words, .value = &hk_opt.stats_format },
	{ .name = "stats_file", .type = HK_OPT_TEXT, .when = HK_OPT_ANYTIME,
	  .def_text = "", .value = (uint64_t *)(void *)hk_opt.stats_file },
	{ .name = "stats_interval_ms", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 0, .min = 0, .max = 86400000, .value = &hk_opt.stats_interval_ms },
	{ .name = "stats_page", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 1, .value = &hk_opt.stats_page, .changed = hk_statpage_update },
#ifdef HAKMEM_DEBUG_LOG
	{ .name = "log", .type = HK_OPT_LIST, .when = HK_OPT_ANYTIME,
	  .def = 0, .words = log_words, .value = &hk_log_mask },
#endif
	/* The heap profiler (prof.h) and huge pages for SuperSlabs. */
	{ .name = "prof", .type = HK_OPT_BOOL, .when = HK_OPT_ANYTIME,
	  .def = 0, .value = &hk_opt.prof, .changed = hk_prof_update },
	{ .name = "prof_sample", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = (uint64_t)512 << 10, .min = 1, .max = (uint64_t)1 << 30,
	  .value = &hk_opt.prof_sample },
	{ .name = "prof_interval_ms", .type = HK_OPT_U64, .when = HK_OPT_ANYTIME,
	  .def = 0, .min = 0, .max = 86400000, .value = &hk_opt.prof_interval_ms },
	{ .name = "prof_prefix", .type = HK_OPT_TEXT, .when = HK_OPT_ANYTIME,
	  .def_text = "hakmem", .value = (uint64_t *)(void *)hk_opt.prof_prefix },
	{ .name = "thp", .type = HK_OPT_WORD, .when = HK_OPT_ANYTIME,
	  .def = HK_THP_DEFAULT, .words = thp_words, .value = &hk_opt.thp },
};

const size_t hk_options_count = sizeof hk_options / sizeof hk_options[0];

/* The table of tunables (options.h): each option's name, type, bounds and
 * when it may change, and the function of the module that applies a change
 * made while the program runs. It sits above the modules it names, so that
 * options.c, which reads and sets the values, needs none of them. */
#include "options.h"

#include "hardened.h"
#include "log.h"
#include "prof.h"
#include "signals.h"
#include "statpage.h"

struct hk_options hk_opt = {
	.superslab_lg = 21,
	.superslab_reserve = 2,
	.trim = 1,
	.trim_interval_ms = 0,
	.purge_decay_ms = 1000,
	.thread_cache = 1,
	.large_cache = (uint64_t)64 << 20,
	.large_hugepages = 1,
	.canary = HK_CANARY_LARGE,
	.stats_print = 0,
	.crash_report = 0,
	.stats_format = HK_STATS_TEXT,
	.stats_interval_ms = 0,
	.stats_page = 1,
	.stats_file = "",
	.prof = 0,
	.prof_sample = (uint64_t)512 << 10,
	.prof_interval_ms = 0,
	.prof_prefix = "hakmem",
	.thp = HK_THP_DEFAULT,
};

static const char *const misuse_words[] = { "abort", "report", NULL };
static const char *const stats_format_words[] = { "text", "json", NULL };
static const char *const canary_words[] = { "off", "large", "all", NULL };
static const char *const thp_words[] = { "default", "never", "always", NULL };
#ifdef HAKMEM_DEBUG_LOG
static const char *const log_words[] = { "os", "superslab", "pool", "thread", "large", "ctl", NULL };
#endif

const struct hk_option hk_options[] = {
	{ "superslab_lg", HK_OPT_U64, HK_OPT_BEFORE_USE, 20, 21, NULL, &hk_opt.superslab_lg,
	  "HAKMEM_TINY_SS_FORCE_LG", NULL },
	{ "superslab_reserve", HK_OPT_U64, HK_OPT_ANYTIME, 0, 1024, NULL,
	  &hk_opt.superslab_reserve, NULL, NULL },
	{ "trim", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.trim, "HAKMEM_TINY_TRIM_SS", NULL },
	{ "trim_interval_ms", HK_OPT_U64, HK_OPT_ANYTIME, 0, 3600000, NULL,
	  &hk_opt.trim_interval_ms, "HAKMEM_TINY_IDLE_TRIM_MS", NULL },
	{ "purge_decay_ms", HK_OPT_U64, HK_OPT_ANYTIME, 1, 3600000, NULL, &hk_opt.purge_decay_ms,
	  NULL, NULL },
	{ "thread_cache", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.thread_cache, NULL, NULL },
	{ "large_cache", HK_OPT_U64, HK_OPT_ANYTIME, 0, (uint64_t)1 << 40, NULL, &hk_opt.large_cache,
	  NULL, NULL },
	{ "large_hugepages", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.large_hugepages,
	  NULL, NULL },
	{ "misuse", HK_OPT_WORD, HK_OPT_ANYTIME, 0, 1, misuse_words, &hk_log_misuse, NULL, NULL },
	{ "hardened", HK_OPT_BOOL, HK_OPT_BEFORE_USE, 0, 1, NULL, &hk_opt.hardened, NULL, NULL },
	{ "canary", HK_OPT_WORD, HK_OPT_BEFORE_USE, 0, 2, canary_words, &hk_opt.canary, NULL, NULL },
	{ "guard_pages", HK_OPT_BOOL, HK_OPT_BEFORE_USE, 0, 1, NULL, &hk_opt.guard_pages, NULL, NULL },
	{ "zero_on_free", HK_OPT_BOOL, HK_OPT_BEFORE_USE, 0, 1, NULL, &hk_opt.zero_on_free, NULL, NULL },
	{ "zero_alloc", HK_OPT_BOOL, HK_OPT_BEFORE_USE, 0, 1, NULL, &hk_opt.zero_alloc, NULL, NULL },
	{ "quarantine", HK_OPT_U64, HK_OPT_BEFORE_USE, 0, HK_QUARANTINE_MAX, NULL, &hk_opt.quarantine,
	  NULL, NULL },
	{ "zero_size", HK_OPT_BOOL, HK_OPT_BEFORE_USE, 0, 1, NULL, &hk_opt.zero_size, NULL, NULL },
	{ "stats_print", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.stats_print,
	  "HAKMEM_STATS", NULL },
	{ "crash_report", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.crash_report, NULL,
	  hk_signals_update },
	{ "fail_mmap_every", HK_OPT_U64, HK_OPT_ANYTIME, 0, 1000000, NULL, &hk_opt.fail_mmap_every,
	  NULL, NULL },
	/* Observation (report.c, statpage.c). */
	{ "stats_format", HK_OPT_WORD, HK_OPT_ANYTIME, 0, 1, stats_format_words,
	  &hk_opt.stats_format, NULL, NULL },
	{ "stats_file", HK_OPT_TEXT, HK_OPT_ANYTIME, 0, 0, NULL, (uint64_t *)hk_opt.stats_file,
	  NULL, NULL },
	{ "stats_interval_ms", HK_OPT_U64, HK_OPT_ANYTIME, 0, 86400000, NULL,
	  &hk_opt.stats_interval_ms, NULL, NULL },
	{ "stats_page", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.stats_page, NULL,
	  hk_statpage_update },
#ifdef HAKMEM_DEBUG_LOG
	{ "log", HK_OPT_LIST, HK_OPT_ANYTIME, 0, 0, log_words, &hk_log_mask, NULL, NULL },
#endif
	/* The heap profiler (prof.h) and huge pages for SuperSlabs. */
	{ "prof", HK_OPT_BOOL, HK_OPT_ANYTIME, 0, 1, NULL, &hk_opt.prof, NULL, hk_prof_update },
	{ "prof_sample", HK_OPT_U64, HK_OPT_ANYTIME, 1, (uint64_t)1 << 30, NULL, &hk_opt.prof_sample,
	  NULL, NULL },
	{ "prof_interval_ms", HK_OPT_U64, HK_OPT_ANYTIME, 0, 86400000, NULL,
	  &hk_opt.prof_interval_ms, NULL, NULL },
	{ "prof_prefix", HK_OPT_TEXT, HK_OPT_ANYTIME, 0, 0, NULL, (uint64_t *)(void *)hk_opt.prof_prefix,
	  NULL, NULL },
	{ "thp", HK_OPT_WORD, HK_OPT_ANYTIME, 0, 2, thp_words, &hk_opt.thp, NULL, NULL },
};

const size_t hk_options_count = sizeof hk_options / sizeof hk_options[0];

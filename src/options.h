/* The tunables, in one table (tunables.c): name, type, bounds, default,
 * when they may change, and what applies a change; read and set here
 * (options.c). Each is set, in increasing precedence, by its built-in
 * default, the configuration file (/etc/hakmem.conf, or the file named by
 * HAKMEM_CONF), the environment (HAKMEM_<NAME>), and hakmem_ctl()
 * ("opt.<name>"). In set-uid/set-gid programs (AT_SECURE) the environment
 * is ignored and only a root-owned file applies.
 *
 * Values are read on slow paths only, with HK_OPT(). */
#ifndef HK_OPTIONS_H
#define HK_OPTIONS_H

#include "common.h"

enum hk_stats_format { HK_STATS_TEXT, HK_STATS_JSON };

/* Room for a text option's value, with its terminating NUL. */
#define HK_OPT_TEXT_SIZE 256

/* Transparent huge pages for SuperSlabs: as the system decides, or
 * madvise(MADV_NOHUGEPAGE) / madvise(MADV_HUGEPAGE) on each. */
enum hk_thp { HK_THP_DEFAULT, HK_THP_NEVER, HK_THP_ALWAYS };

struct hk_options {
	uint64_t superslab_lg;		/* log2 SuperSlab size: 20 or 21 */
	uint64_t superslab_reserve;	/* empty SuperSlabs kept mapped */
	uint64_t trim;			/* release empty SuperSlabs at all */
	uint64_t trim_interval_ms;	/* periodic trim from slow paths; 0 = off */
	uint64_t purge_decay_ms;	/* free slots stay resident this long */
	uint64_t thread_cache;		/* keep a thread's emptied current slabs */
	uint64_t large_cache;		/* bytes of freed large blocks kept for reuse */
	uint64_t large_hugepages;	/* ask for huge pages for large mappings */
	uint64_t large_hold;		/* no large block where the one freed last was */
	uint64_t large_protect;		/* cached large mappings inaccessible */
	uint64_t hardened;		/* every mechanism of hardened.h */
	uint64_t canary;		/* enum hk_canary (hardened.h) */
	uint64_t guard_pages;		/* around large blocks */
	uint64_t zero_on_free;		/* zero freed blocks, check on reuse */
	uint64_t zero_on_free_max;	/* else zero freed blocks up to this size */
	uint64_t zero_alloc;		/* zero blocks handed out */
	uint64_t quarantine;		/* freed small blocks held per thread */
	uint64_t zero_size;		/* malloc(0) in an inaccessible region */
	uint64_t trailer;		/* a trailer word after blocks above 1 KiB */
	uint64_t stats_print;		/* statistics table at exit */
	uint64_t crash_report;		/* report SIGSEGV/SIGBUS, then chain */
	uint64_t fail_mmap_every;	/* testing: every Nth engine mmap fails; 0 = off */
	/* Observation (report.c, statpage.c). */
	uint64_t stats_format;		/* enum hk_stats_format, of every report */
	uint64_t stats_interval_ms;	/* periodic report from slow paths; 0 = off */
	uint64_t stats_page;		/* the page hakmem-stat reads */
	_Alignas(uint64_t) char stats_file[HK_OPT_TEXT_SIZE];	/* "": stderr; %p: the PID */
	/* The heap profiler (prof.h) and huge pages for SuperSlabs. */
	uint64_t prof;			/* sample allocations */
	uint64_t prof_sample;		/* mean bytes between samples */
	uint64_t prof_interval_ms;	/* write a profile this often; 0 = never */
	_Alignas(uint64_t) char prof_prefix[HK_OPT_TEXT_SIZE];	/* profile files: <prefix>.<pid>.<seq>.<kind>.heap */
	uint64_t thp;			/* enum hk_thp */
};

extern struct hk_options hk_opt;

#define HK_OPT(field) __atomic_load_n(&hk_opt.field, __ATOMIC_RELAXED)

/* HK_OPT_TEXT: value points to a char[HK_OPT_TEXT_SIZE] (cast), which is
 * read with hk_option_text only, never with HK_OPT. */
enum hk_opt_type { HK_OPT_BOOL, HK_OPT_U64, HK_OPT_WORD, HK_OPT_LIST, HK_OPT_TEXT };

enum hk_opt_when {
	HK_OPT_ANYTIME,		/* hakmem_ctl may change it at any time */
	HK_OPT_BEFORE_USE,	/* only before the first SuperSlab is mapped */
};

struct hk_option {
	const char *name;	/* "trim_interval_ms": ctl "opt.<name>", env HAKMEM_<NAME> */
	enum hk_opt_type type;
	enum hk_opt_when when;
	uint64_t def;		/* the built-in default; HK_OPT_TEXT: def_text */
	const char *def_text;
	uint64_t min, max;	/* HK_OPT_U64 */
	const char *const *words;	/* HK_OPT_WORD: value = index; HK_OPT_LIST: bit */
	uint64_t *value;	/* HK_OPT_TEXT: its char[HK_OPT_TEXT_SIZE] (cast) */
	const char *alias;	/* extra environment name, or NULL */
	/* Applies a change made with hk_option_set (the owning module's
	 * update function), or NULL; the values read at start-up are applied
	 * by each module's own start-up. */
	void (*changed)(void);
};

/* The table, in tunables.c: above the modules whose functions it names. */
extern const struct hk_option hk_options[];
extern const size_t hk_options_count;

/* Set every option to its default, then read the file and the
 * environment; called once, before the first allocation (hk_opt reads as
 * zero until then). Never allocates. */
void hk_options_init(void);

/* Parse text as a value of o. Returns false if it is not one. */
bool hk_option_parse(const struct hk_option *o, const char *text, size_t len, uint64_t *out);

/* Format o's current value into buf (for ctl's string values and the exit
 * table); returns buf. */
const char *hk_option_format(const struct hk_option *o, char *buf, size_t size);

/* Apply a new value (already validated); returns an errno value (EAGAIN
 * when the option can no longer change). Calls the option's changed. */
int hk_option_set(const struct hk_option *o, uint64_t value);

/* Set or read a text option (len bytes, no NUL among them, shorter than
 * HK_OPT_TEXT_SIZE). Readers never see a value half written. */
void hk_option_set_text(const struct hk_option *o, const char *text, size_t len);
void hk_option_text(const struct hk_option *o, char *buf, size_t size);

/* The option named name, or NULL. */
const struct hk_option *hk_option_find(const char *name);

#endif

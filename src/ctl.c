/* hakmem_ctl(): the name tree over build facts, options, statistics and
 * actions. Reading never takes a lock the allocation fast path takes (the
 * fast paths take none); statistics that need a walk come from the
 * snapshot of the latest "epoch". */
#include "common.h"

#include <errno.h>
#include <string.h>

#include "hakmem.h"
#include "cgroup.h"
#include "init.h"
#include "log.h"
#include "options.h"
#include "pool.h"
#include "os.h"
#include "report.h"
#include "statpage.h"
#include "prof.h"
#include "size_class.h"
#include "stats.h"
#include "thread.h"

enum ctl_type { CTL_U64, CTL_BOOL, CTL_STR, CTL_ACTION, CTL_TEXT };

static const char *const type_names[] = { "u64", "bool", "str", "action", "text" };

/* A resolved name: how to read and write it. */
struct ctl_item {
	enum ctl_type type;
	bool writable;
	uint64_t (*get)(const struct ctl_item *);	/* u64 and bool */
	const char *str;				/* str */
	const struct hk_option *opt;
	unsigned cls;
	int (*act)(void);	/* returns 0 or an errno value */
};

static size_t type_size(enum ctl_type t)
{
	switch (t) {
	case CTL_U64:
		return sizeof(uint64_t);
	case CTL_BOOL:
		return sizeof(bool);
	case CTL_STR:
		return sizeof(const char *);
	default:
		return 0;
	}
}

/* --- Values. ----------------------------------------------------------- */

#define GLOBAL(fn, field) \
	static uint64_t fn(const struct ctl_item *it) \
	{ \
		(void)it; \
		return hk_stats_get(&hk_gstats.field); \
	}
GLOBAL(ss_live, ss_live)
GLOBAL(ss_created, ss_created)
GLOBAL(ss_released, ss_released)
GLOBAL(large_live, large_live)
GLOBAL(large_bytes, large_bytes)
GLOBAL(large_cached, large_cached)

static uint64_t mappings(const struct ctl_item *it)
{
	(void)it;
	return hk_os_mappings();
}

static uint64_t mapped(const struct ctl_item *it)
{
	(void)it;
	return hk_os_mapped_bytes();
}

static uint64_t pool_dirty(const struct ctl_item *it)
{
	(void)it;
	uint64_t dirty, purged;
	hk_pool_counts(&dirty, &purged);
	return dirty;
}

static uint64_t pool_purged(const struct ctl_item *it)
{
	(void)it;
	uint64_t dirty, purged;
	hk_pool_counts(&dirty, &purged);
	return purged;
}

static uint64_t local_frees(const struct ctl_item *it)
{
	(void)it;
	return hk_report_local_frees();
}

static uint64_t remote_frees(const struct ctl_item *it)
{
	(void)it;
	return hk_report_remote_frees();
}

static uint64_t allocated(const struct ctl_item *it)
{
	(void)it;
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	return s.allocated;
}

static uint64_t epoch(const struct ctl_item *it)
{
	(void)it;
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	return s.epoch;
}

static uint64_t nclasses(const struct ctl_item *it)
{
	(void)it;
	return HK_NCLASSES;
}

static uint64_t class_size(const struct ctl_item *it)
{
	return hk_class_size(it->cls);
}

static uint64_t class_blocks(const struct ctl_item *it)
{
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	return s.class_blocks[it->cls];
}

static uint64_t class_slabs(const struct ctl_item *it)
{
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	return s.class_slabs[it->cls];
}

#define SNAPSHOT(fn, field) \
	static uint64_t fn(const struct ctl_item *it) \
	{ \
		(void)it; \
		struct hk_stats_snapshot s; \
		hk_report_snapshot(&s); \
		return s.field; \
	}
SNAPSHOT(resident, resident)
SNAPSHOT(metadata, metadata)
SNAPSHOT(remote_pending, remote_pending)

static uint64_t debug_log(const struct ctl_item *it)
{
	(void)it;
#ifdef HAKMEM_DEBUG_LOG
	return 1;
#else
	return 0;
#endif
}

static uint64_t option_value(const struct ctl_item *it)
{
	return __atomic_load_n(it->opt->value, __ATOMIC_RELAXED);
}

static int trim(void)
{
	hk_trim();
	return 0;
}

static int thread_flush(void)
{
	hk_thread_flush();
	return 0;
}

static uint64_t memory_limit(const struct ctl_item *it)
{
	(void)it;
	return hk_cgroup_limit();
}

static uint64_t prof_samples(const struct ctl_item *it)
{
	(void)it;
	return hk_prof_samples();
}

static uint64_t prof_dropped(const struct ctl_item *it)
{
	(void)it;
	return hk_prof_dropped();
}

/* --- The tree. --------------------------------------------------------- */

struct ctl_entry {
	const char *name;
	enum ctl_type type;
	uint64_t (*get)(const struct ctl_item *);
	const char *str;
	int (*act)(void);
};

static const struct ctl_entry fixed[] = {
	{ "version", CTL_STR, NULL, PACKAGE_VERSION, NULL },
	{ "build.debug_log", CTL_BOOL, debug_log, NULL, NULL },
	{ "build.options", CTL_STR, NULL, HAKMEM_BUILD_OPTIONS, NULL },
	{ "epoch", CTL_U64, epoch, NULL, NULL },
	{ "stats.allocated", CTL_U64, allocated, NULL, NULL },
	{ "stats.mapped", CTL_U64, mapped, NULL, NULL },
	{ "stats.mappings", CTL_U64, mappings, NULL, NULL },
	{ "stats.superslabs.live", CTL_U64, ss_live, NULL, NULL },
	{ "stats.superslabs.created", CTL_U64, ss_created, NULL, NULL },
	{ "stats.superslabs.released", CTL_U64, ss_released, NULL, NULL },
	{ "stats.dirty", CTL_U64, pool_dirty, NULL, NULL },
	{ "stats.purged", CTL_U64, pool_purged, NULL, NULL },
	{ "stats.large.live", CTL_U64, large_live, NULL, NULL },
	{ "stats.large.bytes", CTL_U64, large_bytes, NULL, NULL },
	{ "stats.large.cached", CTL_U64, large_cached, NULL, NULL },
	{ "stats.frees.local", CTL_U64, local_frees, NULL, NULL },
	{ "stats.frees.remote", CTL_U64, remote_frees, NULL, NULL },
	{ "stats.classes.count", CTL_U64, nclasses, NULL, NULL },
	{ "trim", CTL_ACTION, NULL, NULL, trim },
	{ "thread.flush", CTL_ACTION, NULL, NULL, thread_flush },
	{ "ctl.names", CTL_TEXT, NULL, NULL, NULL },
	/* Observation (report.c). */
	{ "stats.resident", CTL_U64, resident, NULL, NULL },
	{ "stats.metadata", CTL_U64, metadata, NULL, NULL },
	{ "stats.remote_pending", CTL_U64, remote_pending, NULL, NULL },
	{ "stats.json", CTL_TEXT, NULL, NULL, NULL },
	/* The heap profiler (prof.h). */
	{ "prof.dump", CTL_ACTION, NULL, NULL, hk_prof_dump },
	{ "prof.samples", CTL_U64, prof_samples, NULL, NULL },
	{ "prof.dropped", CTL_U64, prof_dropped, NULL, NULL },
	/* Container memory limits (cgroup.h). */
	{ "cgroup.memory_limit", CTL_U64, memory_limit, NULL, NULL },
};

#define NFIXED (sizeof fixed / sizeof fixed[0])

static const char *const class_fields[] = { "size", "blocks", "slabs" };
static uint64_t (*const class_getters[])(const struct ctl_item *) = { class_size, class_blocks,
								      class_slabs };

static bool resolve(const char *name, struct ctl_item *it)
{
	memset(it, 0, sizeof *it);
	for (size_t i = 0; i < NFIXED; i++) {
		if (strcmp(name, fixed[i].name) == 0) {
			it->type = fixed[i].type;
			it->get = fixed[i].get;
			it->str = fixed[i].str;
			it->act = fixed[i].act;
			it->writable = fixed[i].get == epoch;
			return true;
		}
	}
	if (strncmp(name, "opt.", 4) == 0) {
		for (size_t i = 0; i < hk_options_count; i++) {
			const struct hk_option *o = &hk_options[i];
			if (strcmp(name + 4, o->name) != 0)
				continue;
			it->opt = o;
			it->writable = true;
			it->get = option_value;
			it->type = o->type == HK_OPT_BOOL ? CTL_BOOL
				   : o->type == HK_OPT_U64 ? CTL_U64
							     : CTL_STR;
			return true;
		}
		return false;
	}
	static const char prefix[] = "stats.classes.";
	if (strncmp(name, prefix, sizeof prefix - 1) == 0) {
		const char *p = name + sizeof prefix - 1;
		unsigned cls = 0, digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 3) {
			cls = cls * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (!digits || *p++ != '.' || cls >= HK_NCLASSES || (digits > 1 && name[sizeof prefix - 1] == '0'))
			return false;
		for (unsigned f = 0; f < 3; f++) {
			if (strcmp(p, class_fields[f]) == 0) {
				it->type = CTL_U64;
				it->get = class_getters[f];
				it->cls = cls;
				return true;
			}
		}
	}
	return false;
}

/* --- ctl.names: one line per name, "name<TAB>type<TAB>rw|ro". ----------- */

struct text {
	char *buf;
	size_t size, len;
};

static void text_line(struct text *t, const char *name, const char *suffix, enum ctl_type type,
		      bool writable)
{
	char line[96];
	size_t n = hk_fmt(line, sizeof line, "%s%s\t%s\t%s\n", name, suffix, type_names[type],
			  writable ? "rw" : "ro");
	if (t->buf && t->len + n < t->size)
		memcpy(t->buf + t->len, line, n);
	t->len += n;
}

static size_t names_text(char *buf, size_t size)
{
	struct text t = { buf, size, 0 };
	struct ctl_item it;
	for (size_t i = 0; i < NFIXED; i++) {
		resolve(fixed[i].name, &it);
		text_line(&t, fixed[i].name, "", it.type, it.writable);
	}
	for (size_t i = 0; i < hk_options_count; i++) {
		char name[64];
		hk_fmt(name, sizeof name, "opt.%s", hk_options[i].name);
		resolve(name, &it);
		text_line(&t, name, "", it.type, true);
	}
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		for (unsigned f = 0; f < 3; f++) {
			char name[64];
			hk_fmt(name, sizeof name, "stats.classes.%u.%s", c, class_fields[f]);
			text_line(&t, name, "", CTL_U64, false);
		}
	}
	if (t.buf && t.len < t.size)
		t.buf[t.len] = '\0';
	return t.len + 1;
}

/* --- Reading and writing. ----------------------------------------------- */

static const char *option_string(const struct hk_option *o)
{
	static __thread char buf[HK_OPT_TEXT_SIZE] __attribute__((tls_model("initial-exec")));
	if (o->type == HK_OPT_WORD)
		return o->words[__atomic_load_n(o->value, __ATOMIC_RELAXED)];
	return hk_option_format(o, buf, sizeof buf);
}

static void read_value(const struct ctl_item *it, void *out)
{
	if (it->type == CTL_U64) {
		uint64_t v = it->get(it);
		memcpy(out, &v, sizeof v);
	} else if (it->type == CTL_BOOL) {
		bool v = it->get(it) != 0;
		memcpy(out, &v, sizeof v);
	} else {
		const char *s = it->opt ? option_string(it->opt) : it->str;
		memcpy(out, &s, sizeof s);
	}
}

static int write_value(const struct ctl_item *it, const void *in)
{
	if (!it->opt) { /* epoch: also written to the statistics page */
		hk_report_publish(NULL);
		return 0;
	}
	uint64_t v;
	if (it->type == CTL_U64) {
		memcpy(&v, in, sizeof v);
		if (v < it->opt->min || v > it->opt->max)
			return EINVAL;
	} else if (it->type == CTL_BOOL) {
		bool b;
		memcpy(&b, in, sizeof b);
		v = b;
	} else {
		const char *s;
		memcpy(&s, in, sizeof s);
		if (!s || !hk_option_parse(it->opt, s, strlen(s), &v))
			return EINVAL;
		if (it->opt->type == HK_OPT_TEXT) {
			hk_option_set_text(it->opt, s, strlen(s));
			return 0;
		}
	}
	HK_DEBUG(HK_LOG_CTL, "opt.%s set to %llu", it->opt->name, (unsigned long long)v);
	return hk_option_set(it->opt, v);
}

HK_EXPORT int hakmem_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp,
			 size_t newlen)
{
	struct ctl_item it;
	if (!name)
		return EINVAL;
	/* The options hold their defaults from start-up on. */
	hk_global_init();
	if (!resolve(name, &it))
		return ENOENT;

	if (it.type == CTL_ACTION) {
		if (oldp || newp || newlen)
			return EINVAL;
		HK_DEBUG(HK_LOG_CTL, "action %s", name);
		return it.act();
	}
	if (it.type == CTL_TEXT) {
		if (newp || newlen)
			return EPERM;
		if (!oldlenp)
			return EINVAL;
		/* stats.json is formatted once per call: its figures move, so
		 * the length it needs may grow between two calls. */
		if (strcmp(name, "stats.json") == 0) {
			size_t need = hk_report_json(oldp, oldp ? *oldlenp : 0) + 1;
			int err = oldp && *oldlenp < need ? EINVAL : 0;
			*oldlenp = need;
			return err;
		}
		size_t need = names_text(NULL, 0);
		if (oldp && *oldlenp < need) {
			*oldlenp = need;
			return EINVAL;
		}
		if (oldp)
			names_text(oldp, *oldlenp);
		*oldlenp = need;
		return 0;
	}

	size_t size = type_size(it.type);
	if ((newp || newlen) && !it.writable)
		return EPERM;
	if ((newp || newlen) && (!newp || newlen != size))
		return EINVAL;
	if (oldp && (!oldlenp || *oldlenp != size))
		return EINVAL;

	/* Read first, so that a read-and-write returns the old value. */
	char old[sizeof(uint64_t)];
	if (oldp && it.get != epoch)
		read_value(&it, old);
	if (newp) {
		int err = write_value(&it, newp);
		if (err)
			return err;
	}
	if (oldp) {
		if (it.get == epoch)
			read_value(&it, old);
		memcpy(oldp, old, size);
	} else if (oldlenp) {
		*oldlenp = size;
	}
	return 0;
}

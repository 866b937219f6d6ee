/* The hakmem_ctl name tree, driven by its own listing (ctl.names): every
 * listed name is read with its listed type; every writable one is written
 * back with its current value and with a new one, and a read-and-write
 * returns the old value; every error code is provoked; statistics move as
 * they should; the trim action lowers the mapped bytes. */
#include "../lib/check.h"

#include <stdbool.h>

#include "hakmem.h"

#define MiB ((uint64_t)1 << 20)

struct name {
	char name[64], type[8];
	bool rw;
};

static struct name names[400];
static size_t nnames;

static void load_names(void)
{
	size_t len = 0;
	int rc = hakmem_ctl("ctl.names", NULL, &len, NULL, 0);
	CHECK(rc == 0 && len > 1, "ctl.names reports its size (rc %d, %zu bytes)", rc, len);
	char *text = malloc(len);
	size_t small = len - 1;
	rc = hakmem_ctl("ctl.names", text, &small, NULL, 0);
	CHECK(rc == EINVAL && small == len, "ctl.names with a short buffer: EINVAL and the size needed");
	rc = hakmem_ctl("ctl.names", text, &len, NULL, 0);
	CHECK(rc == 0 && text[len - 1] == '\0', "ctl.names reads (rc %d)", rc);
	for (char *line = text; *line && nnames < sizeof names / sizeof names[0];) {
		char *nl = strchr(line, '\n');
		*nl = '\0';
		struct name *n = &names[nnames++];
		char rw[4];
		CHECK(sscanf(line, "%63[^\t]\t%7[^\t]\t%3s", n->name, n->type, rw) == 3 &&
			      (!strcmp(rw, "rw") || !strcmp(rw, "ro")),
		      "ctl.names line is 'name type rw|ro' (%s)", line);
		n->rw = !strcmp(rw, "rw");
		line = nl + 1;
	}
	free(text);
	CHECK(nnames > 100, "ctl.names lists the tree (%zu names)", nnames);
}

static const struct name *find(const char *name)
{
	for (size_t i = 0; i < nnames; i++)
		if (!strcmp(names[i].name, name))
			return &names[i];
	return NULL;
}

static size_t type_size(const char *type)
{
	if (!strcmp(type, "u64"))
		return sizeof(uint64_t);
	if (!strcmp(type, "bool"))
		return sizeof(bool);
	if (!strcmp(type, "str"))
		return sizeof(const char *);
	return 0;
}

static void read_every_name(void)
{
	size_t bad = 0, read = 0;
	for (size_t i = 0; i < nnames; i++) {
		const struct name *n = &names[i];
		size_t size = type_size(n->type);
		if (!size)
			continue;
		union { uint64_t u; bool b; const char *s; } v;
		size_t len = size;
		int rc = hakmem_ctl(n->name, &v, &len, NULL, 0);
		if (rc != 0 || len != size || (!strcmp(n->type, "str") && !v.s)) {
			bad++;
			hk_note("cannot read %s (rc %d)", n->name, rc);
		}
		len = size + 1;
		if (hakmem_ctl(n->name, &v, &len, NULL, 0) != EINVAL)
			bad++;
		read++;
	}
	CHECK(bad == 0, "every listed name reads with its type's size and rejects another (%zu names)", read);
	const struct name *a = find("trim"), *t = find("thread.flush");
	CHECK(a && !strcmp(a->type, "action") && t && !strcmp(t->type, "action"),
	      "trim and thread.flush are listed as actions");
	static const char *const required[] = {
		"version", "build.debug_log", "build.options", "epoch", "stats.allocated",
		"stats.mapped", "stats.mappings", "stats.superslabs.live",
		"stats.superslabs.created", "stats.superslabs.released", "stats.large.live",
		"stats.dirty", "stats.purged",
		"stats.frees.local", "stats.frees.remote", "stats.classes.0.blocks",
		"opt.superslab_lg", "opt.superslab_reserve", "opt.trim", "opt.trim_interval_ms",
		"opt.thread_cache", "opt.misuse", "opt.stats_print", "opt.crash_report",
		"opt.hardened", "opt.large_cache", "opt.large_hugepages", "opt.fail_mmap_every",
	};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		CHECK(find(required[i]), "%s is listed", required[i]);
}

/* The options that only change before the first allocation. */
static bool fixed(const char *name)
{
	static const char *const names[] = {
		"opt.superslab_lg", "opt.hardened", "opt.canary", "opt.guard_pages",
		"opt.zero_on_free", "opt.zero_alloc", "opt.quarantine", "opt.zero_size",
		"opt.large_hold", "opt.large_protect", "opt.zero_on_free_max", "opt.trailer",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

/* Write each writable u64/bool option: same value, a new one (read back,
 * and a read-and-write returns the old one), then restore. */
static void round_trip(void)
{
	for (size_t i = 0; i < nnames; i++) {
		const struct name *n = &names[i];
		if (!n->rw || strncmp(n->name, "opt.", 4))
			continue;
		if (fixed(n->name)) {
			/* Fixed once memory is in use: checked in errors(). */
			continue;
		}
		if (!strcmp(n->type, "u64")) {
			uint64_t cur, old, now, next;
			size_t len = sizeof cur;
			hakmem_ctl(n->name, &cur, &len, NULL, 0);
			next = cur ? cur - 1 : cur + 1;
			int rc = hakmem_ctl(n->name, &old, &len, &next, sizeof next);
			hakmem_ctl(n->name, &now, &len, NULL, 0);
			CHECK(rc == 0 && old == cur && now == next,
			      "%s: write %llu returns the old %llu, reads back (rc %d, now %llu)",
			      n->name, (unsigned long long)next, (unsigned long long)cur, rc,
			      (unsigned long long)now);
			CHECK(hakmem_ctl(n->name, NULL, NULL, &cur, sizeof cur) == 0, "%s: restored", n->name);
		} else if (!strcmp(n->type, "bool")) {
			bool cur, old, now, next;
			size_t len = sizeof cur;
			hakmem_ctl(n->name, &cur, &len, NULL, 0);
			next = !cur;
			int rc = hakmem_ctl(n->name, &old, &len, &next, sizeof next);
			hakmem_ctl(n->name, &now, &len, NULL, 0);
			CHECK(rc == 0 && old == cur && now == next, "%s: toggles and returns the old value (rc %d)",
			      n->name, rc);
			CHECK(hakmem_ctl(n->name, NULL, NULL, &cur, sizeof cur) == 0, "%s: restored", n->name);
		}
	}
	const char *cur, *old, *now, *report = "report";
	size_t len = sizeof cur;
	hakmem_ctl("opt.misuse", &cur, &len, NULL, 0);
	int rc = hakmem_ctl("opt.misuse", &old, &len, &report, sizeof report);
	hakmem_ctl("opt.misuse", &now, &len, NULL, 0);
	CHECK(rc == 0 && !strcmp(old, "abort") && !strcmp(now, "report"),
	      "opt.misuse: abort -> report, returning the old word (rc %d, %s -> %s)", rc, old, now);
	const char *abort_word = "abort";
	hakmem_ctl("opt.misuse", NULL, NULL, &abort_word, sizeof abort_word);
}

static void errors(void)
{
	uint64_t v = 0, big = 1u << 30;
	size_t len = sizeof v;
	errno = 1234;
	CHECK(hakmem_ctl("opt.no_such", &v, &len, NULL, 0) == ENOENT && errno == 1234,
	      "unknown name: ENOENT, errno untouched");
	CHECK(hakmem_ctl("stats.classes.48.size", &v, &len, NULL, 0) == ENOENT &&
		      hakmem_ctl("stats.classes.01.size", &v, &len, NULL, 0) == ENOENT &&
		      hakmem_ctl("stats.classes.3.nothing", &v, &len, NULL, 0) == ENOENT,
	      "class names outside the table: ENOENT");
	CHECK(hakmem_ctl("stats.mapped", NULL, NULL, &v, sizeof v) == EPERM,
	      "writing a statistic: EPERM");
	CHECK(hakmem_ctl("version", NULL, NULL, &v, sizeof(const char *)) == EPERM,
	      "writing version: EPERM");
	CHECK(hakmem_ctl("opt.trim_interval_ms", NULL, NULL, &v, 4) == EINVAL,
	      "writing with the wrong length: EINVAL");
	CHECK(hakmem_ctl("opt.trim_interval_ms", NULL, NULL, &big, sizeof big) == EINVAL,
	      "writing a value out of range: EINVAL");
	const char *bad = "sometimes";
	CHECK(hakmem_ctl("opt.misuse", NULL, NULL, &bad, sizeof bad) == EINVAL,
	      "writing an unknown word: EINVAL");
	uint64_t lg = 20;
	free(malloc(100));
	CHECK(hakmem_ctl("opt.superslab_lg", NULL, NULL, &lg, sizeof lg) == EAGAIN,
	      "changing the SuperSlab size after the first allocation: EAGAIN");
	bool hard = true;
	CHECK(hakmem_ctl("opt.hardened", NULL, NULL, &hard, sizeof hard) == EAGAIN,
	      "turning on the hardened mode after the first allocation: EAGAIN");
	CHECK(hakmem_ctl("trim", &v, &len, NULL, 0) == EINVAL, "an action with arguments: EINVAL");
	CHECK(hakmem_ctl(NULL, &v, &len, NULL, 0) == EINVAL, "a NULL name: EINVAL");
}

static uint64_t get(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	hakmem_ctl(name, &v, &len, NULL, 0);
	return v;
}

static void statistics_and_trim(void)
{
	/* Keep empty SuperSlabs (reserve 16) so that trim has work to do. */
	uint64_t reserve = 16, old_reserve;
	size_t len = sizeof reserve;
	hakmem_ctl("opt.superslab_reserve", &old_reserve, &len, &reserve, sizeof reserve);

	uint64_t e0 = get("epoch"), e1;
	hakmem_ctl("epoch", &e1, &len, &e0, sizeof e0);
	CHECK(e1 == e0 + 1, "writing epoch takes a new snapshot (%llu -> %llu)",
	      (unsigned long long)e0, (unsigned long long)e1);
	uint64_t alloc0 = get("stats.allocated"), blocks0 = get("stats.classes.11.blocks");

	enum { N = 20000 };
	static void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = malloc(256);	/* class 11 */
	hakmem_ctl("epoch", NULL, NULL, &e0, sizeof e0);
	uint64_t alloc1 = get("stats.allocated"), blocks1 = get("stats.classes.11.blocks");
	CHECK(get("stats.classes.11.size") == 256, "class 11 holds 256-byte blocks");
	CHECK(blocks1 - blocks0 == N, "stats.classes.11.blocks counts the new blocks (%llu)",
	      (unsigned long long)(blocks1 - blocks0));
	CHECK(alloc1 - alloc0 == (uint64_t)N * 256, "stats.allocated grew by their bytes (%llu)",
	      (unsigned long long)(alloc1 - alloc0));
	uint64_t local0 = get("stats.frees.local");
	for (int i = 0; i < N; i++)
		free(p[i]);
	CHECK(get("stats.frees.local") - local0 >= N, "stats.frees.local counts the frees");

	uint64_t mapped = get("stats.mapped"), live = get("stats.superslabs.live");
	int rc = hakmem_ctl("trim", NULL, NULL, NULL, 0);
	uint64_t after = get("stats.mapped");
	hk_note("trim: mapped %llu -> %llu bytes, SuperSlabs %llu -> %llu", (unsigned long long)mapped,
		(unsigned long long)after, (unsigned long long)live,
		(unsigned long long)get("stats.superslabs.live"));
	CHECK(rc == 0 && after + 2 * MiB <= mapped, "trim lowers the mapped bytes");
	hakmem_ctl("opt.superslab_reserve", NULL, NULL, &old_reserve, sizeof old_reserve);

	const char *v;
	len = sizeof v;
	hakmem_ctl("version", &v, &len, NULL, 0);
	char want[32];
	snprintf(want, sizeof want, "%d.%d.%d", HAKMEM_VERSION_MAJOR, HAKMEM_VERSION_MINOR,
		 HAKMEM_VERSION_PATCH);
	CHECK(!strcmp(v, want), "version is the header's version (%s)", v);
}

int main(void)
{
	load_names();
	read_every_name();
	round_trip();
	errors();
	statistics_and_trim();
	return hk_done();
}

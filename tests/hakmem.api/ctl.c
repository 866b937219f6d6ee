/* hakmem_ctl(): error returns (ENOENT for unknown names, EINVAL for wrong
 * lengths, EPERM for writing a read-only name) with errno left alone; the
 * version string; every documented stat is readable; and the stats move as
 * documented: large allocations, mappings, SuperSlab accounting and
 * cross-thread frees. */
#include "../lib/check.h"

#include <pthread.h>

#include "hakmem.h"

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)

static const char *const stat_names[] = {
	"stats.superslabs.live", "stats.superslabs.created",
	"stats.superslabs.released", "stats.mappings", "stats.mapped",
	"stats.large.live", "stats.frees.remote",
};
#define NSTATS (sizeof stat_names / sizeof stat_names[0])

static void check_errors(void)
{
	static const char *const unknown[] = {
		"", "nonexistent", "stats", "stats.", "stats.superslabs",
		"stats.large", "stats.large.live.x", "Stats.mapped",
		"stats.mapped ", "version.x",
	};
	uint64_t v = 77;
	size_t len;
	int rc;

	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		len = sizeof v;
		errno = 4321;
		rc = hakmem_ctl(unknown[i], &v, &len, NULL, 0);
		CHECK(rc == ENOENT && errno == 4321,
		      "hakmem_ctl(\"%s\") returns ENOENT, errno untouched (rc %d)",
		      unknown[i], rc);
	}
	CHECK(v == 77, "failed lookups do not write *oldp");

	static const size_t badlen[] = { 0, 1, 4, 7, 9, 16 };
	for (size_t n = 0; n < NSTATS; n++)
		for (size_t i = 0; i < sizeof badlen / sizeof badlen[0]; i++) {
			uint64_t buf[4] = { 1, 2, 3, 4 };
			len = badlen[i];
			errno = 4321;
			rc = hakmem_ctl(stat_names[n], buf, &len, NULL, 0);
			CHECK(rc == EINVAL && errno == 4321,
			      "hakmem_ctl(\"%s\") with *oldlenp = %zu returns "
			      "EINVAL (rc %d)", stat_names[n], badlen[i], rc);
		}

	/* version has pointer size */
	const char *s = NULL;
	len = sizeof(uint64_t) * 2;
	rc = hakmem_ctl("version", &s, &len, NULL, 0);
	CHECK(rc == EINVAL, "hakmem_ctl(\"version\") with *oldlenp = 16 -> "
			    "EINVAL (rc %d)", rc);

	/* Stats are read-only: writing one gives EPERM and changes nothing. */
	uint64_t before = hk_stat_req("stats.large.live");
	uint64_t newv = 12345;
	errno = 4321;
	rc = hakmem_ctl("stats.large.live", NULL, NULL, &newv, sizeof newv);
	CHECK(rc == EPERM && errno == 4321,
	      "writing stats.large.live returns EPERM (rc %d)", rc);
	CHECK(hk_stat_req("stats.large.live") == before,
	      "stats.large.live unchanged by the refused write");
	const char *fake = "9.9.9";
	rc = hakmem_ctl("version", NULL, NULL, &fake, sizeof fake);
	CHECK(rc == EPERM, "writing version returns EPERM (rc %d)", rc);
}

static void check_version(void)
{
	const char *s = NULL;
	size_t len = sizeof s;
	char want[64];
	int rc = hakmem_ctl("version", &s, &len, NULL, 0);

	snprintf(want, sizeof want, "%d.%d.%d", HAKMEM_VERSION_MAJOR,
		 HAKMEM_VERSION_MINOR, HAKMEM_VERSION_PATCH);
	CHECK(rc == 0 && len == sizeof s && s != NULL,
	      "hakmem_ctl(\"version\") readable (rc %d)", rc);
	if (rc == 0 && s) {
		hk_note("version: \"%s\"", s);
		CHECK(strstr(s, want) != NULL,
		      "version string contains HAKMEM_VERSION_MAJOR.MINOR.PATCH "
		      "(\"%s\", \"%s\")", s, want);
	}
}

static void check_readable(void)
{
	for (size_t i = 0; i < NSTATS; i++) {
		uint64_t v = 0xdeadbeefdeadbeefull;
		size_t len = sizeof v;
		int rc = hakmem_ctl(stat_names[i], &v, &len, NULL, 0);
		CHECK(rc == 0 && len == sizeof v && v != 0xdeadbeefdeadbeefull,
		      "hakmem_ctl(\"%s\") readable (%" PRIu64 ")",
		      stat_names[i], v);
	}
}

static void check_superslab_accounting(void)
{
	/* Make sure at least one SuperSlab exists. */
	void *keep[100];
	for (int i = 0; i < 100; i++)
		keep[i] = hk_launder(malloc(64));
	uint64_t live = hk_stat_req("stats.superslabs.live");
	uint64_t created = hk_stat_req("stats.superslabs.created");
	uint64_t released = hk_stat_req("stats.superslabs.released");
	uint64_t mapped = hk_stat_req("stats.mapped");
	uint64_t mappings = hk_stat_req("stats.mappings");
	long maps = hk_maps_count();

	CHECK(live >= 1, "a small malloc gives stats.superslabs.live >= 1 (%"
			 PRIu64 ")", live);
	CHECK(created - released == live,
	      "superslabs created - released == live (%" PRIu64 " - %" PRIu64
	      " vs %" PRIu64 ")", created, released, live);
	CHECK(mapped >= live * 2 * MiB,
	      "stats.mapped >= live SuperSlabs x 2 MiB (%" PRIu64 " >= %"
	      PRIu64 ")", mapped, live * 2 * MiB);
	CHECK(mappings >= 1 && (long)mappings <= maps,
	      "1 <= stats.mappings <= lines of /proc/self/maps (%" PRIu64
	      ", %ld)", mappings, maps);
	for (int i = 0; i < 100; i++)
		free(keep[i]);
}

static void check_large(void)
{
	enum { NL = 8 };
	void *p[NL];
	uint64_t live0 = hk_stat_req("stats.large.live");
	uint64_t mappings0 = hk_stat_req("stats.mappings");
	uint64_t mapped0 = hk_stat_req("stats.mapped");

	void *one = hk_launder(malloc(200 * KiB));
	uint64_t live1 = hk_stat_req("stats.large.live");
	uint64_t mappings1 = hk_stat_req("stats.mappings");
	uint64_t mapped1 = hk_stat_req("stats.mapped");
	CHECK(one && live1 == live0 + 1,
	      "stats.large.live goes up by 1 after malloc(200K) (%" PRIu64
	      " -> %" PRIu64 ")", live0, live1);
	CHECK(mappings1 == mappings0 + 1,
	      "stats.mappings goes up by 1 after malloc(200K) (%" PRIu64
	      " -> %" PRIu64 ")", mappings0, mappings1);
	CHECK(mapped1 >= mapped0 + 200 * KiB,
	      "stats.mapped grows by >= 200K (%" PRIu64 " -> %" PRIu64 ")",
	      mapped0, mapped1);
	free(one);
	uint64_t live2 = hk_stat_req("stats.large.live");
	CHECK(live2 == live0,
	      "stats.large.live back down after free (%" PRIu64 " -> %" PRIu64
	      ")", live0, live2);
	CHECK(hk_stat_req("stats.mappings") == mappings0,
	      "stats.mappings back after free of the large block");
	CHECK(hk_stat_req("stats.mapped") == mapped0,
	      "stats.mapped back after free of the large block");

	/* Several, of various large sizes, freed in a different order. */
	for (int i = 0; i < NL; i++)
		p[i] = hk_launder(
			malloc(128 * KiB + 1 + (size_t)i * 333333));
	uint64_t live3 = hk_stat_req("stats.large.live");
	CHECK(live3 == live0 + NL,
	      "stats.large.live up by %d after %d large mallocs (%" PRIu64
	      " -> %" PRIu64 ")", NL, NL, live0, live3);
	for (int i = 0; i < NL; i += 2)
		free(p[i]);
	for (int i = 1; i < NL; i += 2)
		free(p[i]);
	CHECK(hk_stat_req("stats.large.live") == live0,
	      "stats.large.live back after freeing them");

	/* 128 KiB exactly is small (from SuperSlabs), not a large block. */
	void *edge = hk_launder(malloc(128 * KiB));
	CHECK(hk_stat_req("stats.large.live") == live0,
	      "malloc(128 KiB) is not a large allocation");
	free(edge);

	/* Large calloc / aligned / realloc-to-large count too. */
	void *c = hk_launder(calloc(1, 1 * MiB));
	void *a = hk_launder(aligned_alloc(64 * KiB, 512 * KiB));
	void *r = hk_launder(realloc(malloc(100), 700 * KiB));
	uint64_t live4 = hk_stat_req("stats.large.live");
	CHECK(live4 == live0 + 3,
	      "large calloc/aligned_alloc/realloc count in stats.large.live "
	      "(%" PRIu64 " -> %" PRIu64 ")", live0, live4);
	free(c);
	free(a);
	free(r);
	CHECK(hk_stat_req("stats.large.live") == live0,
	      "stats.large.live back after freeing those three");
}

struct remote {
	void *blk[256];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stage;
};

static void *owner_thread(void *arg)
{
	struct remote *rm = arg;
	for (int i = 0; i < 256; i++)
		rm->blk[i] = hk_launder(malloc(16 + (size_t)i * 8));
	pthread_mutex_lock(&rm->mu);
	rm->stage = 1;
	pthread_cond_broadcast(&rm->cv);
	while (rm->stage != 2)	/* stay alive while main frees */
		pthread_cond_wait(&rm->cv, &rm->mu);
	pthread_mutex_unlock(&rm->mu);
	return NULL;
}

static void check_remote_frees(void)
{
	struct remote rm = { .mu = PTHREAD_MUTEX_INITIALIZER,
			     .cv = PTHREAD_COND_INITIALIZER };
	pthread_t t;
	uint64_t before = hk_stat_req("stats.frees.remote");

	if (pthread_create(&t, NULL, owner_thread, &rm) != 0) {
		FAILED("pthread_create");
		return;
	}
	pthread_mutex_lock(&rm.mu);
	while (rm.stage != 1)
		pthread_cond_wait(&rm.cv, &rm.mu);
	pthread_mutex_unlock(&rm.mu);
	for (int i = 0; i < 256; i++)
		free(rm.blk[i]);
	uint64_t after = hk_stat_req("stats.frees.remote");
	pthread_mutex_lock(&rm.mu);
	rm.stage = 2;
	pthread_cond_broadcast(&rm.cv);
	pthread_mutex_unlock(&rm.mu);
	pthread_join(t, NULL);
	hk_note("stats.frees.remote %" PRIu64 " -> %" PRIu64, before, after);
	CHECK(after > before,
	      "freeing another thread's blocks increments stats.frees.remote "
	      "(%" PRIu64 " -> %" PRIu64 ")", before, after);
	CHECK(after - before <= 256,
	      "stats.frees.remote grew by at most the 256 remote frees (%"
	      PRIu64 ")", after - before);
}

/* hakmem_ctl itself must not allocate visibly or disturb errno. */
static void check_errno_untouched(void)
{
	uint64_t v;
	size_t len = sizeof v;
	errno = 9876;
	int rc = hakmem_ctl("stats.mapped", &v, &len, NULL, 0);
	CHECK(rc == 0 && errno == 9876, "successful hakmem_ctl keeps errno");
}

int main(void)
{
	/* The mapping checks below are about unmapping on free: no cache of
	 * freed large blocks (hakmem.api/large_cache tests the cache). */
	uint64_t off = 0;
	hakmem_ctl("opt.large_cache", NULL, NULL, &off, sizeof off);
	check_errors();
	check_version();
	check_readable();
	check_superslab_accounting();
	check_large();
	check_remote_frees();
	check_errno_untouched();
	return hk_done();
}

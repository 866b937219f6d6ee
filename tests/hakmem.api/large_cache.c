/* Freed large blocks are kept for reuse within a budget: churning large
 * blocks stops mapping new memory, a second free of a cached block is
 * still caught, calloc from the cache is zeroed, trim unmaps the cache,
 * cached blocks decay after opt.purge_decay_ms and opt.large_cache = 0
 * turns it off. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <sys/wait.h>

#include "hakmem.h"

#define MiB ((size_t)1 << 20)

static uint64_t get(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	hakmem_ctl(name, &v, &len, NULL, 0);
	return v;
}

static void double_free(void *p)
{
	void *first = hk_launder(p);
	free(first);
	free(hk_launder(p));
}

int main(void)
{
	free(hk_launder(malloc(1)));

	/* Churn: the same sizes again and again. */
	void *keep = malloc(20 * MiB);	/* large bytes in use: a budget */
	uint64_t warm = 0, peak = 0;
	for (int round = 0; round < 200; round++) {
		void *p[4];
		for (int i = 0; i < 4; i++) {
			p[i] = malloc((size_t)(i + 1) * 600 * 1024);
			memset(p[i], round, 4096);
		}
		uint64_t m = get("stats.mapped");
		if (round < 10)
			warm = m > warm ? m : warm;
		else
			peak = m > peak ? m : peak;
		for (int i = 0; i < 4; i++)
			free(p[i]);
	}
	CHECK(peak <= warm, "churning large blocks reuses cached mappings (peak %llu KiB after 10 rounds, %llu KiB after 200)",
	      (unsigned long long)(warm >> 10), (unsigned long long)(peak >> 10));
	CHECK(get("stats.large.cached") > 0, "freed large blocks are in the cache (%llu bytes)",
	      (unsigned long long)get("stats.large.cached"));

	/* calloc from the cache is zeroed. */
	unsigned char *d = malloc(2 * MiB);
	memset(d, 0xAB, 2 * MiB);
	free(d);
	unsigned char *z = calloc(1, 2 * MiB);
	CHECK(z && hk_all_zero(z, 2 * MiB), "calloc of a reused large block is zeroed");
	free(z);

	/* ... also when the cached block is larger, a little smaller (grown
	 * where it is) or much larger (cut) than the request. */
	static const size_t sizes[][2] = {
		{ 1 * MiB, 1 * MiB - 4096 }, { 1 * MiB, 1 * MiB + 100 * 1024 },
		{ 1 * MiB, 1 * MiB + 300 * 1024 }, { 4 * MiB, 1 * MiB },
		{ 300 * 1024, 200 * 1024 }, { 200 * 1024, 600 * 1024 },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t was = sizes[i][0], now = sizes[i][1];
		unsigned char *q = malloc(was);
		memset(q, 0xCD, was);
		free(q);
		q = calloc(now / 8, 8);
		CHECK(q && hk_all_zero(q, now / 8 * 8),
		      "calloc(%zu) after freeing a dirty %zu-byte block is zeroed", now, was);
		free(q);
	}

	/* A second free of a block in the cache is caught. */
	hk_expect_abort("double free of a cached large block", double_free, malloc(3 * MiB), "free()");

	/* trim empties the cache. */
	uint64_t before = get("stats.mapped");
	hakmem_ctl("trim", NULL, NULL, NULL, 0);
	CHECK(get("stats.large.cached") == 0 && get("stats.mapped") < before,
	      "trim unmaps the cached blocks");

	/* The cache keeps more than the large bytes in use (keep, 20 MiB),
	 * for a while: blocks freed together are there for the next ones. */
	void *six[6];
	for (int i = 0; i < 6; i++)
		six[i] = hk_launder(malloc(5 * MiB));
	for (int i = 0; i < 6; i++)
		free(six[i]);
	CHECK(get("stats.large.cached") >= 30 * MiB,
	      "six freed 5 MiB blocks are all cached (%llu KiB)",
	      (unsigned long long)(get("stats.large.cached") >> 10));

	/* ... and unmaps them once they have stayed there for the decay
	 * time, at the next large free. */
	uint64_t decay = 20, decay_was = 0;
	size_t len = sizeof decay_was;
	hakmem_ctl("opt.purge_decay_ms", &decay_was, &len, &decay, sizeof decay);
	hk_sleep_ms(60);
	free(hk_launder(malloc(200 * 1024)));
	CHECK(get("stats.large.cached") < 1 * MiB,
	      "cached blocks decay after opt.purge_decay_ms (%llu KiB left)",
	      (unsigned long long)(get("stats.large.cached") >> 10));
	hakmem_ctl("opt.purge_decay_ms", NULL, NULL, &decay_was, sizeof decay_was);

	/* Turned off: a freed large block is unmapped at once. */
	uint64_t off = 0;
	hakmem_ctl("opt.large_cache", NULL, NULL, &off, sizeof off);
	void *p = hk_launder(malloc(5 * MiB));
	uint64_t with = get("stats.mapped");
	free(p);
	CHECK(get("stats.mapped") + 5 * MiB <= with && get("stats.large.cached") == 0,
	      "opt.large_cache = 0: freed large blocks go back at once");
	free(keep);
	return hk_done();
}

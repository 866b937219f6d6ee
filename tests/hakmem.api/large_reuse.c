/* Large blocks reuse cached mappings: a freed mapping serves a smaller
 * request and keeps its rest cached (split), a growing block takes the
 * cached mapping right after it (join) or is copied into one elsewhere,
 * neighbours in the cache become one again, and through all of it the
 * contents survive and the count of mappings and mapped bytes stays
 * exact: after everything is freed and the cache trimmed, stats.mappings
 * and stats.mapped are back where they started.
 *
 * Checked with many vectors doubling side by side (as a program growing
 * buffers does), each filled with a pattern that is verified at every
 * step, and with chains that grow from one cached mapping: these must
 * fault in almost no new pages. With large_hold (the default) the block
 * just freed is not handed out again, but its mapping is: an 8 MiB block
 * freed and allocated again, over and over, faults in as few. */
#include "../lib/check.h"

#include <sys/resource.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static long minflt(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* large_hold: malloc(n) right after a free of the same size does not
 * return the block just freed. */
static void not_again(size_t n, const char *what)
{
	char *p = malloc(n);
	uintptr_t freed = (uintptr_t)p;
	free(hk_launder(p));
	p = hk_launder(malloc(n));
	CHECK(p && (uintptr_t)p != freed, "malloc(%s) does not return the block just freed "
	      "(%#" PRIxPTR " -> %p)", what, freed, (void *)p);
	free(p);
}

static void trim(void)
{
	CHECK(hk_ctl()("trim", NULL, NULL, NULL, 0) == 0, "trim");
}

int main(void)
{
	free(hk_launder(malloc(1)));
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	trim();
	uint64_t maps0 = hk_stat_req("stats.mappings"), mapped0 = hk_stat_req("stats.mapped");

	/* 1. Chains from one cached mapping: 256 KiB doubling to 8 MiB. */
	char *big = malloc(8 * MiB + 64 * KiB);
	if (!CHECK(big != NULL, "malloc(8 MiB)"))
		return hk_done();
	memset(big, 1, 8 * MiB);
	free(big);
	long f0 = minflt();
	bool ok = true;
	for (int chain = 0; chain < 20 && ok; chain++) {
		size_t n = 256 * KiB;
		char *p = malloc(n);
		ok = p != NULL;
		uint64_t seed = 0x5eed0000u + (uint64_t)chain;
		if (ok)
			hk_fill_seed(p, n, seed);
		while (ok && n < 8 * MiB) {
			char *q = realloc(p, 2 * n);
			ok = q && hk_verify_seed(q, n, seed) < 0;
			if (!q)
				break;
			p = q;
			n *= 2;
			hk_fill_seed(p, n, seed);
		}
		free(p);
	}
	long faults = minflt() - f0;
	CHECK(ok, "chains: every realloc kept the contents");
	if (!hk_under_valgrind())
		CHECK(faults < 20 * 512, "chains grow over the cached mapping: %ld page faults for 20 "
		      "chains to 8 MiB (fresh memory would be 20 x 2048)", faults);

	/* 2. 48 vectors doubling side by side, 16 B - 8 MiB, verified. */
	enum { NV = 48 };
	struct { char *p; size_t cap, target; uint64_t salt; } v[NV];
	hk_rng r;
	hk_rng_seed(&r, 7);
	memset(v, 0, sizeof v);
	for (int i = 0; i < NV; i++)
		v[i].target = hk_rng_logsize(&r, 16, 8 * MiB);
	long steps = hk_scale(20000, 3000), bad = 0;
	for (long s = 0; s < steps && !bad; s++) {
		int i = (int)hk_rng_range(&r, 0, NV - 1);
		size_t cap = v[i].cap ? 2 * v[i].cap : 16;
		char *q = realloc(v[i].p, cap);
		if (!q) {
			bad++;
			break;
		}
		if (v[i].cap && hk_verify_seed(q, v[i].cap, v[i].salt) >= 0)
			bad++;
		v[i].p = q;
		hk_fill_seed(q, cap, v[i].salt = (uint64_t)s * 0x9E3779B97F4A7C15ull);
		v[i].cap = cap;
		if (cap >= v[i].target) {
			free(q);
			v[i].p = NULL;
			v[i].cap = 0;
			v[i].target = hk_rng_logsize(&r, 16, 8 * MiB);
		}
	}
	CHECK(bad == 0, "vectors: %ld reallocs, every one kept the contents", steps);
	for (int i = 0; i < NV; i++)
		free(v[i].p);

	/* 3. large_hold: another address, the same mapping; 100 MiB is too
	 * big for the cache (64 MiB): unmapped, and mmap gives its address
	 * back. */
	not_again(256 * KiB, "256 KiB");
	not_again(100 * MiB, "100 MiB");
	char *p = malloc(8 * MiB);
	ok = p != NULL;
	if (ok)
		memset(p, 1, 8 * MiB);
	free(p);
	f0 = minflt();
	for (int i = 0; i < 20 && ok; i++) {
		uintptr_t freed = (uintptr_t)p;
		p = malloc(8 * MiB);
		ok = p && (uintptr_t)p != freed;
		if (p)
			memset(p, i, 8 * MiB);
		free(p);
	}
	faults = minflt() - f0;
	CHECK(ok, "8 MiB freed and allocated 20 times: never the block just freed");
	if (!hk_under_valgrind())
		CHECK(faults < 20 * 512, "8 MiB freed and allocated 20 times: %ld page faults "
		      "(fresh memory would be 20 x 2048)", faults);

	trim();
	uint64_t maps1 = hk_stat_req("stats.mappings"), mapped1 = hk_stat_req("stats.mapped");
	CHECK(maps1 == maps0 && mapped1 == mapped0,
	      "after freeing and trim: stats.mappings %" PRIu64 " -> %" PRIu64
	      ", stats.mapped %" PRIu64 "K -> %" PRIu64 "K",
	      maps0, maps1, mapped0 >> 10, mapped1 >> 10);
	CHECK(hk_stat_req("stats.large.cached") == 0 && hk_stat_req("stats.large.live") == 0,
	      "no large block live or cached");
	return hk_done();
}

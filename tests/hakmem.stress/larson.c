/* Larson-style server workload with thread churn and a varying live set.
 *
 * 4 threads each own a table of live blocks; each step frees a random slot
 * and allocates a new block there (touching and tagging it).  Every round
 * (0.5 s; 0.15 s in QUICK mode) the threads exit and 4 new threads take over
 * their tables, so the new threads free blocks allocated by dead ones.
 * Rounds cycle through three phases so that SuperSlabs empty out:
 *   A: 1000 blocks of 8..1024 bytes per thread
 *   B:  400 blocks of 1..16 KiB per thread (other size classes)
 *   C:  100 blocks of 8..1024 bytes per thread (tiny live set)
 * Checks: blocks intact; peak RSS < 100 MB; /proc/self/maps < 1000 lines at
 * every round; stats.superslabs.created > 0 and .released > 0 (once the
 * purge decay time has passed); after the
 * final free, stats.superslabs.live <= 16. */
/* hakmem-test: timeout 120 */
#include "../lib/check.h"

#include <pthread.h>

#define NTHREADS 4
#define MAXBLOCKS 1000

struct phase {
	int nblocks;
	size_t min, max;
	const char *name;
};

static const struct phase phases[] = {
	{ 1000, 8, 1024, "A" },
	{ 400, 1024, 16384, "B" },
	{ 100, 8, 1024, "C" },
};

struct table {
	void *p[MAXBLOCKS];
	size_t n[MAXBLOCKS];
	int live;	/* slots [0, live) are in use */
	hk_rng rng;
	unsigned long ops, corrupt, nulls;
	const struct phase *ph;
	double until;
};

static void tag(unsigned char *p, size_t n, int slot)
{
	uint64_t v = (uint64_t)(uintptr_t)p ^ n ^ ((uint64_t)slot << 48);
	if (n > 8)
		memcpy(p, &v, 8);
	else
		p[0] = (unsigned char)v;
	p[n - 1] = (unsigned char)(v >> 8) ^ 0x5A;
}

static bool tag_ok(const unsigned char *p, size_t n, int slot)
{
	uint64_t v = (uint64_t)(uintptr_t)p ^ n ^ ((uint64_t)slot << 48), w;
	if (n > 8) {
		memcpy(&w, p, 8);
		if (w != v)
			return false;
	} else if (p[0] != (unsigned char)v) {
		return false;
	}
	return p[n - 1] == ((unsigned char)(v >> 8) ^ 0x5A);
}

static void drop(struct table *t, int i)
{
	if (!t->p[i])
		return;
	if (!tag_ok(t->p[i], t->n[i], i) && t->corrupt++ < 5)
		hk_note("block %p (%zu bytes) in slot %d corrupt", t->p[i],
			t->n[i], i);
	free(t->p[i]);
	t->p[i] = NULL;
}

static void put(struct table *t, int i)
{
	size_t n = hk_rng_range(&t->rng, t->ph->min, t->ph->max);
	unsigned char *p = malloc(n);
	t->ops++;
	if (!p) {
		t->nulls++;
		t->p[i] = NULL;
		return;
	}
	tag(p, n, i);
	t->p[i] = p;
	t->n[i] = n;
}

static void *worker(void *arg)
{
	struct table *t = arg;

	/* Adapt the inherited table to this round's phase. */
	while (t->live > t->ph->nblocks)
		drop(t, --t->live);
	while (t->live < t->ph->nblocks)
		put(t, t->live++);

	for (;;) {
		for (int k = 0; k < 256; k++) {
			int i = (int)hk_rng_range(&t->rng, 0,
						  (uint64_t)t->live - 1);
			drop(t, i);
			put(t, i);
		}
		if (hk_now() >= t->until)
			break;
	}
	return NULL;
}

int main(void)
{
	static struct table tables[NTHREADS];
	double secs = hk_quick() ? 1.0 : 8.0;
	double round_len = hk_quick() ? 0.15 : 0.5;
	double end;
	long max_maps = 0;
	int rounds = 0;
	unsigned long ops = 0, corrupt = 0, nulls = 0;
	bool spawn_ok = true;
	uint64_t created, released, live_busy, live_end;

	for (int i = 0; i < NTHREADS; i++)
		hk_rng_seed(&tables[i].rng, 77 + (uint64_t)i);

	double start = hk_now();
	end = start + secs;
	while (hk_now() < end || rounds < 6) {
		const struct phase *ph = &phases[rounds % 3];
		pthread_t th[NTHREADS];
		double until = hk_now() + round_len;
		int started = 0;

		for (int i = 0; i < NTHREADS; i++) {
			tables[i].ph = ph;
			tables[i].until = until;
			if (pthread_create(&th[i], NULL, worker, &tables[i]) ==
			    0)
				started++;
			else
				spawn_ok = false;
		}
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		long m = hk_maps_count();
		if (m > max_maps)
			max_maps = m;
		rounds++;
		if (!spawn_ok)
			break;
	}
	double elapsed = hk_now() - start;
	CHECK(spawn_ok, "threads created every round");

	created = hk_stat_req("stats.superslabs.created");
	live_busy = hk_stat_req("stats.superslabs.live");
	long rss_busy = hk_rss_kb();

	for (int i = 0; i < NTHREADS; i++) {
		while (tables[i].live > 0)
			drop(&tables[i], --tables[i].live);
		ops += tables[i].ops;
		corrupt += tables[i].corrupt;
		nulls += tables[i].nulls;
	}
	hk_settle();	/* the decay time passes, a slow path runs */
	released = hk_stat_req("stats.superslabs.released");
	live_end = hk_stat_req("stats.superslabs.live");
	long peak = hk_peak_rss_kb();
	long maps_end = hk_maps_count();
	if (maps_end > max_maps)
		max_maps = maps_end;

	hk_note("larson: rounds=%d seconds=%.2f ops=%lu ops/s=%.0f", rounds,
		elapsed, ops, (double)ops / elapsed);
	hk_note("larson: rss_busy_kb=%ld peak_rss_kb=%ld max_maps=%ld "
		"maps_end=%ld", rss_busy, peak, max_maps, maps_end);
	hk_note("larson: superslabs created=%" PRIu64 " released=%" PRIu64
		" live_busy=%" PRIu64 " live_end=%" PRIu64,
		created, released, live_busy, live_end);

	CHECK(ops > 10000, "made progress (%lu ops in %d rounds)", ops, rounds);
	CHECK(corrupt == 0, "no block corrupted (%lu)", corrupt);
	CHECK(nulls == 0, "no allocation failed (%lu NULL)", nulls);
	if (hk_under_valgrind() || hk_under_sanitizer()) {
		hk_note("under valgrind or a sanitizer: RSS and maps limits not checked");
	} else {
		CHECK(peak < 100 * 1024, "peak RSS < 100 MB (%ld KiB)", peak);
		CHECK(max_maps < 1000,
		      "/proc/self/maps stays under 1000 lines (max %ld)",
		      max_maps);
	}
	CHECK(created > 0, "stats.superslabs.created > 0 (%" PRIu64 ")",
	      created);
	CHECK(released > 0,
	      "stats.superslabs.released > 0 by the end (%" PRIu64 ")",
	      released);
	CHECK(live_end <= 16,
	      "stats.superslabs.live <= 16 after freeing everything (%" PRIu64
	      ")", live_end);
	return hk_done();
}

/* Thousands of short-lived threads (5000; 300 in QUICK mode), 4 at a time.
 * Each allocates a few hundred blocks of mixed sizes (mostly small, some up
 * to 64 KiB, a few large), frees most of them itself and leaves 8 behind;
 * the main thread verifies and frees the leftovers after the thread is gone
 * (some right after the join, some several generations later).  Checks: no
 * corruption or NULL; RSS stays bounded (< 100 MB); at the end, after
 * everything is freed, stats.superslabs.live <= 32 (dead threads' memory is
 * reclaimed) and /proc/self/maps stays small. */
/* hakmem-test: timeout 120 */
#include "../lib/check.h"

#include <pthread.h>

#define CONC 4
#define PER_THREAD 300
#define LEFT 8
#define DELAY 16	/* leftovers of this many generations are kept */

struct blk {
	void *p;
	size_t n;
};

struct job {
	int id;
	struct blk left[LEFT];
	unsigned long corrupt, nulls;
};

static size_t pick_size(hk_rng *r)
{
	uint64_t x = hk_rng_range(r, 0, 999);
	if (x < 5)
		return hk_rng_range(r, 129 * 1024, 512 * 1024);
	if (x < 50)
		return hk_rng_range(r, 8192, 65536);
	return hk_rng_logsize(r, 1, 8192);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct blk b[PER_THREAD];
	hk_rng r;

	hk_rng_seed(&r, (uint64_t)j->id);
	for (int i = 0; i < PER_THREAD; i++) {
		b[i].n = pick_size(&r);
		b[i].p = malloc(b[i].n);
		if (!b[i].p) {
			j->nulls++;
			continue;
		}
		hk_fill(b[i].p, b[i].n, (uint64_t)j->id);
		/* free some early, interleaved with allocation */
		if (i >= 10 && hk_rng_range(&r, 0, 2) == 0) {
			int k = (int)hk_rng_range(&r, 0, (uint64_t)i - 1);
			if (b[k].p) {
				if (hk_verify(b[k].p, b[k].n, (uint64_t)j->id) >= 0)
					j->corrupt++;
				free(b[k].p);
				b[k].p = NULL;
			}
		}
	}
	/* leave LEFT blocks for the main thread, free the rest */
	int left = 0;
	for (int i = 0; i < PER_THREAD; i++) {
		if (!b[i].p)
			continue;
		if (left < LEFT && hk_rng_range(&r, 0, 9) == 0) {
			j->left[left++] = b[i];
			continue;
		}
		if (hk_verify(b[i].p, b[i].n, (uint64_t)j->id) >= 0)
			j->corrupt++;
		free(b[i].p);
	}
	return NULL;
}

static struct job *ring[DELAY][CONC];

static unsigned long free_leftovers(struct job *j)
{
	unsigned long bad = 0;
	if (!j)
		return 0;
	for (int i = 0; i < LEFT; i++) {
		if (!j->left[i].p)
			continue;
		if (hk_verify(j->left[i].p, j->left[i].n, (uint64_t)j->id) >= 0)
			bad++;
		free(j->left[i].p);
	}
	free(j);
	return bad;
}

int main(void)
{
	long total = hk_scale(5000, 300);
	long gens = total / CONC;
	unsigned long corrupt = 0, nulls = 0, main_corrupt = 0;
	long created = 0, max_rss = 0, max_maps = 0;
	double t0 = hk_now();

	for (long g = 0; g < gens; g++) {
		pthread_t th[CONC];
		struct job *jobs[CONC];
		int started = 0;
		int slot = (int)(g % DELAY);

		for (int i = 0; i < CONC; i++) {
			jobs[i] = calloc(1, sizeof **jobs);
			if (!jobs[i])
				continue;
			jobs[i]->id = (int)(g * CONC + i + 1);
			if (pthread_create(&th[started], NULL, worker, jobs[i]) ==
			    0)
				jobs[started++] = jobs[i];
			else
				free(jobs[i]);
		}
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
		created += started;

		/* half the leftovers freed now, half DELAY generations later */
		for (int i = 0; i < CONC; i++) {
			main_corrupt += free_leftovers(ring[slot][i]);
			ring[slot][i] = NULL;
		}
		for (int i = 0; i < started; i++) {
			corrupt += jobs[i]->corrupt;
			nulls += jobs[i]->nulls;
			if (i % 2)
				main_corrupt += free_leftovers(jobs[i]);
			else
				ring[slot][i] = jobs[i];
		}
		if (g % 64 == 0) {
			long rss = hk_rss_kb(), maps = hk_maps_count();
			if (rss > max_rss)
				max_rss = rss;
			if (maps > max_maps)
				max_maps = maps;
		}
	}
	for (int s = 0; s < DELAY; s++)
		for (int i = 0; i < CONC; i++)
			main_corrupt += free_leftovers(ring[s][i]);

	double secs = hk_now() - t0;
	long rss = hk_rss_kb(), maps = hk_maps_count();
	if (rss > max_rss)
		max_rss = rss;
	if (maps > max_maps)
		max_maps = maps;
	uint64_t live = hk_stat_req("stats.superslabs.live");
	uint64_t made = hk_stat_req("stats.superslabs.created");

	hk_note("%ld threads in %.2f s; rss %ld KiB (max sampled %ld, peak "
		"%ld); maps max %ld; superslabs live %" PRIu64 " created %"
		PRIu64, created, secs, rss, max_rss, hk_peak_rss_kb(), max_maps,
		live, made);

	CHECK(created == gens * CONC, "all %ld threads ran (%ld)", gens * CONC,
	      created);
	CHECK(corrupt == 0, "threads saw no corruption (%lu)", corrupt);
	CHECK(main_corrupt == 0,
	      "leftover blocks of dead threads intact (%lu corrupt)",
	      main_corrupt);
	CHECK(nulls == 0, "no allocation failed (%lu NULL)", nulls);
	if (hk_under_valgrind() || hk_under_sanitizer()) {
		hk_note("under valgrind or a sanitizer: RSS and maps limits not checked");
	} else {
		CHECK(hk_peak_rss_kb() < 100 * 1024,
		      "peak RSS < 100 MB (%ld KiB)", hk_peak_rss_kb());
		CHECK(max_maps < 1000, "/proc/self/maps < 1000 lines (max %ld)",
		      max_maps);
	}
	CHECK(live <= 32,
	      "stats.superslabs.live <= 32 at the end (%" PRIu64 ")", live);
	return hk_done();
}

/* 100,000 short-lived threads (2,000 under Valgrind), 8 alive at a time.
 *
 * Each thread allocates about 20 blocks (mostly up to 1 KiB, some up to
 * 16 KiB, one thread in 500 also a 200 KiB block), fills and checks them,
 * frees most, frees a block the main thread made for it (a cross-thread
 * free), and leaves two of its blocks to the main thread, which checks and
 * frees them after the thread has exited (frees into a dead thread's
 * slabs).  Threads are started in a ring of 8 slots: a slot's previous
 * thread is joined just before the slot is reused.
 *
 * Checks: all threads ran; no NULL and no corruption; along the way (every
 * 5,000 threads) and at the end, resident memory stays under 32 MiB,
 * /proc/self/maps under 300 lines and stats.superslabs.live under 16;
 * after everything is freed and a trim, stats.superslabs.live <= 2 and
 * stats.mapped under 8 MiB: the memory of 100,000 dead threads is
 * reclaimed, not piled up. */
/* hakmem-test: timeout 300 */
#include "../lib/check.h"

#include <pthread.h>

#define CONC 8
#define NBLK 20
#define LEFT 2

struct job {
	uint64_t id;
	void *gift;		/* from main, freed by the thread */
	size_t gift_n;
	void *left[LEFT];	/* from the thread, freed by main */
	size_t left_n[LEFT];
	unsigned long bad, nulls;
};

static size_t pick(hk_rng *r, uint64_t id)
{
	uint64_t x = hk_rng_range(r, 0, 99);
	if (x == 0 && id % 500 == 0)
		return 200 << 10;
	if (x < 10)
		return hk_rng_range(r, 1024, 16384);
	return hk_rng_logsize(r, 1, 1024);
}

static void *worker(void *arg)
{
	struct job *j = arg;
	void *b[NBLK];
	size_t n[NBLK];
	hk_rng r;

	hk_rng_seed(&r, j->id);
	for (int i = 0; i < NBLK; i++) {
		n[i] = pick(&r, j->id);
		b[i] = malloc(n[i]);
		if (!b[i]) {
			j->nulls++;
			continue;
		}
		hk_fill(b[i], n[i], j->id);
	}
	if (j->gift) {
		if (hk_verify(j->gift, j->gift_n, 77) >= 0)
			j->bad++;
		free(j->gift);
	}
	for (int i = 0; i < NBLK; i++) {
		if (!b[i])
			continue;
		if (hk_verify(b[i], n[i], j->id) >= 0)
			j->bad++;
		if (i < LEFT) {
			j->left[i] = b[i];
			j->left_n[i] = n[i];
		} else {
			free(b[i]);
		}
	}
	return NULL;
}

static unsigned long finish(struct job *j)
{
	unsigned long bad = j->bad;
	for (int i = 0; i < LEFT; i++) {
		if (!j->left[i])
			continue;
		if (hk_verify(j->left[i], j->left_n[i], j->id) >= 0)
			bad++;
		free(j->left[i]);
		j->left[i] = NULL;
	}
	return bad;
}

int main(void)
{
	long total = hk_scale(100000, 2000);
	static struct job jobs[CONC];
	pthread_t th[CONC];
	bool running[CONC] = { false };
	unsigned long bad = 0, nulls = 0;
	long created = 0, create_err = 0;
	long max_rss = 0, max_maps = 0;
	uint64_t max_ss = 0;
	bool over = false;
	double t0 = hk_now();

	for (long i = 0; i < total; i++) {
		int s = (int)(i % CONC);
		if (running[s]) {
			pthread_join(th[s], NULL);
			running[s] = false;
			bad += finish(&jobs[s]);
			nulls += jobs[s].nulls;
		}
		memset(&jobs[s], 0, sizeof jobs[s]);
		jobs[s].id = (uint64_t)i + 1;
		jobs[s].gift_n = 16 + (size_t)(i % 200);
		jobs[s].gift = malloc(jobs[s].gift_n);
		if (jobs[s].gift)
			hk_fill(jobs[s].gift, jobs[s].gift_n, 77);
		int rc = pthread_create(&th[s], NULL, worker, &jobs[s]);
		if (rc) {
			create_err++;
			free(jobs[s].gift);
			continue;
		}
		running[s] = true;
		created++;
		if (i % 5000 == 4999) {
			long rss = hk_rss_kb(), maps = hk_maps_count();
			uint64_t ss = 0;
			hk_stat("stats.superslabs.live", &ss);
			max_rss = rss > max_rss ? rss : max_rss;
			max_maps = maps > max_maps ? maps : max_maps;
			max_ss = ss > max_ss ? ss : max_ss;
			if (!hk_quick() && i % 25000 == 24999)
				hk_note("%ld threads, %.1f s: rss %ld KiB, maps "
					"%ld, superslabs %" PRIu64, i + 1,
					hk_now() - t0, rss, maps, ss);
		}
	}
	for (int s = 0; s < CONC; s++)
		if (running[s]) {
			pthread_join(th[s], NULL);
			bad += finish(&jobs[s]);
			nulls += jobs[s].nulls;
		}
	double secs = hk_now() - t0;
	long rss = hk_rss_kb(), maps = hk_maps_count();
	uint64_t ss_end = hk_stat_req("stats.superslabs.live");
	max_rss = rss > max_rss ? rss : max_rss;
	max_maps = maps > max_maps ? maps : max_maps;
	max_ss = ss_end > max_ss ? ss_end : max_ss;
	hk_action("trim");
	uint64_t ss_trim = hk_stat_req("stats.superslabs.live");
	uint64_t mapped = hk_stat_req("stats.mapped");
	uint64_t made = hk_stat_req("stats.superslabs.created");

	hk_note("%ld threads in %.1f s (%.0f/s); max rss %ld KiB, max maps %ld, "
		"max superslabs %" PRIu64 "; at the end %" PRIu64 " superslabs, "
		"%" PRIu64 " after trim, mapped %" PRIu64 " KiB; %" PRIu64
		" superslabs created in all", created, secs, created / secs,
		max_rss, max_maps, max_ss, ss_end, ss_trim, mapped >> 10, made);
	CHECK(created == total && create_err == 0,
	      "all %ld threads ran (%ld, %ld pthread_create errors)", total,
	      created, create_err);
	CHECK(nulls == 0, "no allocation failed (%lu NULL)", nulls);
	CHECK(bad == 0, "no block was corrupted (%lu)", bad);
	if (hk_under_valgrind()) {
		hk_note("under valgrind: RSS and maps not checked");
	} else {
		over = max_rss >= 32 * 1024 || max_maps >= 300;
		CHECK(!over, "resident memory < 32 MiB and /proc/self/maps < 300 "
		      "lines throughout (max %ld KiB, %ld lines)", max_rss,
		      max_maps);
	}
	CHECK(max_ss < 16, "stats.superslabs.live < 16 throughout (max %"
	      PRIu64 ")", max_ss);
	CHECK(ss_trim <= 2 && mapped < 8 << 20,
	      "after a trim at the end: <= 2 SuperSlabs live and < 8 MiB "
	      "mapped (%" PRIu64 ", %" PRIu64 " KiB)", ss_trim, mapped >> 10);
	return hk_done();
}

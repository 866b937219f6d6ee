/* Randomized multi-threaded stress with cross-thread frees.
 *
 * 4 threads share an exchange array of slots (striped locks).  Each step a
 * thread allocates a block (malloc, calloc, realloc, posix_memalign,
 * aligned_alloc, memalign or valloc; sizes log-uniform 1 B..64 KiB, about
 * 1% up to 1 MiB), fills it with a pattern derived from its address and
 * size, and swaps it into a random slot; the block it takes out, usually
 * allocated by another thread, is verified and freed.  Some steps realloc a
 * slot's block in place of the swap, or just free one.  Checks: no
 * corruption, no NULL, alignment honoured, calloc zeroed, and
 * stats.frees.remote grew. */
/* hakmem-test: timeout 120 */
#include "../lib/check.h"

#include <malloc.h>
#include <pthread.h>

#define NTHREADS 4
#define NLOCKS 64
#define KiB ((size_t)1024)

struct slot {
	void *p;
	size_t n;
	int owner;
};

static struct slot *slots;
static size_t nslots;
static pthread_mutex_t locks[NLOCKS];
static double deadline;
/* Under Valgrind, or on a busy machine, the threads run one at a time in
 * long slices: the test runs past its deadline (up to 30 s more) until the
 * threads have done MIN_OPS operations and freed each other's blocks at
 * least MIN_CROSS times. */
#define MIN_CROSS 200
#define MIN_OPS 2000
static _Atomic unsigned long cross_total, ops_total;

struct tstats {
	unsigned long ops, allocs, frees, cross_frees, reallocs;
	unsigned long corrupt, nulls, misaligned, dirty_calloc;
	int id;
};

static void report_corrupt(struct tstats *st, const void *p, size_t n,
			   long off, const char *when)
{
	if (st->corrupt++ < 5)
		hk_note("thread %d: block %p (%zu bytes) corrupt at offset %ld "
			"(%s)", st->id, p, n, off, when);
}

static void *alloc_random(hk_rng *r, struct tstats *st, size_t *np)
{
	size_t n = hk_rng_range(r, 0, 99) == 0
			   ? hk_rng_range(r, 64 * KiB, 1024 * KiB)
			   : hk_rng_logsize(r, 1, 64 * KiB);
	size_t al = 0;
	void *p = NULL;
	int how = (int)hk_rng_range(r, 0, 9);

	switch (how) {
	case 0:
	case 1:
	case 2:
	case 3:
		p = malloc(n);
		break;
	case 4:
		p = hk_launder(calloc(1, n));
		if (p && !hk_all_zero(p, n))
			st->dirty_calloc++;
		break;
	case 5:
		p = realloc(NULL, n);
		break;
	case 6:
		al = (size_t)1 << hk_rng_range(r, 3, hk_rng_range(r, 0, 9) ? 12 : 16);
		if (posix_memalign(&p, al, n) != 0)
			p = NULL;
		break;
	case 7:
		al = (size_t)1 << hk_rng_range(r, 0, 12);
		p = aligned_alloc(al, n);
		break;
	case 8:
		al = (size_t)1 << hk_rng_range(r, 0, 13);
		p = memalign(al, n);
		break;
	default:
		al = 4096;
		p = valloc(n);
		break;
	}
	if (!p) {
		if (st->nulls++ < 5)
			hk_note("thread %d: allocation %d of %zu bytes (align "
				"%zu) returned NULL", st->id, how, n, al);
		return NULL;
	}
	if (al && (uintptr_t)p % al)
		st->misaligned++;
	if ((uintptr_t)p % 16 && n >= 16)
		st->misaligned++;
	st->allocs++;
	*np = n;
	hk_fill(p, n, 0);
	return p;
}

static void release(struct tstats *st, struct slot *s)
{
	long off = hk_verify(s->p, s->n, 0);
	if (off >= 0)
		report_corrupt(st, s->p, s->n, off, "before free");
	if (s->owner != st->id) {
		st->cross_frees++;
		cross_total++;
	}
	free(s->p);
	st->frees++;
}

/* Put s in slot idx, under the slot's lock; returns what it held. */
static struct slot exchange(size_t idx, struct slot s)
{
	pthread_mutex_t *mu = &locks[idx % NLOCKS];
	pthread_mutex_lock(mu);
	struct slot old = slots[idx];
	slots[idx] = s;
	pthread_mutex_unlock(mu);
	return old;
}

static void *worker(void *arg)
{
	struct tstats *st = arg;
	hk_rng r;

	hk_rng_seed(&r, 1000 + (uint64_t)st->id);
	while (hk_now() < deadline ||
	       ((cross_total < MIN_CROSS || ops_total < MIN_OPS) && hk_now() < deadline + 30)) {
		ops_total += 64;
		for (int burst = 0; burst < 64; burst++) {
			size_t idx = hk_rng_range(&r, 0, nslots - 1);
			struct slot old = { 0 }, nw = { 0 }, empty = { 0 };
			int op = (int)hk_rng_range(&r, 0, 99);

			st->ops++;
			if (op < 80) {
				/* allocate and swap in */
				nw.p = alloc_random(&r, st, &nw.n);
				nw.owner = st->id;
				if (!nw.p)
					continue;
				old = exchange(idx, nw);
				if (old.p)
					release(st, &old);
			} else if (op < 90) {
				/* take out, realloc, put back */
				old = exchange(idx, empty);
				if (!old.p)
					continue;
				long off = hk_verify(old.p, old.n, 0);
				if (off >= 0)
					report_corrupt(st, old.p, old.n, off,
						       "before realloc");
				uint64_t seed = hk_pattern_seed(old.p, old.n, 0);
				size_t n = hk_rng_range(&r, 0, 19) == 0
						   ? hk_rng_range(&r, 1, 512 * KiB)
						   : hk_rng_logsize(&r, 1, 64 * KiB);
				void *q = realloc(old.p, n);
				st->reallocs++;
				if (!q) {
					st->nulls++;
					release(st, &old);
					continue;
				}
				off = hk_verify_seed(q, old.n < n ? old.n : n,
						     seed);
				if (off >= 0)
					report_corrupt(st, q, n, off,
						       "after realloc");
				if ((uintptr_t)q % 16 && n >= 16)
					st->misaligned++;
				hk_fill(q, n, 0);
				nw.p = q;
				nw.n = n;
				nw.owner = st->id;
				old = exchange(idx, nw);
				if (old.p)
					release(st, &old);
			} else {
				/* just free */
				old = exchange(idx, empty);
				if (old.p)
					release(st, &old);
			}
		}
	}
	return NULL;
}

int main(void)
{
	pthread_t t[NTHREADS];
	struct tstats st[NTHREADS];
	struct tstats tot = { 0 };
	double secs = hk_quick() ? 0.3 : 4.0;
	uint64_t rf0 = 0, rf1 = 0;
	bool have = hk_stat("stats.frees.remote", &rf0);

	CHECK(have, "stats.frees.remote readable through hakmem_ctl");
	nslots = (size_t)hk_scale(2048, 512);
	slots = calloc(nslots, sizeof *slots);
	if (!CHECK(slots != NULL, "allocate slot array"))
		return hk_done();
	for (int i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&locks[i], NULL);

	deadline = hk_now() + secs;
	for (int i = 0; i < NTHREADS; i++) {
		memset(&st[i], 0, sizeof st[i]);
		st[i].id = i + 1;
		if (pthread_create(&t[i], NULL, worker, &st[i]) != 0) {
			FAILED("pthread_create %d", i);
			return hk_done();
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		tot.ops += st[i].ops;
		tot.allocs += st[i].allocs;
		tot.frees += st[i].frees;
		tot.cross_frees += st[i].cross_frees;
		tot.reallocs += st[i].reallocs;
		tot.corrupt += st[i].corrupt;
		tot.nulls += st[i].nulls;
		tot.misaligned += st[i].misaligned;
		tot.dirty_calloc += st[i].dirty_calloc;
	}
	if (have)
		hk_stat("stats.frees.remote", &rf1);

	/* The main thread frees what is left: all cross-thread. */
	struct tstats mainst = { .id = 0 };
	long rss = hk_rss_kb();
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].p)
			release(&mainst, &slots[i]);
	tot.corrupt += mainst.corrupt;

	hk_note("%.1f s: %lu ops, %lu allocs, %lu frees (%lu cross-thread), "
		"%lu reallocs, rss %ld KiB, peak %ld KiB",
		secs, tot.ops, tot.allocs, tot.frees, tot.cross_frees,
		tot.reallocs, rss, hk_peak_rss_kb());
	hk_note("stats.frees.remote %" PRIu64 " -> %" PRIu64, rf0, rf1);

	CHECK(tot.ops > 1000, "workers made progress (%lu ops)", tot.ops);
	CHECK(tot.corrupt == 0, "no block corrupted (%lu corrupt)",
	      tot.corrupt);
	CHECK(tot.nulls == 0, "no allocation failed (%lu NULL)", tot.nulls);
	CHECK(tot.misaligned == 0, "alignment honoured (%lu misaligned)",
	      tot.misaligned);
	CHECK(tot.dirty_calloc == 0, "calloc results zeroed (%lu dirty)",
	      tot.dirty_calloc);
	CHECK(tot.cross_frees > 0, "the test did free blocks across threads");
	if (have)
		CHECK(rf1 > rf0,
		      "stats.frees.remote grew (%" PRIu64 " -> %" PRIu64
		      ", %lu cross-thread frees made)", rf0, rf1,
		      tot.cross_frees);
	free(slots);
	return hk_done();
}

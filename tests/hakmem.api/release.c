/* Memory goes back to the OS.
 *
 * Small blocks: a SuperSlab whose blocks are all free is released (beyond
 * a reserve of ~2), so after allocating tens of MiB of small blocks and
 * freeing them, stats.superslabs.live falls back, .released grows by the
 * emptied SuperSlabs, stats.mapped falls and so does the RSS.  Checked for
 *   1. one size class, allocated and freed by the main thread (its heap may
 *      keep one current slab, so at most before + reserve + 1);
 *   2. mixed sizes 16 B..4 KiB, allocated and freed by a thread that then
 *      exits (at most before + reserve);
 *   3. mixed sizes allocated by a thread that exits, freed by main after
 *      the owner is gone (at most before + reserve);
 *   4. mixed sizes allocated and freed by main: most of the memory (>= 1/2
 *      of stats.mapped and of the RSS gained) is given back;
 *   5. mixed sizes allocated by main, all freed but one block in 500, so
 *      that no SuperSlab empties (a server dropping its data): the RSS
 *      falls back to at most before + a quarter of the growth + 4 MiB,
 *      and with opt.trim off it does not (the free slots are kept).
 * Free memory is kept for reuse for about opt.purge_decay_ms (set to
 * DECAY_MS here) and given back within two decay times, when the
 * allocator next runs a slow path: each case waits for that (hk_settle())
 * before it measures what came back.
 * Large blocks: each has its own mapping, unmapped on free (stats.mappings
 * and the /proc/self/maps line count return to where they were). */
#include "../lib/check.h"

#include <pthread.h>

#define MiB ((size_t)1 << 20)
#define DECAY_MS 50

struct batch {
	void **p;
	size_t count;
	size_t bytes;
};

/* fixed: all blocks of that size; 0: log-uniform 16 B..4 KiB */
static void alloc_batch(struct batch *b, size_t total, size_t fixed,
			uint64_t seed)
{
	hk_rng r;
	size_t cap = total / 16 + 1;

	hk_rng_seed(&r, seed);
	b->p = malloc(cap * sizeof *b->p);
	b->count = 0;
	b->bytes = 0;
	if (!b->p)
		return;
	while (b->bytes < total && b->count < cap) {
		size_t n = fixed ? fixed : hk_rng_logsize(&r, 16, 4096);
		void *q = malloc(n);
		if (!q)
			break;
		memset(q, 0x6B, n);	/* make it resident */
		b->p[b->count++] = q;
		b->bytes += n;
	}
}

static void free_batch(struct batch *b)
{
	for (size_t i = 0; i < b->count; i++)
		free(b->p[i]);
	free(b->p);
	b->p = NULL;
	b->count = 0;
}

struct snap {
	uint64_t live, created, released, mapped, mappings, dirty, purged;
	long rss;
};

static void snap(struct snap *s)
{
	s->live = hk_stat_req("stats.superslabs.live");
	s->created = hk_stat_req("stats.superslabs.created");
	s->released = hk_stat_req("stats.superslabs.released");
	s->mapped = hk_stat_req("stats.mapped");
	s->mappings = hk_stat_req("stats.mappings");
	s->dirty = hk_stat_req("stats.dirty");
	s->purged = hk_stat_req("stats.purged");
	s->rss = hk_rss_kb();
}

static void show(const char *when, const struct snap *s)
{
	hk_note("%-22s live=%" PRIu64 " created=%" PRIu64 " released=%" PRIu64
		" mapped=%" PRIu64 "K mappings=%" PRIu64 " rss=%ldK",
		when, s->live, s->created, s->released, s->mapped / 1024,
		s->mappings, s->rss);
}

/* a: before, b: blocks live, c: blocks freed.  slack: SuperSlabs that may
 * stay beyond before + reserve (0 or 1); negative: only check that most
 * memory came back. */
static void check_cycle(const char *what, const struct snap *a,
			const struct snap *b, const struct snap *c,
			size_t bytes, int slack)
{
	bool vg = hk_under_valgrind();

	show("  before", a);
	show("  allocated", b);
	show("  freed", c);
	CHECK(b->live >= a->live + bytes / (4 * MiB),
	      "%s: SuperSlabs created for the blocks (%" PRIu64 " -> %" PRIu64
	      ")", what, a->live, b->live);
	if (slack >= 0) {
		CHECK(c->live <= a->live + 2 + (uint64_t)slack,
		      "%s: after freeing, stats.superslabs.live back to at most "
		      "before + %d (%" PRIu64 " -> %" PRIu64 " -> %" PRIu64 ")",
		      what, 2 + slack, a->live, b->live, c->live);
		CHECK(c->released - b->released + 2 + (uint64_t)slack >=
			      b->live - a->live,
		      "%s: stats.superslabs.released grew by the emptied "
		      "SuperSlabs (%" PRIu64 " -> %" PRIu64 ")", what,
		      b->released, c->released);
	} else {
		CHECK(c->released > b->released,
		      "%s: some SuperSlabs released (%" PRIu64 " -> %" PRIu64
		      ")", what, b->released, c->released);
	}
	CHECK(c->created - c->released == c->live,
	      "%s: created - released == live (%" PRIu64 " - %" PRIu64
	      " vs %" PRIu64 ")", what, c->created, c->released, c->live);
	CHECK(b->mapped >= a->mapped + bytes &&
	      b->mapped - c->mapped >= (b->mapped - a->mapped) / 2,
	      "%s: stats.mapped rises by >= the bytes allocated and falls "
	      "by at least half of that (%" PRIu64 "K -> %" PRIu64 "K -> %"
	      PRIu64 "K)", what, a->mapped / 1024, b->mapped / 1024,
	      c->mapped / 1024);
	if (!vg)
		CHECK(b->rss - c->rss >= (long)(bytes / 1024 / 2),
		      "%s: RSS falls by at least half the bytes freed "
		      "(%ldK -> %ldK -> %ldK)", what, a->rss, b->rss, c->rss);
}

static struct batch tb;
static struct snap tsnap;

/* Case 2: allocate, snapshot, free, exit. */
static void *thread_alloc_free(void *arg)
{
	(void)arg;
	alloc_batch(&tb, 48 * MiB, 0, 2);
	snap(&tsnap);
	free_batch(&tb);
	return NULL;
}

/* Case 3: allocate and exit. */
static void *thread_alloc(void *arg)
{
	(void)arg;
	alloc_batch(&tb, 48 * MiB, 0, 3);
	return NULL;
}

int main(void)
{
	struct snap a, b, c;
	struct batch bt;
	size_t total = 64 * MiB;

	free(hk_launder(malloc(1)));	/* initialise */
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	/* Large blocks are checked for unmapping on free: no cache of freed
	 * ones (hakmem.api/large_cache tests the cache). */
	uint64_t off = 0, decay = DECAY_MS;
	hk_ctl()("opt.large_cache", NULL, NULL, &off, sizeof off);
	CHECK(hk_ctl()("opt.purge_decay_ms", NULL, NULL, &decay, sizeof decay) == 0,
	      "opt.purge_decay_ms set to %d", DECAY_MS);

	/* 1. one size class, main thread */
	hk_note("1. 64 MiB of 256-byte blocks, main thread");
	snap(&a);
	alloc_batch(&bt, total, 256, 1);
	CHECK(bt.bytes >= total, "allocated 64 MiB of 256-byte blocks");
	snap(&b);
	free_batch(&bt);
	hk_settle();
	snap(&c);
	check_cycle("one class, main thread", &a, &b, &c, total, 1);

	/* 2. thread allocates and frees, exits */
	pthread_t t;
	hk_note("2. 48 MiB of 16 B..4 KiB blocks, freed by their thread");
	snap(&a);
	if (pthread_create(&t, NULL, thread_alloc_free, NULL) == 0) {
		pthread_join(t, NULL);
		hk_settle();
		snap(&c);
		check_cycle("thread frees its own, exits", &a, &tsnap, &c,
			    48 * MiB, 0);
	} else {
		FAILED("pthread_create");
	}

	/* 3. thread allocates and exits, main frees */
	hk_note("3. 48 MiB of 16 B..4 KiB blocks of a dead thread");
	snap(&a);
	if (pthread_create(&t, NULL, thread_alloc, NULL) == 0) {
		pthread_join(t, NULL);
		snap(&b);
		free_batch(&tb);
		hk_settle();
		snap(&c);
		check_cycle("dead thread's blocks freed by main", &a, &b, &c,
			    48 * MiB, 0);
	} else {
		FAILED("pthread_create");
	}

	/* 4. mixed sizes, main thread */
	hk_note("4. 64 MiB of 16 B..4 KiB blocks, main thread");
	snap(&a);
	alloc_batch(&bt, total, 0, 4);
	snap(&b);
	free_batch(&bt);
	hk_settle();
	snap(&c);
	check_cycle("mixed sizes, main thread", &a, &b, &c, total, -1);

	/* 5. sparse survivors, with trim on and off */
	for (int trim = 1; trim >= 0; trim--) {
		bool v = trim;
		CHECK(hk_ctl()("opt.trim", NULL, NULL, &v, sizeof v) == 0, "opt.trim set to %d", trim);
		hk_note("5. 64 MiB of 16 B..4 KiB blocks, one in 500 kept, trim %s",
			trim ? "on" : "off");
		snap(&a);
		alloc_batch(&bt, total, 0, 5);
		snap(&b);
		size_t kept = 0;
		for (size_t i = 0; i < bt.count; i++) {
			if (i % 500 == 0)
				bt.p[kept++] = bt.p[i];
			else
				free(bt.p[i]);
		}
		bt.count = kept;
		hk_settle();
		snap(&c);
		show("  before", &a);
		show("  allocated", &b);
		show("  499 in 500 freed", &c);
		long bound = a.rss + (b.rss - a.rss) / 4 + 4096;
		hk_note("  stats.dirty %" PRIu64 "K -> %" PRIu64 "K, stats.purged +%" PRIu64 "K",
			b.dirty / 1024, c.dirty / 1024, (c.purged - b.purged) / 1024);
		if (trim) {
			CHECK(c.purged - b.purged >= 16 * MiB && c.dirty <= 8 * MiB,
			      "sparse survivors: stats.purged grows by >= 16 MiB, stats.dirty "
			      "stays <= 8 MiB");
			if (!hk_under_valgrind())
				CHECK(c.rss <= bound,
				      "sparse survivors: RSS back to <= before + growth/4 + 4 MiB "
				      "(%ldK -> %ldK -> %ldK, bound %ldK)", a.rss, b.rss, c.rss, bound);
		} else {
			CHECK(c.purged == b.purged && c.dirty >= 32 * MiB,
			      "sparse survivors, trim off: nothing purged, stats.dirty >= 32 MiB");
			if (!hk_under_valgrind())
				CHECK(c.rss > bound,
				      "sparse survivors, trim off: the free memory stays resident "
				      "(%ldK -> %ldK -> %ldK)", a.rss, b.rss, c.rss);
		}
		free_batch(&bt);
	}
	bool on = true;
	hk_ctl()("opt.trim", NULL, NULL, &on, sizeof on);

	/* 6. large blocks: one mapping each, unmapped on free */
	enum { NL = 24 };
	void *l[NL];
	snap(&a);
	long maps0 = hk_maps_count();
	for (int i = 0; i < NL; i++) {
		l[i] = malloc(MiB + (size_t)i * 4096);
		if (l[i])
			memset(l[i], 1, MiB);
	}
	snap(&b);
	long maps1 = hk_maps_count();
	for (int i = 0; i < NL; i++)
		free(l[i]);
	snap(&c);
	long maps2 = hk_maps_count();
	CHECK(b.mappings == a.mappings + NL && c.mappings == a.mappings,
	      "large blocks: stats.mappings +24 then back (%" PRIu64 " -> %"
	      PRIu64 " -> %" PRIu64 ")", a.mappings, b.mappings, c.mappings);
	if (!hk_under_valgrind()) {
		CHECK(maps2 <= maps0 && maps1 >= maps0,
		      "large blocks: /proc/self/maps line count back (%ld -> "
		      "%ld -> %ld)", maps0, maps1, maps2);
		CHECK(b.rss - c.rss >= NL * 1024 / 2,
		      "large blocks: RSS falls after free (%ldK -> %ldK)",
		      b.rss, c.rss);
	}
	return hk_done();
}

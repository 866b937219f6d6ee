/* A large block (above 128 KiB, or over-aligned) freed twice: while its
 * mapping sits in the large-block cache, after it was unmapped (cache off,
 * and a block too big for the cache), an over-aligned block, the smallest
 * large block, a block freed first by another thread, and the old pointer
 * of a block that realloc() moved.
 *
 * Each case runs in a child with opt.misuse=abort (SIGABRT) and
 * opt.misuse=report (goes on), with one "hakmem:" line naming the address.
 * In report mode the child then checks that the second free did nothing:
 * stats.large.live is unchanged, the next two blocks of that size are two
 * different blocks, and after freeing everything and a trim no large block
 * is live or cached and the mapped bytes are back to where they were
 * before the block was made. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <pthread.h>

struct lcase {
	const char *what;
	size_t size, align;	/* align 0: malloc */
	uint64_t cache;		/* opt.large_cache for the case */
	int how;		/* 0: free twice, 1: other thread first,
				   2: stale pointer after realloc moved it */
	void *p;		/* made in the parent, for the address */
	uint64_t mapped0;	/* stats.mapped before p was made, trimmed */
};

static void *free_it(void *p)
{
	free(p);
	return NULL;
}

static void twice(void *arg)
{
	struct lcase *c = arg;
	uint64_t live0 = 0, live1 = 0, mapped = 0, cached = 0;
	void *stale = c->p;

	if (c->how == 1) {
		pthread_t t;
		if (!CHECK(pthread_create(&t, NULL, free_it, c->p) == 0,
			   "%s: pthread_create", c->what))
			return;
		pthread_join(t, NULL);
	} else if (c->how == 2) {
		void *q = realloc(c->p, c->size * 8);
		if (!CHECK(q != NULL, "%s: realloc to 8 times the size",
			   c->what))
			return;
		if (q == c->p) {
			/* Grown in place: nothing stale. Say so and free the
			 * block, so that the free below is the second one. */
			hk_note("%s: realloc grew the block in place", c->what);
			free(hk_launder(q));
		} else {
			free(q);
		}
	} else {
		free(c->p);
	}
	hk_stat("stats.large.live", &live0);
	free(hk_launder(stale));
	hk_stat("stats.large.live", &live1);
	/* report mode from here on */
	CHECK(live0 == live1, "%s: stats.large.live unchanged by the second "
	      "free (%" PRIu64 " -> %" PRIu64 ")", c->what, live0, live1);
	void *a = hk_launder(malloc(c->size)), *b = hk_launder(malloc(c->size));
	CHECK(a && b && a != b, "%s: the next two blocks of the size are "
	      "distinct", c->what);
	if (a)
		memset(a, 1, c->size);
	if (b)
		memset(b, 2, c->size);
	free(a);
	free(b);
	hk_action("trim");
	hk_stat("stats.large.live", &live1);
	hk_stat("stats.large.cached", &cached);
	hk_stat("stats.mapped", &mapped);
	CHECK(live1 == 0 && cached == 0,
	      "%s: after a trim no large block is live or cached (%" PRIu64
	      " live, %" PRIu64 " cached bytes)", c->what, live1, cached);
	CHECK(mapped <= c->mapped0 + (1 << 20),
	      "%s: mapped bytes back to where they were (%" PRIu64 " -> %"
	      PRIu64 ")", c->what, c->mapped0, mapped);
}

static void run(struct lcase *c)
{
	hk_set_u64("opt.large_cache", c->cache);
	hk_action("trim");
	hk_stat("stats.mapped", &c->mapped0);
	if (c->align) {
		if (posix_memalign(&c->p, c->align, c->size) != 0)
			c->p = NULL;
	} else {
		c->p = malloc(c->size);
	}
	if (!CHECK(c->p != NULL, "%s: block allocated", c->what))
		return;
	memset(c->p, 0x77, c->size < 4096 ? c->size : 4096);
	hk_expect_misuse(c->what, twice, c, "was not returned by malloc",
			 hk_hex(c->p));
	free(c->p);
}

static void *thread_alloc(void *arg)
{
	free(hk_launder(malloc(100)));
	return arg;
}

int main(void)
{
	const uint64_t dflt = 64 << 20;
	/* A thread has run and exited before the baselines are taken, so
	 * that the heap structure a thread gets is already mapped (they are
	 * reused, never unmapped). */
	pthread_t t;
	if (pthread_create(&t, NULL, thread_alloc, NULL) == 0)
		pthread_join(t, NULL);
	struct lcase cases[] = {
		{ "1 MiB block freed twice (cached)", 1 << 20, 0, dflt, 0, 0, 0 },
		{ "1 MiB block freed twice (cache off: unmapped)", 1 << 20, 0,
		  0, 0, 0, 0 },
		{ "200 MiB block freed twice (too big to cache)", 200 << 20, 0,
		  dflt, 0, 0, 0 },
		{ "smallest large block (128 KiB + 1) freed twice",
		  (128 << 10) + 1, 0, dflt, 0, 0, 0 },
		{ "2 MiB-aligned block freed twice", 3 << 20, 2 << 20, dflt, 0,
		  0, 0 },
		{ "128 KiB-aligned 1000-byte block freed twice", 1000,
		  128 << 10, dflt, 0, 0, 0 },
		{ "large block freed by another thread, then again", 1 << 20,
		  0, dflt, 1, 0, 0 },
		{ "large block freed again after realloc moved it", 1 << 20, 0,
		  dflt, 2, 0, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run(&cases[i]);
	hk_set_u64("opt.large_cache", dflt);
	return hk_done();
}

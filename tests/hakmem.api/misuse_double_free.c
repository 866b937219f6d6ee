/* Double free of small blocks: every case the engine promises to catch
 * (a block freed twice before it was handed out again), for several size
 * classes:
 *   immediate     free(p); free(p)
 *   delayed       free(p); other frees of the class, many allocations and
 *                 frees of other classes, a pause; free(p)
 *   interleaved   free(a); free(b); free(c); free(b)  (b inside the list)
 * and for a few special owners: a block freed by another thread and then
 * by its owner, freed twice by another thread, a block of a thread that
 * has exited, and a block whose slab went back to the pool after the first
 * free (then the message is "was not returned by malloc (or was already
 * freed)").
 *
 * Each case runs twice in a child (hk_expect_misuse): with opt.misuse=abort
 * it must die of SIGABRT, with opt.misuse=report it must go on; both times
 * stderr holds one "hakmem:" line with the error and the address.  In
 * report mode the child then checks that the second free did nothing: the
 * block is handed out at most once by the following allocations of its
 * class, and freeing them gives no further message. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <pthread.h>

struct dcase {
	size_t size;
	void *p;		/* the block freed twice */
	void *others[64];	/* same class, freed in between (delayed) */
	void *keep;		/* same slab as p, stays live */
	void *a, *b, *c, *d;	/* interleaved */
};

/* After a reported double free of p: the next allocations of the class
 * return p at most once. */
static void check_handed_out_once(const char *what, size_t size, void *p)
{
	enum { N = 600 };
	static void *v[N];
	int seen = 0, nulls = 0;
	long n = size >= 65536 ? 40 : N;

	for (long i = 0; i < n; i++) {
		v[i] = hk_launder(malloc(size));
		nulls += v[i] == NULL;
		seen += v[i] == p;
		if (v[i])
			memset(v[i], 0x33, size < 64 ? size : 64);
	}
	for (long i = 0; i < n; i++)
		free(v[i]);
	CHECK(seen <= 1 && nulls == 0,
	      "%s: after the report, the block is handed out at most once "
	      "(%d times, %d NULL)", what, seen, nulls);
}

static void immediate(void *arg)
{
	struct dcase *d = arg;
	free(hk_launder(d->p));
	free(hk_launder(d->p));
	check_handed_out_once("immediate", d->size, d->p);
}

static void delayed(void *arg)
{
	struct dcase *d = arg;
	free(hk_launder(d->p));
	for (int i = 0; i < 64; i++)
		free(d->others[i]);
	/* other classes only, so that p stays on its free list unused */
	for (int i = 0; i < 2000; i++) {
		size_t n = d->size >= 4096 ? 100 + (size_t)(i % 7) * 10
					   : 8192 + (size_t)(i % 5) * 4096;
		void *q = hk_launder(malloc(n));
		if (q)
			memset(q, 1, 16);
		free(q);
	}
	hk_sleep_ms(20);
	free(hk_launder(d->p));
	check_handed_out_once("delayed", d->size, d->p);
	free(d->keep);
}

static void interleaved(void *arg)
{
	struct dcase *d = arg;
	free(d->a);
	free(d->b);
	free(d->c);
	free(hk_launder(d->b));
	free(d->d);
	check_handed_out_once("interleaved", d->size, d->b);
}

/* --- cross-thread cases -------------------------------------------- */

static void *free_in_thread(void *p)
{
	free(hk_launder(p));
	return NULL;
}

static void *free_twice_in_thread(void *p)
{
	free(hk_launder(p));
	free(hk_launder(p));
	return NULL;
}

static void remote_then_owner(void *arg)
{
	struct dcase *d = arg;
	pthread_t t;
	if (!CHECK(pthread_create(&t, NULL, free_in_thread, d->p) == 0,
		   "remote then owner: pthread_create"))
		return;
	pthread_join(t, NULL);
	free(hk_launder(d->p));
	check_handed_out_once("remote then owner", d->size, d->p);
}

static void remote_twice(void *arg)
{
	struct dcase *d = arg;
	pthread_t t;
	if (!CHECK(pthread_create(&t, NULL, free_twice_in_thread, d->p) == 0,
		   "remote twice: pthread_create"))
		return;
	pthread_join(t, NULL);
	check_handed_out_once("remote twice", d->size, d->p);
}

/* p was allocated by a thread that has exited (before the fork). */
static void dead_owner(void *arg)
{
	struct dcase *d = arg;
	free(hk_launder(d->p));
	free(hk_launder(d->p));
	check_handed_out_once("exited owner", d->size, d->p);
}

static void *alloc_in_thread(void *arg)
{
	struct dcase *d = arg;
	d->p = malloc(d->size);
	if (d->p)
		memset(d->p, 0x44, d->size);
	d->keep = malloc(d->size);	/* keeps the slab in use */
	return NULL;
}

/* The block was the last live one of its slab: after the first free the
 * slab goes back to the pool, so the second free finds no block there. */
static void slab_released(void *arg)
{
	struct dcase *d = arg;
	free(hk_launder(d->p));
	hk_action("trim");
	free(hk_launder(d->p));
	/* service goes on */
	void *q = hk_launder(malloc(d->size));
	CHECK(q != NULL, "slab released: allocation of the class still works");
	free(q);
}

static void *alloc_alone(void *arg)
{
	struct dcase *d = arg;
	d->p = malloc(d->size);
	if (d->p)
		memset(d->p, 0x55, d->size);
	return NULL;
}

int main(void)
{
	static const size_t sizes[] = { 16, 64, 1000, 8192, 100000 };
	static struct dcase dc;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		char what[96];

		memset(&dc, 0, sizeof dc);
		dc.size = n;
		dc.p = malloc(n);
		dc.keep = malloc(n);
		for (int i = 0; i < 64; i++)
			dc.others[i] = malloc(n);
		/* d between b and c: a and b's slab keeps a live block
		 * whatever the number of blocks a slab holds (3 of 100000
		 * bytes, with canaries), so that the second free of b finds
		 * its slab and is reported as a double free. */
		dc.a = malloc(n);
		dc.b = malloc(n);
		dc.d = malloc(n);
		dc.c = malloc(n);
		if (!CHECK(dc.p && dc.keep && dc.a && dc.b && dc.c && dc.d,
			   "%zu-byte blocks allocated", n))
			continue;
		for (int i = 0; i < 64; i++)
			if (dc.others[i])
				memset(dc.others[i], 7, 16);

		snprintf(what, sizeof what, "immediate double free, %zu bytes", n);
		hk_expect_misuse(what, immediate, &dc, "double free", hk_hex(dc.p));
		snprintf(what, sizeof what, "delayed double free, %zu bytes", n);
		hk_expect_misuse(what, delayed, &dc, "double free", hk_hex(dc.p));
		snprintf(what, sizeof what,
			 "double free interleaved with other frees, %zu bytes", n);
		hk_expect_misuse(what, interleaved, &dc, "double free",
				 hk_hex(dc.b));

		/* the parent's copies are still live */
		free(dc.p);
		free(dc.keep);
		for (int i = 0; i < 64; i++)
			free(dc.others[i]);
		free(dc.a);
		free(dc.b);
		free(dc.c);
		free(dc.d);
	}

	/* Freed by another thread, then by the owner; twice by another. */
	memset(&dc, 0, sizeof dc);
	dc.size = 96;
	dc.p = malloc(dc.size);
	dc.keep = malloc(dc.size);
	if (CHECK(dc.p && dc.keep, "96-byte blocks allocated")) {
		hk_expect_misuse("double free: another thread, then the owner",
				 remote_then_owner, &dc, "double free",
				 hk_hex(dc.p));
		hk_expect_misuse("double free by another thread",
				 remote_twice, &dc, "double free", hk_hex(dc.p));
	}
	free(dc.p);
	free(dc.keep);

	/* A block of a thread that has exited. */
	memset(&dc, 0, sizeof dc);
	dc.size = 320;
	pthread_t t;
	if (CHECK(pthread_create(&t, NULL, alloc_in_thread, &dc) == 0,
		  "pthread_create")) {
		pthread_join(t, NULL);
		if (CHECK(dc.p && dc.keep, "exited thread's blocks allocated"))
			hk_expect_misuse("double free of a block of an exited "
					 "thread", dead_owner, &dc,
					 "double free", hk_hex(dc.p));
		free(dc.p);
		free(dc.keep);
	}

	/* The last block of its slab (a class nobody else here uses, from a
	 * thread that has exited), so that the first free empties the slab. */
	memset(&dc, 0, sizeof dc);
	dc.size = 50000;
	if (CHECK(pthread_create(&t, NULL, alloc_alone, &dc) == 0,
		  "pthread_create")) {
		pthread_join(t, NULL);
		if (CHECK(dc.p != NULL, "lone 50000-byte block allocated"))
			hk_expect_misuse("double free after the block's slab "
					 "was released", slab_released, &dc,
					 "was not returned by malloc",
					 hk_hex(dc.p));
		free(dc.p);
	}

	/* The parent is unaffected. */
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		void *p = hk_launder(malloc((size_t)i * 7 + 1));
		bad += p == NULL;
		free(p);
	}
	CHECK(bad == 0, "the parent still allocates normally (%d NULL)", bad);
	return hk_done();
}

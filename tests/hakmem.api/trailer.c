/* The trailer of the default mode (option trailer, src/slab.h): a block
 * above 1 KiB handed out with room to spare ends with a trailer word and
 * has a usable size 8 bytes short of its class; one whose request needs
 * the whole block gets all of it, without a trailer. Checked here that
 * no correct program trips it (every medium class filled to its usable
 * size, requests that fill their block, blocks that change between the
 * two, remote frees, realloc in place and into the trailer, calloc,
 * aligned blocks), and that a write past the usable size is caught by a
 * local and a remote free.
 * Under memcheck the trailers are off (memcheck checks bounds itself). */
#include "../lib/check.h"

#include <malloc.h>
#include <pthread.h>

#define TRAILER 8
#define MEDIUM_MIN 1025
#define SMALL_MAX ((size_t)128 << 10)

static bool trailers;	/* the library under test has them on */

/* Fill p's usable size and free it; false if the size is not the one the
 * trailer design promises for a request of n in a class of bs bytes. (A
 * block handed out whole keeps its whole size when reused until its
 * owner frees it with its last bytes written, as here: src/slab.h.) */
static bool use_and_free(void *p, size_t n, size_t bs)
{
	size_t u = malloc_usable_size(p);
	memset(hk_launder(p), 0xa5, u);
	free(p);
	size_t want = !trailers || n > bs - TRAILER ? bs : bs - TRAILER;
	return u == want;
}

/* Every class above 1 KiB: a request with room for the trailer, one that
 * fills the block, then the first again (the block may be the same one,
 * now with a trailer again). */
static void classes(void)
{
	size_t bad = 0, checked = 0;
	for (unsigned k = 10; k <= 16; k++) {
		for (size_t m = 5; m <= 8; m++) {
			size_t bs = m << (k - 2);
			size_t sizes[] = { bs - TRAILER, bs, bs - TRAILER + 1, bs - 100, bs };
			for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
				void *p = hk_launder(malloc(sizes[i]));
				if (!p || !use_and_free(p, sizes[i], bs))
					bad = bad ? bad : sizes[i];
				checked++;
			}
		}
	}
	CHECK(!bad && checked == 140,
	      "every class above 1 KiB: usable size as designed, filled and freed (%zu requests, "
	      "first bad %zu)",
	      checked, bad);
}

/* Many live blocks, some filling their class, freed in another order. */
static void mixed(void)
{
	enum { N = 4000 };
	static char *p[N];
	hk_rng r;
	hk_rng_seed(&r, 41);
	for (int i = 0; i < N; i++) {
		size_t n = hk_rng_logsize(&r, MEDIUM_MIN, SMALL_MAX);
		if (i % 3 == 0)
			n = (size_t)1 << hk_rng_range(&r, 11, 17);	/* fills its class */
		p[i] = malloc(n);
		if (p[i])
			memset(p[i], i & 0xff, malloc_usable_size(p[i]));
	}
	for (int i = 0; i < N; i += 2)
		free(p[i]);
	for (int i = 1; i < N; i += 2)
		free(p[i]);
	CHECK(true, "4,000 mixed blocks above 1 KiB filled to their usable size and freed");
}

struct batch {
	char *p[512];
	int n;
};

static void *free_batch(void *arg)
{
	struct batch *b = arg;
	for (int i = 0; i < b->n; i++)
		free(b->p[i]);
	return NULL;
}

/* Blocks filled to their usable size by one thread, freed by another. */
static void remote(void)
{
	static struct batch b;
	hk_rng r;
	hk_rng_seed(&r, 43);
	for (int round = 0; round < 20; round++) {
		b.n = 512;
		for (int i = 0; i < b.n; i++) {
			size_t n = i % 4 == 0 ? (size_t)4096 << (i % 3) : hk_rng_logsize(&r, MEDIUM_MIN, SMALL_MAX);
			b.p[i] = malloc(n);
			if (b.p[i])
				memset(b.p[i], 0x5a, malloc_usable_size(b.p[i]));
		}
		pthread_t t;
		if (pthread_create(&t, NULL, free_batch, &b) == 0)
			pthread_join(t, NULL);
		else
			free_batch(&b);
	}
	CHECK(true, "20 rounds of 512 blocks filled to their usable size, freed by another thread");
}

static void calls(void)
{
	char *p = hk_launder(malloc(8000));
	size_t u = p ? malloc_usable_size(p) : 0;
	char *q = hk_launder(realloc(p, 5000));
	/* Under memcheck every realloc moves (memcheck sees each block come
	 * and go). */
	CHECK((q == p || hk_under_valgrind()) && q && malloc_usable_size(q) >= 5000 &&
		      (malloc_usable_size(q) == u || hk_under_valgrind()),
	      "realloc shrinking an 8000-byte block stays in place with its usable size (%zu, %zu)",
	      u, q ? malloc_usable_size(q) : 0);
	if (q)
		memset(q, 1, malloc_usable_size(q));
	free(q);

	/* Growing into the trailer keeps the block, which then has none:
	 * 3000 bytes in the 3072-byte class, then 3070 and 3072. */
	p = hk_launder(malloc(3000));
	bool kept = p != NULL;
	size_t grown = 0;
	for (size_t n = 3070; p && n <= 3072; n += 2) {
		memset(p, 0x77, malloc_usable_size(p));
		q = hk_launder(realloc(p, n));
		kept &= q == p || hk_under_valgrind();
		grown = q ? malloc_usable_size(q) : 0;
		if (q)
			p = q;
	}
	CHECK(kept && (grown == 3072 || !trailers),
	      "realloc growing a 3000-byte block into its trailer keeps it, with the whole class "
	      "usable (%zu)",
	      grown);
	if (p)
		memset(p, 3, malloc_usable_size(p));
	free(p);

	char *c = hk_launder(calloc(1, 8000));
	CHECK(c && hk_all_zero(c, 8000), "calloc(1, 8000) reads as zero");
	if (c)
		memset(c, 2, malloc_usable_size(c));
	free(c);

	void *a = NULL;
	int rc = posix_memalign(&a, 4096, 4096);
	CHECK(rc == 0 && ((uintptr_t)a & 4095) == 0 && malloc_usable_size(a) == 4096,
	      "posix_memalign(4096, 4096): aligned, the whole block usable (%zu)",
	      rc == 0 ? malloc_usable_size(a) : 0);
	if (rc == 0) {
		memset(a, 3, 4096);
		free(a);
	}
	void *b = hk_launder(aligned_alloc(64, 3000));
	if (b) {
		memset(b, 4, malloc_usable_size(b));
		free(b);
	}
	CHECK(b != NULL, "aligned_alloc(64, 3000) filled to its usable size and freed");
}

static void overflow_local(void *arg)
{
	(void)arg;
	char *p = hk_launder(malloc(3000));
	((volatile char *)p)[malloc_usable_size(p)] ^= 1;
	free(p);
}

static void *free_one(void *p)
{
	free(p);
	return NULL;
}

static void overflow_remote(void *arg)
{
	(void)arg;
	char *p = hk_launder(malloc(20000));
	memset(p + malloc_usable_size(p), 0x77, 4);
	pthread_t t;
	if (pthread_create(&t, NULL, free_one, p) == 0)
		pthread_join(t, NULL);
}

int main(void)
{
	char *probe = hk_launder(malloc(3000));
	trailers = probe && malloc_usable_size(probe) == 3072 - TRAILER;
	free(probe);
	if (!hk_under_valgrind())
		CHECK(trailers, "the default mode has trailers: malloc(3000) has 3064 usable bytes");
	classes();
	mixed();
	remote();
	calls();
	if (trailers) {
		expect_abort(overflow_local, NULL, "heap overflow: block 0x");
		expect_abort(overflow_remote, NULL, "heap overflow: block 0x");
	}
	return hk_done();
}

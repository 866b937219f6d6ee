/* calloc(): multiplication overflow gives NULL/ENOMEM; memory is zeroed,
 * also when it reuses dirty freed blocks of the same size (small and large),
 * and for zero-sized requests the result is freeable. */
#include "../lib/check.h"

#include <malloc.h>

static void check_overflow(void)
{
	static const struct {
		size_t a, b;
		const char *what;
	} cases[] = {
		{ SIZE_MAX / 2 + 1, 2, "SIZE_MAX/2+1 x 2" },
		{ 2, SIZE_MAX / 2 + 1, "2 x SIZE_MAX/2+1" },
		{ SIZE_MAX, SIZE_MAX, "SIZE_MAX x SIZE_MAX" },
		{ (size_t)1 << 32, (size_t)1 << 32, "2^32 x 2^32" },
		{ ((size_t)1 << 33) + 1, ((size_t)1 << 31), "(2^33+1) x 2^31" },
		{ 65537, SIZE_MAX / 65536, "65537 x SIZE_MAX/65536" },
		{ (size_t)PTRDIFF_MAX / 4 + 1, 4, "PTRDIFF_MAX/4+1 x 4" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		errno = 0;
		void *p = hk_launder(calloc(hk_size(cases[i].a),
					    hk_size(cases[i].b)));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM,
		      "calloc(%s) returns NULL/ENOMEM (got %p, errno %d)",
		      cases[i].what, p, e);
		free(p);
	}
}

static void check_zero(void)
{
	void *a = hk_launder(calloc(hk_size(0), 0));
	void *b = hk_launder(calloc(hk_size(0), 16));
	void *c = hk_launder(calloc(hk_size(16), 0));
	CHECK(a && b && c && a != b && b != c && a != c,
	      "calloc with a zero factor returns unique non-NULL pointers");
	free(a);
	free(b);
	free(c);
}

/* Dirty N blocks of size n, free them, calloc N blocks of the same size
 * (which an allocator will serve from the freed ones) and check they are
 * all zero. */
static bool dirty_then_calloc(size_t nmemb, size_t size, int count)
{
	size_t n = nmemb * size;
	void **v = malloc((size_t)count * sizeof *v);
	int bad = 0, nulls = 0;

	if (!v)
		return false;
	for (int i = 0; i < count; i++) {
		v[i] = hk_launder(malloc(n));
		if (v[i])
			memset(v[i], 0xA5, malloc_usable_size(v[i]));
	}
	for (int i = count - 1; i >= 0; i--)
		free(v[i]);
	for (int i = 0; i < count; i++) {
		v[i] = hk_launder(calloc(hk_size(nmemb), size));
		if (!v[i])
			nulls++;
		else if (!hk_all_zero(v[i], n))
			bad++;
		/* Dirty it again for the next round of this loop's
		 * callers: the next calloc of this size must zero again. */
		if (v[i])
			memset(v[i], 0x5A, n);
	}
	for (int i = 0; i < count; i++)
		free(v[i]);
	free(v);
	if (nulls || bad)
		hk_note("calloc(%zu, %zu): %d NULL, %d not zeroed", nmemb, size,
			nulls, bad);
	return nulls == 0 && bad == 0;
}

static void check_zeroed(void)
{
	static const size_t small[] = {
		1, 7, 8, 15, 16, 17, 24, 32, 48, 64, 80, 96, 128, 160, 200,
		256, 384, 512, 768, 1000, 1024, 2048, 3000, 4096, 6000, 8192,
		12288, 16384, 32768, 50000, 65536, 100000, 128 * 1024,
	};
	static const size_t large[] = {
		128 * 1024 + 1, 200 * 1024, 1 << 20, (1 << 20) + 12345,
		4 << 20, 16 << 20,
	};
	int bad = 0;
	int rounds = (int)hk_scale(3, 2);

	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
			int count = small[i] <= 4096 ? 200 : 20;
			if (!dirty_then_calloc(1, small[i], count))
				bad++;
			if (small[i] % 4 == 0 &&
			    !dirty_then_calloc(4, small[i] / 4, count))
				bad++;
		}
	CHECK(bad == 0,
	      "calloc of small sizes (1 B..128 KiB) returns zeroed memory after "
	      "reusing dirty blocks (%d size classes failed)", bad);

	bad = 0;
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < sizeof large / sizeof large[0]; i++)
			if (!dirty_then_calloc(1, large[i], 3))
				bad++;
	CHECK(bad == 0,
	      "calloc of large sizes (128 KiB+1..16 MiB) returns zeroed memory "
	      "after reusing dirty blocks (%d sizes failed)", bad);

	/* Random mixture: interleave dirty frees of many sizes with callocs. */
	hk_rng rng;
	void *keep[512] = { 0 };
	size_t keep_n[512] = { 0 };
	long iters = hk_scale(100000, 5000);
	bad = 0;
	hk_rng_seed(&rng, 3);
	for (long i = 0; i < iters; i++) {
		int k = (int)hk_rng_range(&rng, 0, 511);
		if (keep[k]) {
			memset(keep[k], 0xFF, keep_n[k]);
			free(keep[k]);
		}
		size_t n = i % 97 == 0 ? hk_rng_range(&rng, 1, 512 * 1024)
				       : hk_rng_logsize(&rng, 1, 8192);
		if (hk_rng_next(&rng) & 1) {
			keep[k] = hk_launder(calloc(1, n));
			if (keep[k] && !hk_all_zero(keep[k], n))
				bad++;
		} else {
			keep[k] = malloc(n);
		}
		keep_n[k] = keep[k] ? n : 0;
	}
	for (int k = 0; k < 512; k++)
		free(keep[k]);
	CHECK(bad == 0,
	      "calloc zeroes memory in a random malloc/calloc/free mix "
	      "(%d dirty results)", bad);
}

int main(void)
{
	check_overflow();
	check_zero();
	check_zeroed();
	return hk_done();
}

/* free_sized() and free_aligned_sized() (C23): with the correct sizes
 * (and alignments) they free blocks of every kind; NULL is a no-op; errno
 * is preserved; freed memory is reused (RSS does not grow); and a large
 * block freed this way is really released (stats.large.live, when
 * hakmem_ctl is available). */
#include "../lib/check.h"

#include <malloc.h>

/* glibc 2.36 headers do not declare these yet. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t alignment, size_t size);

int main(void)
{
	hk_rng r;
	int errno_changed = 0;

	errno = 99;
	free_sized(hk_launder(NULL), 0);
	free_sized(hk_launder(NULL), 100);
	free_aligned_sized(hk_launder(NULL), 64, 128);
	CHECK(errno == 99, "free_sized/free_aligned_sized(NULL) are no-ops "
			   "that keep errno");

	/* Every size 1..2048, then random small and large sizes. */
	for (size_t n = 1; n <= 2048; n++) {
		void *p = malloc(n);
		if (!p)
			continue;
		memset(p, (int)n, n);
		errno = (int)n;
		free_sized(p, n);
		errno_changed += errno != (int)n;
	}
	CHECK(1, "free_sized(malloc(n), n) for n = 1..2048");

	long before = hk_rss_kb();
	long iters = hk_scale(100000, 5000);
	void *keep[256] = { 0 };
	size_t keep_n[256] = { 0 };
	size_t keep_al[256] = { 0 };
	int keep_kind[256] = { 0 };

	hk_rng_seed(&r, 17);
	for (long i = 0; i < iters; i++) {
		int k = (int)hk_rng_range(&r, 0, 255);
		if (keep[k]) {
			errno = 1234;
			if (keep_kind[k] == 0)
				free_sized(keep[k], keep_n[k]);
			else
				free_aligned_sized(keep[k], keep_al[k],
						   keep_n[k]);
			errno_changed += errno != 1234;
		}
		size_t n = i % 64 == 0 ? hk_rng_range(&r, 1, 1 << 20)
				       : hk_rng_logsize(&r, 1, 32768);
		keep_n[k] = n;
		switch (hk_rng_range(&r, 0, 3)) {
		case 0:
			keep_kind[k] = 0;
			keep[k] = malloc(n);
			break;
		case 1:
			keep_kind[k] = 0;
			keep[k] = calloc(1, n);
			break;
		default: {
			size_t al = (size_t)1 << hk_rng_range(&r, 0, 14);
			/* C23: free_aligned_sized is for aligned_alloc
			 * results; size need not be a multiple of al in
			 * glibc's aligned_alloc, keep it simple anyway. */
			n = (n + al - 1) / al * al;
			keep_n[k] = n;
			keep_al[k] = al;
			keep_kind[k] = 1;
			keep[k] = aligned_alloc(al, n);
			break;
		}
		}
		if (keep[k])
			memset(keep[k], 0x77, keep_n[k]);
	}
	for (int k = 0; k < 256; k++) {
		if (!keep[k])
			continue;
		if (keep_kind[k] == 0)
			free_sized(keep[k], keep_n[k]);
		else
			free_aligned_sized(keep[k], keep_al[k], keep_n[k]);
	}
	long after = hk_rss_kb();
	hk_note("rss %ld KiB -> %ld KiB", before, after);
	CHECK(errno_changed == 0,
	      "free_sized/free_aligned_sized preserve errno (%d changed)",
	      errno_changed);
	if (!hk_under_valgrind())
		CHECK(after - before < 64 * 1024,
		      "memory freed by free_sized/free_aligned_sized is reused "
		      "(RSS grew %ld KiB)", after - before);

	/* Large blocks are released. */
	uint64_t l0, l1, l2;
	if (hk_stat("stats.large.live", &l0)) {
		void *big = hk_launder(malloc(1 << 20));
		void *abig = hk_launder(aligned_alloc(1 << 16, 1 << 20));
		hk_stat("stats.large.live", &l1);
		free_sized(big, 1 << 20);
		free_aligned_sized(abig, 1 << 16, 1 << 20);
		hk_stat("stats.large.live", &l2);
		CHECK(l1 == l0 + 2 && l2 == l0,
		      "free_sized/free_aligned_sized release large blocks "
		      "(stats.large.live %" PRIu64 " -> %" PRIu64 " -> %" PRIu64
		      ")", l0, l1, l2);
	} else {
		hk_note("hakmem_ctl not available: large-release check skipped");
	}
	return hk_done();
}

/* malloc(): zero-size requests, distinctness and non-overlap of live
 * blocks, alignment, writability across the size range, and ENOMEM for
 * impossible sizes. */
#include "../lib/check.h"

#include <malloc.h>

#define NZERO 256

static void check_zero_size(void)
{
	void *p[NZERO];
	int nulls = 0, dups = 0, misaligned = 0;

	for (int i = 0; i < NZERO; i++) {
		p[i] = hk_launder(malloc(hk_size(0)));
		if (!p[i])
			nulls++;
		else if ((uintptr_t)p[i] % _Alignof(max_align_t))
			misaligned++;
	}
	for (int i = 0; i < NZERO; i++)
		for (int j = i + 1; j < NZERO; j++)
			if (p[i] && p[i] == p[j])
				dups++;
	CHECK(nulls == 0, "malloc(0) returns non-NULL (%d of %d were NULL)",
	      nulls, NZERO);
	CHECK(dups == 0, "malloc(0) pointers are unique (%d duplicates)", dups);
	CHECK(misaligned == 0, "malloc(0) pointers are max_align_t aligned");
	for (int i = 0; i < NZERO; i++)
		free(p[i]);
	CHECK(1, "malloc(0) pointers can be freed");

	/* And once more after freeing: still fine. */
	void *a = hk_launder(malloc(hk_size(0)));
	void *b = hk_launder(malloc(hk_size(0)));
	CHECK(a && b && a != b, "malloc(0) after free: two unique pointers");
	free(a);
	free(b);
}

static void check_huge(void)
{
	static const struct {
		size_t n;
		const char *name;
	} sizes[] = {
		{ SIZE_MAX, "SIZE_MAX" },
		{ SIZE_MAX - 4096, "SIZE_MAX-4096" },
		{ HK_PTRDIFF_MAX_PLUS_1, "PTRDIFF_MAX+1" },
		{ (size_t)PTRDIFF_MAX + 4096, "PTRDIFF_MAX+4096" },
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 0;
		void *p = hk_launder(malloc(hk_size(sizes[i].n)));
		int e = errno;
		CHECK(p == NULL && e == ENOMEM,
		      "malloc(%s) returns NULL with ENOMEM (got %p, errno %d)",
		      sizes[i].name, p, e);
		free(p);
	}
}

struct blk {
	unsigned char *p;
	size_t n;
};

/* Allocate many blocks of many sizes, fill them, check that no two
 * overlap and that all contents survive. */
static void check_sizes(void)
{
	enum { N = 4000 };
	static struct blk b[N];
	hk_rng r;
	int nulls = 0, misaligned = 0, corrupt = 0, overlap = 0;
	size_t small_max = 0;

	hk_rng_seed(&r, 1);
	for (int i = 0; i < N; i++) {
		size_t n;
		if (i < 1100)
			n = (size_t)i + 1;	/* every size 1..1100 */
		else if (i % 100 == 0)
			n = hk_rng_range(&r, 128 * 1024, 3 * 1024 * 1024);
		else
			n = hk_rng_logsize(&r, 1, 128 * 1024);
		b[i].n = n;
		b[i].p = hk_launder(malloc(n));
		if (!b[i].p) {
			nulls++;
			continue;
		}
		if ((uintptr_t)b[i].p % _Alignof(max_align_t))
			misaligned++;
		hk_fill(b[i].p, n, 7);
		if (n > small_max && n <= 128 * 1024)
			small_max = n;
	}
	CHECK(nulls == 0, "malloc of %d blocks 1 B..3 MiB succeeds (%d NULL)",
	      N, nulls);
	CHECK(misaligned == 0,
	      "malloc results are aligned to _Alignof(max_align_t)=%zu "
	      "(%d misaligned)", _Alignof(max_align_t), misaligned);

	/* Overlap: sort by address and compare neighbours. */
	for (int i = 1; i < N; i++) {	/* insertion sort, N is small */
		struct blk t = b[i];
		int j = i - 1;
		while (j >= 0 && (uintptr_t)b[j].p > (uintptr_t)t.p) {
			b[j + 1] = b[j];
			j--;
		}
		b[j + 1] = t;
	}
	for (int i = 1; i < N; i++)
		if (b[i - 1].p && b[i].p &&
		    (uintptr_t)b[i - 1].p + b[i - 1].n > (uintptr_t)b[i].p) {
			if (overlap++ < 5)
				hk_note("overlap: %p+%zu and %p", b[i - 1].p,
					b[i - 1].n, b[i].p);
		}
	CHECK(overlap == 0, "live blocks never overlap (%d overlaps)", overlap);

	for (int i = 0; i < N; i++) {
		if (!b[i].p)
			continue;
		long off = hk_verify(b[i].p, b[i].n, 7);
		if (off >= 0 && corrupt++ < 5)
			hk_note("block %p size %zu corrupt at offset %ld",
				b[i].p, b[i].n, off);
		free(b[i].p);
	}
	CHECK(corrupt == 0, "contents of all live blocks intact (%d corrupt)",
	      corrupt);
}

/* malloc/free in a loop reuses memory: the RSS must not grow without
 * bound for a steady-state workload. */
static void check_steady_state(void)
{
	long iters = hk_scale(200000, 20000);
	long before = hk_rss_kb();
	hk_rng r;
	void *keep[64] = { 0 };

	hk_rng_seed(&r, 2);
	for (long i = 0; i < iters; i++) {
		int k = (int)hk_rng_range(&r, 0, 63);
		free(keep[k]);
		size_t n = hk_rng_logsize(&r, 1, 16384);
		keep[k] = malloc(n);
		if (keep[k])
			((volatile char *)keep[k])[n - 1] = 1;
	}
	for (int k = 0; k < 64; k++)
		free(keep[k]);
	long after = hk_rss_kb();
	hk_note("steady state: rss %ld KiB -> %ld KiB", before, after);
	if (!hk_under_valgrind())
		CHECK(after - before < 32 * 1024,
		      "malloc/free churn of 64 live blocks grows RSS by < 32 MiB "
		      "(grew %ld KiB)", after - before);
}

int main(void)
{
	check_zero_size();
	check_huge();
	check_sizes();
	check_steady_state();
	return hk_done();
}

/* Impossible requests: SIZE_MAX and PTRDIFF_MAX+1 bytes (and a few
 * neighbours) fail with NULL/ENOMEM in every allocating function, and the
 * allocator still works afterwards. */
#include "../lib/check.h"

#include <malloc.h>

static const struct {
	size_t n;
	const char *name;
} huge[] = {
	{ SIZE_MAX, "SIZE_MAX" },
	{ SIZE_MAX - 1, "SIZE_MAX-1" },
	{ SIZE_MAX - 65536, "SIZE_MAX-64K" },
	{ HK_PTRDIFF_MAX_PLUS_1, "PTRDIFF_MAX+1" },
	{ (size_t)PTRDIFF_MAX + 2 * 1024 * 1024, "PTRDIFF_MAX+2M" },
};
#define NHUGE (sizeof huge / sizeof huge[0])

#define EXPECT_ENOMEM(call, fmt, ...)                                        \
	do {                                                                 \
		errno = 0;                                                   \
		void *p_ = hk_launder(call);                                 \
		int e_ = errno;                                              \
		CHECK(p_ == NULL && e_ == ENOMEM,                            \
		      fmt " returns NULL/ENOMEM (got %p, errno %d)",         \
		      __VA_ARGS__, p_, e_);                                  \
		free(p_);                                                    \
	} while (0)

int main(void)
{
	for (size_t i = 0; i < NHUGE; i++) {
		size_t n = hk_size(huge[i].n);
		const char *nm = huge[i].name;

		EXPECT_ENOMEM(malloc(n), "malloc(%s)", nm);
		EXPECT_ENOMEM(calloc(1, n), "calloc(1, %s)", nm);
		EXPECT_ENOMEM(calloc(n, 1), "calloc(%s, 1)", nm);
		EXPECT_ENOMEM(realloc(NULL, n), "realloc(NULL, %s)", nm);
		EXPECT_ENOMEM(reallocarray(NULL, 1, n),
			      "reallocarray(NULL, 1, %s)", nm);
		EXPECT_ENOMEM(reallocarray(NULL, n, 1),
			      "reallocarray(NULL, %s, 1)", nm);
		EXPECT_ENOMEM(aligned_alloc(hk_size(64), n),
			      "aligned_alloc(64, %s)", nm);
		EXPECT_ENOMEM(aligned_alloc(hk_size(4096), n),
			      "aligned_alloc(4096, %s)", nm);
		EXPECT_ENOMEM(memalign(hk_size(16), n), "memalign(16, %s)", nm);
		EXPECT_ENOMEM(memalign(hk_size(1 << 20), n),
			      "memalign(1M, %s)", nm);
		EXPECT_ENOMEM(valloc(n), "valloc(%s)", nm);
		EXPECT_ENOMEM(pvalloc(n), "pvalloc(%s)", nm);

		/* posix_memalign reports through its return value and must
		 * leave *memptr alone on failure (glibc does). */
		void *sentinel = (void *)(uintptr_t)0x5a5a5a50;
		void *m = sentinel;
		int rc = posix_memalign(&m, hk_size(64), n);
		CHECK(rc == ENOMEM && m == sentinel,
		      "posix_memalign(64, %s) returns ENOMEM, *memptr untouched "
		      "(rc %d)", nm, rc);
		m = sentinel;
		rc = posix_memalign(&m, hk_size(65536), n);
		CHECK(rc == ENOMEM && m == sentinel,
		      "posix_memalign(64K, %s) returns ENOMEM, *memptr "
		      "untouched (rc %d)", nm, rc);

		/* Existing blocks: realloc to a huge size fails, block kept. */
		char *small = malloc(100);
		char *large = malloc(300000);
		if (!CHECK(small && large, "setup allocations for %s", nm))
			return hk_done();
		hk_fill(small, 100, 1);
		hk_fill(large, 300000, 2);
		errno = 0;
		void *q = hk_launder(realloc(hk_launder(small), n));
		int e = errno;
		CHECK(q == NULL && e == ENOMEM && hk_verify(small, 100, 1) < 0,
		      "realloc(small, %s) fails with ENOMEM, block intact "
		      "(got %p, errno %d)", nm, q, e);
		errno = 0;
		q = hk_launder(realloc(hk_launder(large), n));
		e = errno;
		CHECK(q == NULL && e == ENOMEM &&
		      hk_verify(large, 300000, 2) < 0,
		      "realloc(large, %s) fails with ENOMEM, block intact "
		      "(got %p, errno %d)", nm, q, e);
		free(small);
		free(large);
	}

	/* Allocator still healthy. */
	void *ok[16];
	int nulls = 0;
	for (int i = 0; i < 16; i++) {
		ok[i] = malloc((size_t)1 << i);
		nulls += ok[i] == NULL;
	}
	for (int i = 0; i < 16; i++)
		free(ok[i]);
	CHECK(nulls == 0, "malloc works after the failed requests");
	return hk_done();
}

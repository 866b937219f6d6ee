/* The hakmem_* entry points behave like their unprefixed glibc
 * counterparts, and they are the same engine: blocks can be passed between
 * hakmem_free() and free() in both directions in a program linked with
 * hakmem. */
#include "../lib/check.h"

#include <malloc.h>

#include "hakmem.h"

static void check_basic(void)
{
	void *z1 = hk_launder(hakmem_malloc(0));
	void *z2 = hk_launder(hakmem_malloc(0));
	CHECK(z1 && z2 && z1 != z2, "hakmem_malloc(0): unique pointers");
	hakmem_free(z1);
	hakmem_free(z2);

	errno = 0;
	void *p = hk_launder(hakmem_malloc(hk_size(SIZE_MAX)));
	CHECK(p == NULL && errno == ENOMEM, "hakmem_malloc(SIZE_MAX): ENOMEM");
	errno = 0;
	p = hk_launder(hakmem_malloc(hk_size(HK_PTRDIFF_MAX_PLUS_1)));
	CHECK(p == NULL && errno == ENOMEM,
	      "hakmem_malloc(PTRDIFF_MAX+1): ENOMEM");
	errno = 0;
	p = hk_launder(hakmem_calloc(hk_size(SIZE_MAX / 2 + 1), 2));
	CHECK(p == NULL && errno == ENOMEM, "hakmem_calloc overflow: ENOMEM");
	errno = 0;
	p = hk_launder(hakmem_reallocarray(NULL, hk_size((size_t)1 << 32),
					   (size_t)1 << 32));
	CHECK(p == NULL && errno == ENOMEM,
	      "hakmem_reallocarray overflow: ENOMEM");

	/* calloc zeroes after dirty reuse */
	int dirty = 0;
	for (int i = 0; i < 100; i++) {
		size_t n = (size_t)(i % 10 + 1) * 100 + (i == 50 ? 300000 : 0);
		char *d = hakmem_malloc(n);
		if (d)
			memset(d, 0xEE, n);
		hakmem_free(d);
		char *c = hk_launder(hakmem_calloc(1, n));
		if (!c || !hk_all_zero(c, n))
			dirty++;
		hakmem_free(c);
	}
	CHECK(dirty == 0, "hakmem_calloc returns zeroed memory (%d bad)",
	      dirty);

	/* realloc keeps contents, realloc(p, 0) frees and returns NULL */
	unsigned char *r = hakmem_malloc(100);
	int lost = 0;
	if (r) {
		hk_fill(r, 100, 0);
		unsigned char copy[100];
		memcpy(copy, r, 100);
		static const size_t steps[] = { 1000, 300000, 2000000, 50,
						100000 };
		for (size_t s = 0; s < 5; s++) {
			unsigned char *q = hakmem_realloc(r, steps[s]);
			if (!q) {
				lost++;
				break;
			}
			r = q;
			size_t keep = steps[s] < 50 ? steps[s] : 50;
			if (memcmp(r, copy, keep) != 0)
				lost++;
		}
		errno = 0;
		void *f = hk_launder(hakmem_realloc(hk_launder(r), hk_size(SIZE_MAX)));
		CHECK(f == NULL && errno == ENOMEM && memcmp(r, copy, 50) == 0,
		      "hakmem_realloc(p, SIZE_MAX): ENOMEM, block intact");
		f = hakmem_realloc(hk_launder(r), 0);
		CHECK(f == NULL, "hakmem_realloc(p, 0) returns NULL");
	}
	CHECK(r && lost == 0,
	      "hakmem_realloc preserves contents small<->large");

	/* errno preserved by hakmem_free */
	errno = 31337;
	hakmem_free(hakmem_malloc(10));
	hakmem_free(hakmem_malloc(500000));
	hakmem_free(NULL);
	CHECK(errno == 31337, "hakmem_free preserves errno");

	CHECK(hakmem_malloc_usable_size(NULL) == 0,
	      "hakmem_malloc_usable_size(NULL) == 0");
	int small_usable = 0;
	for (size_t n = 1; n < 5000; n += 37) {
		void *u = hakmem_malloc(n);
		size_t us = hakmem_malloc_usable_size(u);
		if (!u || us < n)
			small_usable++;
		else
			memset(u, 1, us);
		hakmem_free(u);
	}
	CHECK(small_usable == 0, "hakmem_malloc_usable_size >= requested");
}

static void check_aligned(void)
{
	void *sentinel = (void *)(uintptr_t)0x1230;
	void *p = sentinel;
	int rc = hakmem_posix_memalign(&p, hk_size(3), 10);
	CHECK(rc == EINVAL && p == sentinel,
	      "hakmem_posix_memalign(align 3): EINVAL, *memptr untouched");
	rc = hakmem_posix_memalign(&p, hk_size(0), 10);
	CHECK(rc == EINVAL && p == sentinel,
	      "hakmem_posix_memalign(align 0): EINVAL");
	rc = hakmem_posix_memalign(&p, hk_size(4), 10);
	CHECK(rc == EINVAL && p == sentinel,
	      "hakmem_posix_memalign(align 4 < sizeof(void*)): EINVAL");
	rc = hakmem_posix_memalign(&p, hk_size(48), 10);
	CHECK(rc == EINVAL && p == sentinel,
	      "hakmem_posix_memalign(align 48): EINVAL");

	int bad = 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	for (size_t al = 1; al <= (1u << 20); al *= 2) {
		size_t n = al * 3 + 5;
		void *a = hakmem_aligned_alloc(al, n);
		void *m = hakmem_memalign(al, n);
		void *q = NULL;
		if (al >= sizeof(void *) &&
		    hakmem_posix_memalign(&q, al, n) != 0)
			bad++;
		if (!a || (uintptr_t)a % al ||
		    hakmem_malloc_usable_size(a) < n)
			bad++;
		if (!m || (uintptr_t)m % al ||
		    hakmem_malloc_usable_size(m) < n)
			bad++;
		if (al >= sizeof(void *) &&
		    (!q || (uintptr_t)q % al ||
		     hakmem_malloc_usable_size(q) < n))
			bad++;
		if (a)
			memset(a, 1, n);
		if (m)
			memset(m, 2, n);
		if (q)
			memset(q, 3, n);
		hakmem_free_aligned_sized(a, al, n);
		hakmem_free(m);
		hakmem_free(q);
	}
	CHECK(bad == 0, "hakmem_aligned_alloc/memalign/posix_memalign align "
			"1..1M correctly (%d bad)", bad);

	bad = 0;
	for (size_t n = 1; n < 3 * page; n += page / 3) {
		void *v = hakmem_valloc(n);
		void *pv = hakmem_pvalloc(n);
		size_t want = (n + page - 1) / page * page;
		if (!v || (uintptr_t)v % page ||
		    hakmem_malloc_usable_size(v) < n)
			bad++;
		if (!pv || (uintptr_t)pv % page ||
		    hakmem_malloc_usable_size(pv) < want)
			bad++;
		if (v)
			memset(v, 4, n);
		if (pv)
			memset(pv, 5, want);
		hakmem_free(v);
		hakmem_free(pv);
	}
	CHECK(bad == 0, "hakmem_valloc/pvalloc page alignment and rounding "
			"(%d bad)", bad);

	errno = 55;
	void *s = hakmem_malloc(777);
	hakmem_free_sized(s, 777);
	s = hakmem_malloc(777777);
	hakmem_free_sized(s, 777777);
	hakmem_free_sized(NULL, 0);
	hakmem_free_aligned_sized(NULL, 64, 64);
	CHECK(errno == 55, "hakmem_free_sized/free_aligned_sized preserve errno");
}

/* Same engine: hakmem_malloc'ed blocks freed with free() and vice versa,
 * usable sizes agree. */
static void check_same_engine(void)
{
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		size_t n = (size_t)(i * 53 % 4000) + (i % 100 == 0 ? 200000 : 1);
		void *a = hakmem_malloc(n);
		void *b = malloc(n);
		if (!a || !b) {
			bad++;
		} else {
			if (malloc_usable_size(a) !=
				    hakmem_malloc_usable_size(a) ||
			    malloc_usable_size(b) !=
				    hakmem_malloc_usable_size(b))
				bad++;
			memset(a, 1, n);
			memset(b, 2, n);
		}
		if (i % 2) {
			free(a);
			hakmem_free(b);
		} else {
			void *ra = realloc(a, n + 10);
			void *rb = hakmem_realloc(b, n + 10);
			if (!ra || !rb)
				bad++;
			hakmem_free(ra ? ra : a);
			free(rb ? rb : b);
		}
	}
	CHECK(bad == 0, "hakmem_* and the plain names share one heap (%d bad)",
	      bad);
}

int main(void)
{
	check_basic();
	check_aligned();
	check_same_engine();
	return hk_done();
}

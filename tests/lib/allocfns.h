/* allocfns.h - every public allocating function of hakmem behind one
 * signature, for the exhaustion and fault-injection tests.
 *
 * hk_fns[i].call(n, &err) allocates a block of at least n bytes the way
 * that function does (posix_memalign's result code, realloc from NULL and
 * from a live small block, the hakmem_ names ...) and returns it, or NULL
 * with err set to the error the function reported (errno, or the result
 * of posix_memalign).  hk_fn_valid() checks a block it returned: alignment,
 * usable size, zeroed for calloc, writable at both ends.
 *
 * Include after check.h, in programs linked with hakmem. */
#ifndef HAKMEM_TEST_ALLOCFNS_H
#define HAKMEM_TEST_ALLOCFNS_H

#include <hakmem.h>
#include <malloc.h>

struct hk_fn {
	const char *name;
	void *(*call)(size_t n, int *err);
	size_t align;		/* alignment the result must have */
	bool zeroed;		/* the block must read as zero */
};

#define HK_FN_ERRNO(expr)               \
	do {                            \
		errno = 0;              \
		void *p_ = (expr);      \
		*err = p_ ? 0 : errno;  \
		return p_;              \
	} while (0)

static inline void *hk_fn_malloc(size_t n, int *err)
{
	HK_FN_ERRNO(malloc(hk_size(n)));
}

static inline void *hk_fn_calloc(size_t n, int *err)
{
	HK_FN_ERRNO(calloc(hk_size((n + 15) / 16), 16));
}

static inline void *hk_fn_realloc_null(size_t n, int *err)
{
	HK_FN_ERRNO(realloc(NULL, hk_size(n)));
}

/* realloc of a live 24-byte block to n: on failure the old block must
 * survive (it is freed here after being checked). */
static inline void *hk_fn_realloc_grow(size_t n, int *err)
{
	unsigned char *old = malloc(24);
	if (!old) {
		*err = errno;
		return NULL;
	}
	memset(old, 0xa5, 24);
	errno = 0;
	unsigned char *p = realloc(old, hk_size(n < 25 ? 25 : n));
	*err = p ? 0 : errno;
	if (!p) {
		for (int i = 0; i < 24; i++)
			if (old[i] != 0xa5)
				*err = -2;	/* a failed realloc hurt the block */
		free(old);
		return NULL;
	}
	for (int i = 0; i < 24; i++)
		if (p[i] != 0xa5)
			*err = -3;	/* content lost */
	return p;
}

static inline void *hk_fn_reallocarray(size_t n, int *err)
{
	HK_FN_ERRNO(reallocarray(NULL, hk_size((n + 7) / 8), 8));
}

static inline void *hk_fn_posix_memalign64(size_t n, int *err)
{
	void *p = (void *)0x1;	/* must not be changed on failure */
	int rc = posix_memalign(&p, 64, hk_size(n));
	*err = rc;
	if (rc) {
		if (p != (void *)0x1)
			*err = -4;
		return NULL;
	}
	return p;
}

static inline void *hk_fn_posix_memalign1m(size_t n, int *err)
{
	void *p = (void *)0x1;
	int rc = posix_memalign(&p, 1 << 20, hk_size(n));
	*err = rc;
	if (rc) {
		if (p != (void *)0x1)
			*err = -4;
		return NULL;
	}
	return p;
}

static inline void *hk_fn_aligned_alloc(size_t n, int *err)
{
	HK_FN_ERRNO(aligned_alloc(4096, hk_size((n + 4095) & ~(size_t)4095)));
}

static inline void *hk_fn_memalign(size_t n, int *err)
{
	HK_FN_ERRNO(memalign(256, hk_size(n)));
}

static inline void *hk_fn_valloc(size_t n, int *err)
{
	HK_FN_ERRNO(valloc(hk_size(n)));
}

static inline void *hk_fn_pvalloc(size_t n, int *err)
{
	HK_FN_ERRNO(pvalloc(hk_size(n)));
}

static inline void *hk_fn_hakmem_malloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_malloc(hk_size(n)));
}

static inline void *hk_fn_hakmem_calloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_calloc(1, hk_size(n)));
}

static inline void *hk_fn_hakmem_realloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_realloc(NULL, hk_size(n)));
}

static inline void *hk_fn_hakmem_reallocarray(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_reallocarray(NULL, 1, hk_size(n)));
}

static inline void *hk_fn_hakmem_posix_memalign(size_t n, int *err)
{
	void *p = (void *)0x1;
	int rc = hakmem_posix_memalign(&p, 128, hk_size(n));
	*err = rc;
	if (rc) {
		if (p != (void *)0x1)
			*err = -4;
		return NULL;
	}
	return p;
}

static inline void *hk_fn_hakmem_aligned_alloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_aligned_alloc(65536, hk_size((n + 65535) &
							~(size_t)65535)));
}

static inline void *hk_fn_hakmem_memalign(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_memalign(32, hk_size(n)));
}

static inline void *hk_fn_hakmem_valloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_valloc(hk_size(n)));
}

static inline void *hk_fn_hakmem_pvalloc(size_t n, int *err)
{
	HK_FN_ERRNO(hakmem_pvalloc(hk_size(n)));
}

static const struct hk_fn hk_fns[] = {
	{ "malloc", hk_fn_malloc, 16, false },
	{ "calloc", hk_fn_calloc, 16, true },
	{ "realloc(NULL, n)", hk_fn_realloc_null, 16, false },
	{ "realloc(24-byte block, n)", hk_fn_realloc_grow, 16, false },
	{ "reallocarray", hk_fn_reallocarray, 16, false },
	{ "posix_memalign(64)", hk_fn_posix_memalign64, 64, false },
	{ "posix_memalign(1 MiB)", hk_fn_posix_memalign1m, 1 << 20, false },
	{ "aligned_alloc(4096)", hk_fn_aligned_alloc, 4096, false },
	{ "memalign(256)", hk_fn_memalign, 256, false },
	{ "valloc", hk_fn_valloc, 4096, false },
	{ "pvalloc", hk_fn_pvalloc, 4096, false },
	{ "hakmem_malloc", hk_fn_hakmem_malloc, 16, false },
	{ "hakmem_calloc", hk_fn_hakmem_calloc, 16, true },
	{ "hakmem_realloc(NULL, n)", hk_fn_hakmem_realloc, 16, false },
	{ "hakmem_reallocarray", hk_fn_hakmem_reallocarray, 16, false },
	{ "hakmem_posix_memalign(128)", hk_fn_hakmem_posix_memalign, 128,
	  false },
	{ "hakmem_aligned_alloc(64 KiB)", hk_fn_hakmem_aligned_alloc, 65536,
	  false },
	{ "hakmem_memalign(32)", hk_fn_hakmem_memalign, 32, false },
	{ "hakmem_valloc", hk_fn_hakmem_valloc, 4096, false },
	{ "hakmem_pvalloc", hk_fn_hakmem_pvalloc, 4096, false },
};

#define HK_NFNS (sizeof hk_fns / sizeof hk_fns[0])

/* A block that fn returned for n bytes is usable: aligned, big enough,
 * zeroed if it must be, writable at both ends. */
static inline bool hk_fn_valid(const struct hk_fn *fn, void *p, size_t n)
{
	unsigned char *b = p;
	if ((uintptr_t)p & (fn->align - 1))
		return false;
	if (malloc_usable_size(p) < n)
		return false;
	if (fn->zeroed && n && (b[0] || b[n - 1] || b[n / 2]))
		return false;
	if (n) {
		b[0] = 1;
		b[n - 1] = 2;
	}
	return true;
}

#endif /* HAKMEM_TEST_ALLOCFNS_H */

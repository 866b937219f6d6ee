/* The exported malloc family: glibc's semantics and errno conventions over
 * the engine, defined as hakmem_<name> and exported under both names. */
#include "common.h"

#include <errno.h>
#include <string.h>

#include "hakmem.h"
#include "alloc.h"
#include "foreign.h"
#include "hardened.h"
#include "init.h"
#include "large.h"
#include "log.h"
#include "size_class.h"
#include "tcache.h"
#include "vg.h"

#define HK_ALIAS(name) __attribute__((alias(#name), visibility("default")))

static size_t usable(const void *p)
{
	hk_large *l;
	size_t n;
	return hk_block_usable(p, "malloc_usable_size()", &l, &n) ? n : 0;
}

/* A large block, see alloc.h. */
void *hk_alloc_large(size_t size, size_t align, unsigned kind, size_t *dirty)
{
	hk_global_init();	/* the options decide the block's layout */
	void *p = hk_large_alloc(size, align, kind, dirty);
	if (HK_UNLIKELY(!p) && hk_reclaim())
		p = hk_large_alloc(size, align, kind, dirty);
	return p;
}

HK_EXPORT void *hakmem_malloc(size_t size)
{
	return hk_alloc(size);
}

HK_EXPORT void hakmem_free(void *p)
{
	hk_free_fast(p);
}

HK_EXPORT void *hakmem_calloc(size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p;
	if (total <= HK_SMALL_MAX) {
		bool zeroed = true;
		p = hk_tcache_alloc_sealed(hk_size_class(total), total, HK_MIN_ALIGN, HK_KIND_MALLOC,
					   &zeroed);
		if (p && !zeroed)
			memset(p, 0, total);
	} else {
		size_t dirty;
		p = hk_alloc_large(total, HK_MIN_ALIGN, HK_KIND_MALLOC, &dirty);
		if (p && dirty)
			memset(p, 0, dirty < total ? dirty : total);
	}
	return p;
}

static void *realloc_moving(void *p, size_t old, size_t size)
{
	void *q = hakmem_malloc(size);
	if (!q)
		return NULL;
	memcpy(q, p, old < size ? old : size);
	hakmem_free(p);
	return q;
}

/* realloc of anything but a live block of the calling thread's that
 * stays where it is; old: p's usable size if hk_local_usable knew it, else
 * 0. */
static HK_NOINLINE void *realloc_other(void *p, size_t size, size_t old)
{
	if (!p)
		return hakmem_malloc(size);
	if (size == 0) {
		hakmem_free(p);
		return NULL;
	}
	if (old) {
		/* Growing into its trailer: the block is kept without one. */
		hk_slab *s;
		if (size > old && size - old <= HK_TRAILER_BYTES && (s = hk_local_slab(p)) &&
		    size <= s->block_size) {
			hk_trailer_seal(s, p, size);
			return p;
		}
		return realloc_moving(p, old, size);
	}
	/* A block of glibc's malloc (foreign.h): the copy goes to hakmem and
	 * hakmem_free hands the old block back to glibc. */
	if (HK_UNLIKELY(!hk_registry_lookup(p) && !hk_zero_size_owns(p))) {
		size_t theirs = hk_foreign_usable(p);
		if (theirs)
			return realloc_moving(p, theirs, size);
	}
	hk_large *l;
	if (HK_UNLIKELY(!hk_block_usable(p, "realloc()", &l, &old))) {
		errno = EINVAL;
		return NULL;
	}
	/* Memcheck sees every block come and go; guard pages would be left
	 * behind by an in-place resize. */
	if (HK_UNLIKELY(hk_vg_on || (l && (hk_hard_guard_pages() || hk_hard_slow()))))
		return realloc_moving(p, old, size);
	if (HK_UNLIKELY(!l && (hk_hard_slow() || hk_hard_canary_slabs()))) {
		int r = hk_hardened_resize(p, size);
		if (r < 0) {
			errno = EINVAL;
			return NULL;
		}
		return r ? p : realloc_moving(p, old, size);
	}
	if (l && size > HK_SMALL_MAX)
		return hk_large_realloc(l, size);
	if (!l && size <= old && size > old / 2)
		return p;
	return realloc_moving(p, old, size);
}

/* A small block of the calling thread's is kept if the new size fits
 * and would not waste more than half of it; anything else is
 * realloc_other's. Kept in place: 51 instructions with the ret, 62 for
 * a block with a trailer, 14 more for a slot other than its slab's first
 * (objdump -d of hakmem_realloc in a build configured with
 * ac_cv_header_valgrind_valgrind_h=no). Callgrind of bench/realloc --mode
 * string --ops 1000000: 72 per call, moves included, memcpy not. */
HK_EXPORT void *hakmem_realloc(void *p, size_t size)
{
	size_t old = hk_local_usable(p);
	if (HK_LIKELY(size <= old && size > old / 2))
		return p;
	return realloc_other(p, size, old);
}

HK_EXPORT void *hakmem_reallocarray(void *p, size_t n, size_t size)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return hakmem_realloc(p, total);
}

HK_EXPORT int hakmem_posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || !hk_is_pow2(align))
		return EINVAL;
	/* errno stays as it was: only a failure (which sets it) restores it. */
	int *e = &errno, saved = *e;
	void *p = hk_alloc_aligned(align, size);
	if (HK_UNLIKELY(!p)) {
		int err = *e;
		*e = saved;
		return err;
	}
	*out = p;
	return 0;
}

HK_EXPORT void *hakmem_aligned_alloc(size_t align, size_t size)
{
	if (!hk_is_pow2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return hk_alloc_aligned(align, size);
}

HK_EXPORT void *hakmem_memalign(size_t align, size_t size)
{
	if (align > SIZE_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	/* Like glibc, round an alignment that is not a power of two up. */
	if (!hk_is_pow2(align))
		align = align ? (size_t)1 << (64 - __builtin_clzl(align)) : 1;
	return hk_alloc_aligned(align, size);
}

HK_EXPORT void *hakmem_valloc(size_t size)
{
	return hakmem_memalign(HK_PAGE_SIZE, size);
}

HK_EXPORT void *hakmem_pvalloc(size_t size)
{
	if (size > SIZE_MAX - HK_PAGE_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	return hakmem_memalign(HK_PAGE_SIZE, size ? hk_align_up(size, HK_PAGE_SIZE) : HK_PAGE_SIZE);
}

HK_EXPORT size_t hakmem_malloc_usable_size(void *p)
{
	return p ? usable(p) : 0;
}

bool hk_free_size_ok(void *p, size_t size, const char *what)
{
	hk_large *l;
	size_t usable;
	if (!p)
		return true;
	if (!hk_block_usable(p, what, &l, &usable))
		return false;
	if (size > usable) {
		hk_misuse("%s: size %zu is larger than the block %p (%zu bytes)", what, size, p,
			  usable);
		return false;
	}
	/* With small canaries the block knows the size it was asked for
	 * (realloc in place records the new one): anything else is wrong. */
	if (size < usable && hk_hard_canary_small()) {
		hk_misuse("%s: size %zu is not that of the block %p (%zu bytes)", what, size, p,
			  usable);
		return false;
	}
	return true;
}

HK_EXPORT void hakmem_free_sized(void *p, size_t size)
{
	if (hk_free_size_ok(p, size, "free_sized()"))
		hakmem_free(p);
}

HK_EXPORT void hakmem_free_aligned_sized(void *p, size_t align, size_t size)
{
	if (hk_free_align_ok(p, align, "free_aligned_sized()") &&
	    hk_free_size_ok(p, size, "free_aligned_sized()"))
		hakmem_free(p);
}

/* The unprefixed names. A build of the engine for sanitizer tests defines
 * HAKMEM_PREFIX_ONLY so that the sanitizer keeps the process's malloc. */
#ifndef HAKMEM_PREFIX_ONLY
void *malloc(size_t) HK_ALIAS(hakmem_malloc);
void free(void *) HK_ALIAS(hakmem_free);
void *calloc(size_t, size_t) HK_ALIAS(hakmem_calloc);
void *realloc(void *, size_t) HK_ALIAS(hakmem_realloc);
void *reallocarray(void *, size_t, size_t) HK_ALIAS(hakmem_reallocarray);
int posix_memalign(void **, size_t, size_t) HK_ALIAS(hakmem_posix_memalign);
void *aligned_alloc(size_t, size_t) HK_ALIAS(hakmem_aligned_alloc);
void *memalign(size_t, size_t) HK_ALIAS(hakmem_memalign);
void *valloc(size_t) HK_ALIAS(hakmem_valloc);
void *pvalloc(size_t) HK_ALIAS(hakmem_pvalloc);
size_t malloc_usable_size(void *) HK_ALIAS(hakmem_malloc_usable_size);
void free_sized(void *, size_t) HK_ALIAS(hakmem_free_sized);
void free_aligned_sized(void *, size_t, size_t) HK_ALIAS(hakmem_free_aligned_sized);
#endif

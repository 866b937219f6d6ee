/* The allocation entry points and the checks of a sized or aligned free,
 * shared by the exported families: the malloc family (malloc.c) and the
 * C++ operators (new_delete.c). Defined in malloc.c. */
#ifndef HK_ALLOC_H
#define HK_ALLOC_H

#include "common.h"

#include "hardened.h"
#include "log.h"
#include "size_class.h"
#include "tcache.h"

/* A large block (align a power of two) allocated as kind (enum hk_kind);
 * on failure NULL with errno ENOMEM. When the kernel refuses the mapping,
 * the memory the engine keeps for reuse may be what the address space
 * lacks: it is given back and the mapping asked for once more. Not
 * inlined: the fast paths would then save registers for the retry's sake.
 * dirty as for hk_large_alloc. */
HK_NOINLINE void *hk_alloc_large(size_t size, size_t align, unsigned kind, size_t *dirty);

/* A block of at least size bytes (a unique one for 0), aligned to align
 * (a power of two), allocated as kind (recorded in hardened mode only: the
 * fast path passes it on to the slow path, which costs nothing); NULL
 * with errno ENOMEM on failure. */
HK_INLINE void *hk_alloc_as(size_t align, size_t size, unsigned kind)
{
	if (HK_LIKELY(align <= HK_MIN_ALIGN)) {
		if (HK_LIKELY(size <= HK_TINY_MAX))
			return hk_tcache_alloc(hk_tiny_size_class(size), size, HK_MIN_ALIGN, kind, NULL);
		if (size <= HK_SMALL_MAX)
			return hk_tcache_alloc_sealed(hk_medium_size_class(size), size, HK_MIN_ALIGN,
						      kind, NULL);
	} else if (size <= HK_SMALL_MAX && align <= HK_SLOT_SIZE) {
		return hk_tcache_alloc_sealed(hk_size_class_aligned(size, align), size, align, kind,
					      NULL);
	}
	return hk_alloc_large(size, align > HK_MIN_ALIGN ? align : HK_MIN_ALIGN, kind, NULL);
}

/* The malloc family's: kind HK_KIND_MALLOC. */
HK_INLINE void *hk_alloc(size_t size)
{
	return hk_alloc_as(HK_MIN_ALIGN, size, HK_KIND_MALLOC);
}

HK_INLINE void *hk_alloc_aligned(size_t align, size_t size)
{
	return hk_alloc_as(align, size, HK_KIND_MALLOC);
}

/* Whether freeing p (NULL allowed) with a stated size may go on. A size
 * larger than the block is certainly wrong; a smaller one may be right
 * (realloc keeps a block that shrinks by less than half), except with
 * small canaries, where the block records its size. On misuse, reported
 * naming the caller (what), false. */
bool hk_free_size_ok(void *p, size_t size, const char *what);

/* Whether freeing p (NULL allowed) with a stated alignment align (0: none
 * stated) may go on: p must be aligned to it. On misuse, reported naming
 * the caller (what), false. */
HK_INLINE bool hk_free_align_ok(const void *p, size_t align, const char *what)
{
	if (HK_UNLIKELY(p && align && ((uintptr_t)p & (align - 1)))) {
		hk_misuse("%s: %p is not aligned to %zu", what, p, align);
		return false;
	}
	return true;
}

#endif

/* Hardened mode: the checks the default mode cannot afford on its fast
 * paths, each an option of its own (options.h) so that an operator can
 * pick, and all of them on with hardened = 1:
 *
 *   canary        slab blocks (canary = all; canary = medium, an opt-in:
 *                 those of the classes above HK_TINY_MAX but the
 *                 largest): the request size and a trailer word at the
 *                 end of the block, the bytes after the request (up to
 *                 64) a pattern; checked at free, with the trailer of the
 *                 block before (an underflow of this block writes there).
 *                 Large blocks (canary = large, the default, medium or
 *                 all): the same pattern in the room after the block and
 *                 in the header before it.
 *   guard_pages   large blocks: an inaccessible 64 KiB region on each side.
 *   zero_on_free  freed blocks are zeroed, and checked still zero when
 *                 handed out again (a write after free is reported), so
 *                 every block reads as zero when handed out.
 *   zero_alloc    every block is zeroed when handed out (no check).
 *   quarantine    freed small blocks wait in a per-thread ring of that
 *                 many, evicted at random, before reuse; freed large blocks
 *                 are made inaccessible and their addresses kept out of
 *                 use for the next HK_LARGE_QUARANTINE large frees.
 *   zero_size     malloc(0) returns a distinct address in an inaccessible
 *                 region: any access through it faults. On by default:
 *                 it costs the fast paths nothing, a request of 0 bytes
 *                 having a class of its own that they never serve
 *                 (HK_ZERO_CLASS).
 *
 * The mechanisms for small blocks need the size of each request, so while
 * one of them is on (hk_hard_slow) every call takes the slow paths: the
 * fast-path heap stays hk_empty_heap (tcache.h). With canary = medium only
 * the classes above HK_TINY_MAX do (hk_hard_canary_class): their slabs
 * are kept where the fast paths do not take them (heap.h). The mechanisms
 * for large blocks live on the large path, which is slow anyway.
 */
#ifndef HK_HARDENED_H
#define HK_HARDENED_H

#include "common.h"
#include "options.h"
#include "size_class.h"

enum hk_canary { HK_CANARY_OFF, HK_CANARY_LARGE, HK_CANARY_MEDIUM, HK_CANARY_ALL };

/* How a block was allocated, kept in its trailer (or large header) while
 * small canaries are on, so that a C++ delete of the wrong form is caught. */
enum hk_kind { HK_KIND_FREE, HK_KIND_MALLOC, HK_KIND_NEW, HK_KIND_NEW_ARRAY };

/* Bytes the trailer takes at the end of a small block. */
#define HK_TRAILER ((size_t)8)

/* Freed large blocks kept inaccessible before their addresses are unmapped. */
#define HK_LARGE_QUARANTINE 64

/* The ring of a thread's quarantine has room for this many blocks. */
#define HK_QUARANTINE_MAX 256

HK_INLINE bool hk_hard_canary_small(void)
{
	return HK_OPT(hardened) || HK_OPT(canary) == HK_CANARY_ALL;
}

/* Whether the blocks of class cls carry canaries: every class with
 * canary = all; with canary = medium those above HK_TINY_MAX but the
 * largest, so that a request of 128 KiB, a common size, stays a slab
 * block (with a trailer it would be a large one). */
HK_INLINE bool hk_hard_canary_class(unsigned cls)
{
	return hk_hard_canary_small() ||
	       (HK_OPT(canary) == HK_CANARY_MEDIUM && cls >= HK_MEDIUM_CLASS0 &&
		cls < HK_NCLASSES - 1);
}

/* Whether the blocks of some class carry canaries. */
HK_INLINE bool hk_hard_canary_slabs(void)
{
	return hk_hard_canary_small() || HK_OPT(canary) == HK_CANARY_MEDIUM;
}

HK_INLINE bool hk_hard_canary_large(void)
{
	return HK_OPT(hardened) || HK_OPT(canary) != HK_CANARY_OFF;
}

HK_INLINE bool hk_hard_guard_pages(void)
{
	return HK_OPT(hardened) || HK_OPT(guard_pages);
}

HK_INLINE bool hk_hard_zero_on_free(void)
{
	return HK_OPT(hardened) || HK_OPT(zero_on_free);
}

HK_INLINE bool hk_hard_zero_alloc(void)
{
	return HK_OPT(hardened) || HK_OPT(zero_alloc);
}

HK_INLINE bool hk_hard_zero_size(void)
{
	return HK_OPT(hardened) || HK_OPT(zero_size);
}

/* Blocks in a thread's quarantine ring; 0: none. */
HK_INLINE uint32_t hk_hard_quarantine(void)
{
	uint64_t q = HK_OPT(quarantine);
	return (uint32_t)(q ? q : HK_OPT(hardened) ? HK_QUARANTINE_MAX : 0);
}

/* Whether every call must take the slow paths. */
HK_INLINE bool hk_hard_slow(void)
{
	return hk_hard_canary_small() || hk_hard_zero_on_free() || hk_hard_zero_alloc() ||
	       hk_hard_quarantine();
}

/* Whether freed large blocks must not be cached readable for reuse. */
HK_INLINE bool hk_hard_no_large_cache(void)
{
	return hk_hard_guard_pages() || hk_hard_quarantine() || hk_hard_zero_on_free() ||
	       hk_hard_zero_alloc();
}

/* --- Canaries. ------------------------------------------------------- */

/* Fill [p, p+len) with the pattern of seed (an address it belongs to). */
void hk_canary_fill(void *p, size_t len, uintptr_t seed);

/* Offset of the first byte of [p, p+len) that differs from seed's
 * pattern, or len if none does. */
size_t hk_canary_find(const void *p, size_t len, uintptr_t seed);

/* Seal a small block b of bs bytes handed out for n bytes as kind: the
 * pattern after n (up to 64 bytes, or to the trailer), then the trailer. */
void hk_canary_seal(void *b, size_t bs, size_t n, unsigned kind);

/* Mark the trailer of b free (its pattern is gone: zeroed or not kept). */
void hk_canary_seal_free(void *b, size_t bs);

/* The request size and kind in b's trailer; false if the trailer is not
 * one hakmem wrote (overwritten). */
bool hk_canary_read(const void *b, size_t bs, size_t *n, unsigned *kind);

/* Check b (a block of bs bytes at index > 0 of its slab, or 0) before it
 * is freed by what ("free()"): its trailer and pattern, and the trailer
 * of the block before it. Reports the misuse and returns false if one is
 * broken; else sets *n and *kind. */
bool hk_canary_check(const void *b, size_t bs, bool first, const char *what, size_t *n,
		     unsigned *kind);

/* Report a delete of the wrong form (kind was recorded, want asked for). */
void hk_report_kind(const char *what, const void *p, unsigned kind, unsigned want);

/* --- Zeroed free blocks. ---------------------------------------------- */

/* Offset of the first non-zero byte of [p, p+len), or len if none. */
size_t hk_zero_find(const void *p, size_t len);

/* Report that the freed block b was written at offset off; what names
 * where it was found ("malloc()", "free()"). */
void hk_report_write_after_free(const char *what, const void *b, size_t off);

/* --- Zero-size allocations. ------------------------------------------ */

/* A distinct address in the inaccessible zero-size region, or NULL when
 * the region is full or cannot be mapped (the caller then hands out a
 * normal block). */
void *hk_zero_size_alloc(void);

/* Whether p lies in the zero-size region; and whether it is an address
 * of it that is handed out now. */
bool hk_zero_size_owns(const void *p);
bool hk_zero_size_live(const void *p);

/* Free p, which hk_zero_size_owns; reports a double free naming what. */
void hk_zero_size_free(const void *p, const char *what);

#endif

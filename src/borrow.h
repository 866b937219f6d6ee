/* Borrowed blocks. A thread that frees a block of a slab another live
 * thread owns keeps it, within bounds, and hands it out again at its own
 * next allocations of the class, instead of sending it back at once (a
 * remote free: an atomic operation on the slab, and a walk by the owner
 * over blocks whose cache lines the freeing thread holds). Producer and
 * consumer threads that trade blocks then reuse them where they are.
 *
 * A borrowed block stays counted in its slab's used: for the slab it is
 * still handed out, so the slab cannot empty while a thread holds it. It
 * carries the remote key (slab.h), so a second free of it is reported like
 * one of a block on a remote list, and its link is followed only after
 * its key is checked. Bounds: HK_BORROW_MAX_BLOCKS per class and
 * HK_BORROW_MAX_BYTES per thread (tuning.h); beyond them, and when the
 * thread exits, trims or runs out of memory, the blocks go back to their
 * slabs as remote frees. */
#ifndef HK_BORROW_H
#define HK_BORROW_H

#include "common.h"
#include "heap.h"

/* Keep b, a checked block of s freed by h's thread, if s belongs to
 * another live heap and the bounds allow; false: the caller frees it. */
bool hk_borrow_put(hk_heap *h, hk_slab *s, hk_block *b);

/* A borrowed block of class cls to hand out (its key cleared), or NULL. */
hk_block *hk_borrow_take(hk_heap *h, unsigned cls);

/* Give every block h borrowed back to its slab. */
void hk_borrow_flush(hk_heap *h);

#endif

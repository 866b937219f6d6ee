/* Cross-thread frees.
 *
 * A thread freeing a block of a slab it does not own pushes the block onto
 * the slab's xtf list with a CAS. The owner takes the whole list with one
 * atomic operation (hk_remote_drain) and only then counts the blocks off
 * the slab's used count: a remote free is counted exactly once, when
 * drained.
 *
 * Slabs the owner is not allocating from are "parked" (state NOTIFY): the
 * first remote free into a parked slab is not pushed on the slab but
 * delivered to the owner heap's delayed list, and switches the slab to
 * QUIET. The owner processes delayed blocks on its slow paths, drains the
 * slab and parks it again, so memory freed into slabs that their owner no
 * longer allocates from is noticed, and an emptied slab goes back to the
 * pool, whoever freed its blocks.
 */
#ifndef HK_REMOTE_H
#define HK_REMOTE_H

#include "common.h"
#include "slab.h"

struct hk_heap;

/* Free b (its key already set) into s from a thread that does not own s.
 * Returns false, doing nothing, if s turned out to have no owner (the
 * caller adopts it instead). */
bool hk_remote_push(hk_slab *s, hk_block *b);

/* Take s's remote list, leaving the state as it is (drain) or parking the
 * slab (drain_park); owner only. Returns the list. */
hk_block *hk_remote_drain(hk_slab *s);
hk_block *hk_remote_drain_park(hk_slab *s);

/* Set s's state to QUIET, keeping its list; owner only. */
void hk_remote_unpark(hk_slab *s);

/* Append list to s's free list and count it off s->used; returns how many
 * blocks it held. Owner only. A block without the remote key (freed
 * again after its remote free, see slab.h) is reported and the list cut
 * before it. */
uint32_t hk_remote_splice(hk_slab *s, hk_block *list);

/* The slab of b, a block taken from a heap's delayed list; or NULL after
 * reporting it when it is not a block with the remote key (then the
 * caller drops the rest of the list, whose link b no longer holds). */
hk_slab *hk_remote_block_slab(hk_block *b);

#endif

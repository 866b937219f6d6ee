/* The shared pool: hands slabs to size classes and takes empty ones back,
 * so memory freed by one class serves another. A SuperSlab whose slabs
 * are all back is empty; the pool keeps at most superslab_reserve empty
 * SuperSlabs and returns the rest to the OS at once, and decommits free
 * slots that stay unused (see pool.c), during normal operation (unless
 * the option trim is off). All pool state is under one lock, taken once
 * per slab (not per block). */
#ifndef HK_POOL_H
#define HK_POOL_H

#include "common.h"
#include "slab.h"

/* A slab for class cls, initialised, with no owner. With may_map false,
 * only slots already mapped are used. NULL (errno ENOMEM) if none. */
hk_slab *hk_pool_acquire(unsigned cls, bool may_map);

/* Give back a slab with no live block (used == 0, not on any list). */
void hk_pool_release(hk_slab *s);

/* Release every empty SuperSlab (ignoring the reserve) and decommit the
 * free slots of the others. Returns the bytes given back. */
size_t hk_pool_trim(void);

/* Bytes of free slots whose pages are resident, and bytes of free slots
 * decommitted since the start (by the purge and by trim). */
void hk_pool_counts(uint64_t *dirty, uint64_t *purged);

/* Call fn on every slab in use (not in the pool), under the pool lock.
 * fn reads the slab's counters racily: they belong to other threads. */
void hk_pool_each_slab(void (*fn)(const hk_slab *s, void *arg), void *arg);

void hk_pool_fork_prepare(void);
void hk_pool_fork_parent(void);
void hk_pool_fork_child(void);

#endif

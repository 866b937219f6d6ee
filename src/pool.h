/* The shared pool: hands slabs to size classes and takes empty ones back,
 * so memory freed by one class serves another. Free slots and empty
 * SuperSlabs are kept for reuse for about purge_decay_ms, then free slots
 * are decommitted and empty SuperSlabs beyond superslab_reserve unmapped
 * (see pool.c), during normal operation (unless the option trim is off).
 * All pool state is under one lock, taken once per slab (not per block). */
#ifndef HK_POOL_H
#define HK_POOL_H

#include "common.h"
#include "slab.h"

/* A slab for class cls, initialised, with no owner. With may_map false,
 * only slots already mapped are used. NULL (errno ENOMEM) if none. */
hk_slab *hk_pool_acquire(unsigned cls, bool may_map);

/* Give back a slab with no live block (used == 0, not on any list). A
 * slab that fails hk_slab_check_empty (a double free) is kept out. */
void hk_pool_release(hk_slab *s);

/* Run a purge tick if one is due at now (hk_os_now_ms); cheap when none
 * is. For allocation slow paths, so that a process that stopped freeing
 * slabs is purged all the same. */
void hk_pool_maybe_purge(uint64_t now);

/* Unmap every empty SuperSlab, the reserve too. Returns the bytes. */
size_t hk_pool_release_empty(void);

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

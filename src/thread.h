/* Threads: lazy start-up, a heap per thread, and what happens to a
 * thread's slabs when it exits (they are abandoned: emptied ones go back
 * to the pool, the rest wait on per-class lists until another thread
 * adopts them, either to allocate from or because it frees into them).
 * Also fork(): all locks are taken around it, so the child can allocate. */
#ifndef HK_THREAD_H
#define HK_THREAD_H

#include "common.h"
#include "tcache.h"

/* One-time process set-up; safe to call from any thread, any time. */
void hk_global_init(void);

/* Give the calling thread a heap; NULL if none could be mapped. */
hk_heap *hk_thread_attach(void);

/* Make h the owner of s if s has none. Returns whether h owns s now;
 * blocks freed remotely into s meanwhile are taken into its free list. */
bool hk_thread_adopt(hk_heap *h, hk_slab *s);

/* Adopt any abandoned slab of class cls (where = NONE), or NULL. */
hk_slab *hk_thread_adopt_any(hk_heap *h, unsigned cls);

/* Free the blocks delivered to heaps whose threads have exited. */
void hk_thread_collect_orphans(hk_heap *h);

/* Give the calling thread's memory back: process deliveries, drain every
 * slab it owns, release the empty ones (current slabs included) and leave
 * the others parked. */
void hk_thread_flush(void);

/* Release all memory that can be released: the calling thread's caches,
 * emptied slabs of exited threads, blocks delivered to exited threads,
 * every empty SuperSlab (the reserve too) and the pages of free slots.
 * Returns the bytes given back to the OS. */
size_t hk_thread_trim(void);

/* After the kernel refused a mapping: give back the memory kept for
 * reuse (empty SuperSlabs, cached large mappings, the thread's quarantine
 * and quarantined large mappings). Returns whether any was, so that the
 * caller asks again. */
bool hk_thread_reclaim(void);

/* Run hk_thread_trim if trim_interval_ms has passed since the last one. */
void hk_thread_maybe_trim(void);

/* Sum a per-heap counter (at offsetof(hk_heap, field)) over all heaps. */
uint64_t hk_thread_sum(size_t offset);

#endif

/* Threads: a heap per thread, given at the thread's first allocation and
 * abandoned when it exits (heap.h: emptied slabs go back to the pool, the
 * rest wait until another thread adopts them); blocks delivered to heaps
 * whose thread has gone. */
#ifndef HK_THREAD_H
#define HK_THREAD_H

#include "common.h"
#include "heap.h"

/* Set up thread exit handling; called once by hk_global_init. */
void hk_thread_init(void);

/* Give the calling thread a heap; NULL if none could be mapped. */
hk_heap *hk_thread_attach(void);

/* Free the blocks delivered to heaps whose threads have exited. */
void hk_thread_collect_orphans(hk_heap *h);

/* Give the calling thread's memory back: process deliveries, drain every
 * slab it owns, release the empty ones (current slabs included) and leave
 * the others parked. */
void hk_thread_flush(void);

/* Sum a per-heap counter (at offsetof(hk_heap, field)) over all heaps. */
uint64_t hk_thread_sum(size_t offset);

void hk_thread_fork_prepare(void);
void hk_thread_fork_parent(void);
void hk_thread_fork_child(void);

#endif

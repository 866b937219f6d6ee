/* The process as a whole: lazy one-time start-up, fork(), and giving
 * memory back across every part of the engine. */
#ifndef HK_INIT_H
#define HK_INIT_H

#include "common.h"

/* One-time process set-up (options, keys, fork handlers, the profiler);
 * safe to call from any thread, any time, and again from within itself. */
void hk_global_init(void);

/* Release all memory that can be released: the calling thread's caches,
 * emptied slabs of exited threads, blocks delivered to exited threads,
 * every empty SuperSlab (the reserve too) and the pages of free slots.
 * Returns the bytes given back to the OS. */
size_t hk_trim(void);

/* After the kernel refused a mapping: give back the memory kept for
 * reuse (empty SuperSlabs, cached large mappings, the thread's quarantine
 * and quarantined large mappings). Returns whether any was, so that the
 * caller asks again. */
bool hk_reclaim(void);

/* Run hk_trim if trim_interval_ms has passed since the last one. */
void hk_maybe_trim(void);

#endif

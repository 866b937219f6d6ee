/* Memory for the engine's own bookkeeping (thread heaps, registry leaves):
 * carved from dedicated mappings, never returned, never from malloc. */
#ifndef HK_META_H
#define HK_META_H

#include "common.h"

/* Zeroed memory of size bytes aligned to a cache line, or NULL (ENOMEM). */
void *hk_meta_alloc(size_t size);

/* The same aligned to align (a power of two, at most a page). The bytes
 * skipped to align are never touched, so they cost address space only. */
void *hk_meta_alloc_aligned(size_t size, size_t align);

/* Bytes mapped for bookkeeping so far (for stats.metadata). */
uint64_t hk_meta_mapped_bytes(void);

void hk_meta_fork_prepare(void);
void hk_meta_fork_parent(void);
void hk_meta_fork_child(void);

#endif

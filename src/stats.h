/* Counters. Process-wide ones change on slow paths only (a SuperSlab or a
 * large mapping comes or goes); per-thread ones live in the thread heap
 * and are summed when read (report.h), so counting never shares a cache
 * line between threads. Figures that need a walk over every slab (bytes
 * and blocks in use per class) come from a snapshot taken at each "epoch"
 * (report.c walks; the latest snapshot is kept here). Nothing here calls
 * another module: the engine counts into it from below. */
#ifndef HK_STATS_H
#define HK_STATS_H

#include "common.h"
#include "size_class.h"

struct hk_global_stats {
	_Atomic uint64_t ss_live, ss_created, ss_released;
	_Atomic uint64_t large_live, large_bytes, large_cached;
	_Atomic uint64_t remote_frees;	/* by threads that have no heap */
};

extern struct hk_global_stats hk_gstats;

HK_INLINE void hk_stats_add(_Atomic uint64_t *c, int64_t d)
{
	atomic_fetch_add_explicit(c, (uint64_t)d, memory_order_relaxed);
}

HK_INLINE uint64_t hk_stats_get(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* A per-thread counter bumped by its owner only. */
HK_INLINE void hk_stats_bump(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* A SuperSlab was mapped, or unmapped. */
void hk_stats_superslab_created(void);
void hk_stats_superslab_released(void);

struct hk_stats_snapshot {
	uint64_t epoch;
	uint64_t allocated;	/* bytes in blocks in use, small and large */
	/* An upper bound of the resident bytes, as jemalloc's stats.resident:
	 * the pages of slabs up to their bump pointer, free slots not
	 * decommitted, large mappings in use and cached, and the metadata. */
	uint64_t resident;
	/* Bookkeeping: the touched part of SuperSlab headers, the meta
	 * mappings (thread heaps, registry leaves), large block headers. */
	uint64_t metadata;
	uint64_t remote_pending;	/* slabs with remote frees not yet drained */
	uint64_t class_blocks[HK_NCLASSES];
	uint64_t class_slabs[HK_NCLASSES];
};

/* Keep fresh as the latest snapshot, under the next epoch, which it sets
 * in fresh and returns. */
uint64_t hk_stats_publish(struct hk_stats_snapshot *fresh);

/* Copy of the latest snapshot; false (epoch 0) if none was published. */
bool hk_stats_latest(struct hk_stats_snapshot *out);

/* The snapshot's lock across fork() (thread.c's handlers). */
void hk_stats_fork_prepare(void);
void hk_stats_fork_parent(void);
void hk_stats_fork_child(void);

#endif

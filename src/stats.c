#include "stats.h"

#include "lock.h"
#include "large.h"
#include "meta.h"
#include "os.h"
#include "pool.h"
#include "superslab.h"
#include "thread.h"

struct hk_global_stats hk_gstats;

static hk_lock_t snapshot_lock = HK_LOCK_INIT;
static struct hk_stats_snapshot snapshot;

void hk_stats_superslab_created(size_t size)
{
	(void)size;
	hk_stats_add(&hk_gstats.ss_live, 1);
	hk_stats_add(&hk_gstats.ss_created, 1);
}

void hk_stats_superslab_released(size_t size)
{
	(void)size;
	hk_stats_add(&hk_gstats.ss_live, -1);
	hk_stats_add(&hk_gstats.ss_released, 1);
}

/* Reads a slab's used count while its owner may change it: the figure is
 * a snapshot, exact only when the program is quiet. */
static void count_slab(const hk_slab *s, void *arg)
{
	struct hk_stats_snapshot *snap = arg;
	uint32_t used = __atomic_load_n(&s->used, __ATOMIC_RELAXED) -
			__atomic_load_n(&s->pinned, __ATOMIC_RELAXED);
	snap->class_blocks[s->cls] += used;
	snap->class_slabs[s->cls]++;
	snap->allocated += (uint64_t)used * s->block_size;
	/* Pages up to the bump pointer have been handed out, so touched. */
	const char *bump = __atomic_load_n(&s->bump, __ATOMIC_RELAXED);
	const char *base = (const char *)((uintptr_t)s->start & ~(HK_SLOT_SIZE - 1));
	if (bump > base)
		snap->resident += hk_align_up((size_t)(bump - base), HK_PAGE_SIZE);
	if (atomic_load_explicit(&s->xtf, memory_order_relaxed) & ~HK_XTF_STATE)
		snap->remote_pending++;
}

uint64_t hk_stats_refresh(void)
{
	struct hk_stats_snapshot fresh = { 0 };
	hk_pool_each_slab(count_slab, &fresh);
	uint64_t large = hk_stats_get(&hk_gstats.large_bytes);
	uint64_t large_headers = hk_stats_get(&hk_gstats.large_live) * HK_LARGE_HEADER;
	uint64_t engine = hk_stats_get(&hk_gstats.ss_live) *
			  hk_align_up(sizeof(hk_superslab), HK_PAGE_SIZE) +
			  hk_meta_mapped_bytes();
	uint64_t dirty, purged;
	hk_pool_counts(&dirty, &purged);
	fresh.allocated += large;
	fresh.metadata = engine + large_headers;
	/* Large headers lie in the large mappings, already counted. */
	fresh.resident += dirty + large + hk_stats_get(&hk_gstats.large_cached) + engine;
	hk_lock(&snapshot_lock);
	fresh.epoch = snapshot.epoch + 1;
	snapshot = fresh;
	hk_unlock(&snapshot_lock);
	return fresh.epoch;
}

void hk_stats_snapshot(struct hk_stats_snapshot *out)
{
	hk_lock(&snapshot_lock);
	bool none = snapshot.epoch == 0;
	hk_unlock(&snapshot_lock);
	if (none)
		hk_stats_refresh();
	hk_lock(&snapshot_lock);
	*out = snapshot;
	hk_unlock(&snapshot_lock);
}

uint64_t hk_stats_local_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, local_frees));
}

uint64_t hk_stats_remote_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, remote_frees)) +
	       hk_stats_get(&hk_gstats.remote_frees);
}

void hk_stats_fork_prepare(void)
{
	hk_lock(&snapshot_lock);
}

void hk_stats_fork_parent(void)
{
	hk_unlock(&snapshot_lock);
}

void hk_stats_fork_child(void)
{
	hk_lock_reset(&snapshot_lock);
}

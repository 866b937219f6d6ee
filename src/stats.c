#include "stats.h"

#include "lock.h"

struct hk_global_stats hk_gstats;

static hk_lock_t snapshot_lock = HK_LOCK_INIT;
static struct hk_stats_snapshot snapshot;

void hk_stats_superslab_created(void)
{
	hk_stats_add(&hk_gstats.ss_live, 1);
	hk_stats_add(&hk_gstats.ss_created, 1);
}

void hk_stats_superslab_released(void)
{
	hk_stats_add(&hk_gstats.ss_live, -1);
	hk_stats_add(&hk_gstats.ss_released, 1);
}

uint64_t hk_stats_publish(struct hk_stats_snapshot *fresh)
{
	hk_lock(&snapshot_lock);
	fresh->epoch = snapshot.epoch + 1;
	snapshot = *fresh;
	hk_unlock(&snapshot_lock);
	return fresh->epoch;
}

bool hk_stats_latest(struct hk_stats_snapshot *out)
{
	hk_lock(&snapshot_lock);
	*out = snapshot;
	hk_unlock(&snapshot_lock);
	return out->epoch != 0;
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

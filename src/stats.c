#include "stats.h"

struct hk_global_stats hk_gstats;

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

#include "superslab.h"

#include "log.h"
#include "os.h"
#include "stats.h"

hk_superslab *hk_superslab_create(unsigned shift)
{
	size_t size = (size_t)1 << shift;
	hk_superslab *ss = hk_os_map(size, size);
	if (!ss)
		return NULL;
	if (!hk_registry_prepare(ss, size)) {
		hk_os_unmap(ss, size);
		return NULL;
	}
	ss->magic = HK_SS_MAGIC;
	ss->shift = (uint8_t)shift;
	ss->nslots = (uint8_t)(size >> HK_SLOT_SHIFT);
	uint32_t all = ss->nslots == 32 ? ~(uint32_t)0 : ((uint32_t)1 << ss->nslots) - 1;
	ss->free_mask = all & ~(uint32_t)1;
	ss->clean_mask = ss->free_mask;
	hk_stats_superslab_created(size);
	HK_DEBUG(HK_LOG_SUPERSLAB, "created %p (%zu KiB)", (void *)ss, size >> 10);
	return ss;
}

void hk_superslab_destroy(hk_superslab *ss)
{
	size_t size = (size_t)1 << ss->shift;
	hk_os_unmap(ss, size);
	hk_stats_superslab_released(size);
	HK_DEBUG(HK_LOG_SUPERSLAB, "released %p", (void *)ss);
}

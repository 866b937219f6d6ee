#include "superslab.h"

#include <errno.h>
#include <sys/mman.h>

#include "log.h"
#include "options.h"
#include "os.h"
#include "stats.h"

/* The option thp. A 2 MiB SuperSlab is naturally aligned: exactly one
 * huge page. Where the system's setting is "always", the kernel backs it
 * with a huge page at the first touch of a slot, so all 2 MiB become
 * resident although only the slots in use were written: thp=never asks
 * for small pages (resident memory follows the slots in use). Where it is
 * "madvise", thp=always asks for huge pages (fewer page faults and TLB
 * misses, for that extra resident memory). */
static void apply_thp(hk_superslab *ss, size_t size)
{
	uint64_t thp = HK_OPT(thp);
	if (thp == HK_THP_DEFAULT)
		return;
	int saved = errno;
	madvise(ss, size, thp == HK_THP_ALWAYS ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	errno = saved;
}

_Atomic uint64_t hk_ss_map[HK_SS_MAP_WORDS];

/* Set or clear the map's bit of ss (a 2 MiB SuperSlab). */
static void map_bit(const hk_superslab *ss, bool on)
{
	uintptr_t r = (uintptr_t)ss >> HK_SS_SHIFT_MAX;
	uint64_t bit = (uint64_t)1 << (r & 63);
	if (on)
		atomic_fetch_or_explicit(&hk_ss_map[r >> 6], bit, memory_order_release);
	else
		atomic_fetch_and_explicit(&hk_ss_map[r >> 6], ~bit, memory_order_release);
}

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
	apply_thp(ss, size);
	ss->shift = (uint8_t)shift;
	ss->nslots = (uint8_t)(size >> HK_SLOT_SHIFT);
	uint32_t all = ss->nslots == 32 ? ~(uint32_t)0 : ((uint32_t)1 << ss->nslots) - 1;
	ss->free_mask = all & ~(uint32_t)1;
	ss->clean_mask = ss->free_mask;
	if (shift == HK_SS_SHIFT_MAX)
		map_bit(ss, true);
	hk_stats_superslab_created();
	HK_DEBUG(HK_LOG_SUPERSLAB, "created %p (%zu KiB)", (void *)ss, size >> 10);
	return ss;
}

void hk_superslab_destroy(hk_superslab *ss)
{
	size_t size = (size_t)1 << ss->shift;
	if (ss->shift == HK_SS_SHIFT_MAX)
		map_bit(ss, false);
	hk_os_unmap(ss, size);
	hk_stats_superslab_released();
	HK_DEBUG(HK_LOG_SUPERSLAB, "released %p", (void *)ss);
}

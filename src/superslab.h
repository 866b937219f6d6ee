/* The SuperSlab: a naturally aligned region of 1 or 2 MiB, cut into 64 KiB
 * slots. Slot 0 holds this header (only its first pages are ever touched);
 * the others are handed to slabs by the pool. */
#ifndef HK_SUPERSLAB_H
#define HK_SUPERSLAB_H

#include "common.h"
#include "registry.h"
#include "slab.h"

#define HK_SS_MAGIC 0x484b5353u /* "HKSS" */

typedef struct hk_superslab {
	uint32_t magic;
	uint8_t shift;		/* log2 of the size */
	uint8_t nslots;
	uint8_t pool_list;	/* which pool list holds it (pool.c) */
	uint32_t free_mask;	/* slots not in use (pool lock) */
	uint32_t clean_mask;	/* slots never touched since mapped or decommitted */
	struct hk_superslab *next, *prev;	/* pool lists */
	hk_slab slab[HK_MAX_SLOTS];	/* slab[0] is unused (header slot) */
} hk_superslab;

_Static_assert(sizeof(hk_superslab) <= HK_SLOT_SIZE, "header fits slot 0");

/* The slab owning p, given p's registry entry names a SuperSlab; NULL if p
 * is in the header slot. The result may be a slot not in use
 * (block_size == 0). */
HK_INLINE hk_slab *hk_superslab_slab_of(uintptr_t entry, const void *p)
{
	hk_superslab *ss = (hk_superslab *)entry;
	size_t slot = (((uintptr_t)p - entry) >> HK_SLOT_SHIFT) & (HK_MAX_SLOTS - 1);
	size_t head = (slot - ss->slab[slot].back) & (HK_MAX_SLOTS - 1);
	return slot ? &ss->slab[head] : NULL;
}

/* Map a new SuperSlab of 2^shift bytes and register it. NULL on ENOMEM. */
hk_superslab *hk_superslab_create(unsigned shift);

/* Unregister and unmap an empty SuperSlab. */
void hk_superslab_destroy(hk_superslab *ss);

HK_INLINE char *hk_superslab_slot_addr(hk_superslab *ss, unsigned slot)
{
	return (char *)ss + ((size_t)slot << HK_SLOT_SHIFT);
}

#endif

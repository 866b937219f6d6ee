/* The SuperSlab: a naturally aligned region of 1 or 2 MiB, cut into 64 KiB
 * slots. Slot 0 holds this header (only its first pages are ever touched);
 * the others are handed to slabs by the pool. */
#ifndef HK_SUPERSLAB_H
#define HK_SUPERSLAB_H

#include "common.h"
#include "registry.h"
#include "slab.h"

typedef struct hk_superslab {
	uint8_t shift;		/* log2 of the size */
	uint8_t nslots;
	uint8_t pool_list;	/* which pool list holds it (pool.c) */
	uint32_t free_mask;	/* slots not in use (pool lock) */
	uint32_t clean_mask;	/* slots never touched since mapped or decommitted */
	uint32_t aged_mask;	/* free dirty slots at the last purge tick (pool.c) */
	uint64_t released_ms;	/* when a slot last came back (pool.c) */
	struct hk_superslab *next, *prev;	/* pool lists */
	hk_slab slab[HK_MAX_SLOTS];	/* slab[0] is unused (header slot) */
} hk_superslab;

_Static_assert(sizeof(hk_superslab) <= HK_SLOT_SIZE, "header fits slot 0");

/* Map a new SuperSlab of 2^shift bytes, with registry leaves ready for its
 * slots. NULL on ENOMEM. */
hk_superslab *hk_superslab_create(unsigned shift);

/* Unmap an empty SuperSlab (its slots are no longer registered). */
void hk_superslab_destroy(hk_superslab *ss);

HK_INLINE char *hk_superslab_slot_addr(hk_superslab *ss, unsigned slot)
{
	return (char *)ss + ((size_t)slot << HK_SLOT_SHIFT);
}

#endif

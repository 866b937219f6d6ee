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

/* The SuperSlab map: one bit per naturally aligned 2 MiB region of the
 * address space, set while a 2 MiB SuperSlab is mapped there, so that
 * free finds the descriptor of any pointer's slot with one load from a
 * small, hot table, without touching memory that might not be mapped
 * (the registry, registry.h, takes two dependent loads). 1 MiB
 * SuperSlabs (superslab_lg = 20) have no bit: their frees find their
 * slab through the registry. 8 MiB of address space, touched only where
 * SuperSlabs are. */
#define HK_SS_MAP_WORDS ((size_t)1 << (HK_REG_ADDR_BITS - HK_SS_SHIFT_MAX - 6))
extern _Atomic uint64_t hk_ss_map[HK_SS_MAP_WORDS];

/* The descriptor of the slot of a 2 MiB SuperSlab holding p, or NULL if
 * no 2 MiB SuperSlab holds p. The descriptor is a slab's only for the
 * first slot of a slab in use; the others have no owner. */
HK_INLINE hk_slab *hk_superslab_slot(const void *p)
{
	uintptr_t a = (uintptr_t)p, w = a >> (HK_SS_SHIFT_MAX + 6);
	if (HK_UNLIKELY(w >= HK_SS_MAP_WORDS) ||
	    !((atomic_load_explicit(&hk_ss_map[w], memory_order_relaxed) >>
	       ((a >> HK_SS_SHIFT_MAX) & 63)) & 1))
		return NULL;
	struct hk_superslab *ss =
		(struct hk_superslab *)(a & ~(((uintptr_t)1 << HK_SS_SHIFT_MAX) - 1));
	return &ss->slab[(a >> HK_SLOT_SHIFT) & (HK_MAX_SLOTS - 1)];
}

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

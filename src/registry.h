/* Which address ranges belong to hakmem. A two-level table indexed by
 * 1 MiB chunk maps every chunk of a SuperSlab or large mapping to the
 * start of that region, so any pointer, even one hakmem never returned,
 * can be classified without touching memory that might not be mapped.
 *
 * Readers take no lock. An entry is published before the region's memory
 * is handed out and removed before the region is unmapped. */
#ifndef HK_REGISTRY_H
#define HK_REGISTRY_H

#include "common.h"

#define HK_REG_ADDR_BITS 47
#define HK_REG_LEAF_BITS 13
#define HK_REG_TOP_BITS (HK_REG_ADDR_BITS - HK_CHUNK_SHIFT - HK_REG_LEAF_BITS)

/* Entry tag in the low bit: which kind of region owns the chunk. */
#define HK_REG_SUPERSLAB ((uintptr_t)0)
#define HK_REG_LARGE ((uintptr_t)1)

extern _Atomic(_Atomic uintptr_t *) hk_reg_top[1u << HK_REG_TOP_BITS];

/* The tagged entry for the chunk holding p, or 0 if hakmem does not own it. */
HK_INLINE uintptr_t hk_registry_lookup(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (HK_UNLIKELY(a >> HK_REG_ADDR_BITS))
		return 0;
	uintptr_t chunk = a >> HK_CHUNK_SHIFT;
	_Atomic uintptr_t *leaf = atomic_load_explicit(
		&hk_reg_top[chunk >> HK_REG_LEAF_BITS], memory_order_acquire);
	if (HK_UNLIKELY(!leaf))
		return 0;
	return atomic_load_explicit(&leaf[chunk & ((1u << HK_REG_LEAF_BITS) - 1)],
				    memory_order_acquire);
}

/* Mark [base, base+size) as owned (tag as above). Returns false (ENOMEM)
 * if a leaf could not be mapped; nothing is registered then. */
bool hk_registry_add(void *base, size_t size, uintptr_t tag);
void hk_registry_remove(void *base, size_t size);

void hk_registry_fork_prepare(void);
void hk_registry_fork_parent(void);
void hk_registry_fork_child(void);

#endif

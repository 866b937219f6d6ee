/* Which address ranges belong to hakmem. A two-level table with one entry
 * per 64 KiB slot of address space: for a slot of a slab in use, the
 * slab's descriptor tagged with HK_REG_SLAB; for a slot of a large mapping,
 * its header (tagged HK_REG_CACHED while it is cached); else 0. So free() classifies any pointer, even one hakmem
 * never returned, and finds its slab with two loads, without touching
 * memory that might not be mapped.
 *
 * Readers take no lock. An entry is set before the memory it describes is
 * handed out and cleared before that memory is reused or unmapped. */
#ifndef HK_REGISTRY_H
#define HK_REGISTRY_H

#include "common.h"

#define HK_REG_ADDR_BITS 47
#define HK_REG_SHIFT HK_SLOT_SHIFT
#define HK_REG_LEAF_BITS 14
#define HK_REG_TOP_BITS (HK_REG_ADDR_BITS - HK_REG_SHIFT - HK_REG_LEAF_BITS)

/* Tag of an entry naming a slab (the free fast path tests one bit). */
#define HK_REG_SLAB ((uintptr_t)1)

/* Tag of an entry naming a large mapping kept for reuse (large.h), whose
 * header must not be read: it may be inaccessible. */
#define HK_REG_CACHED ((uintptr_t)2)

struct hk_slab;

HK_INLINE struct hk_slab *hk_reg_slab(uintptr_t entry)
{
	return (struct hk_slab *)(entry - HK_REG_SLAB);
}

extern _Atomic(_Atomic uintptr_t *) hk_reg_top[1u << HK_REG_TOP_BITS];

/* The entry for the slot holding p, or 0 if hakmem does not own it. */
HK_INLINE uintptr_t hk_registry_lookup(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	if (HK_UNLIKELY(a >> HK_REG_ADDR_BITS))
		return 0;
	_Atomic uintptr_t *leaf = atomic_load_explicit(
		&hk_reg_top[a >> (HK_REG_SHIFT + HK_REG_LEAF_BITS)], memory_order_acquire);
	if (HK_UNLIKELY(!leaf))
		return 0;
	return atomic_load_explicit(&leaf[(a >> HK_REG_SHIFT) & ((1u << HK_REG_LEAF_BITS) - 1)],
				    memory_order_acquire);
}

/* Make sure entries for [base, base+size) can be set: map the leaves.
 * Returns false (ENOMEM) if a leaf could not be mapped. */
bool hk_registry_prepare(const void *base, size_t size);

/* Set the entries of every slot in [base, base+size) (prepared) to value;
 * 0 clears them, and clearing needs no preparing: a range whose prepare
 * failed part way (a leaf could not be mapped) is cleared where it has
 * leaves. */
void hk_registry_set(const void *base, size_t size, uintptr_t value);

#endif

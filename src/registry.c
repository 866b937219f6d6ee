#include "registry.h"

#include "meta.h"

_Atomic(_Atomic uintptr_t *) hk_reg_top[1u << HK_REG_TOP_BITS];

#define LEAF_SHIFT (HK_REG_SHIFT + HK_REG_LEAF_BITS)

/* Leaves are installed without a lock: a thread that loses the race for
 * a slot leaves its own leaf unused, which costs address space only (it
 * is never touched), and races are rare (a leaf covers 1 GiB). */
static bool make_leaf(uintptr_t top)
{
	_Atomic(_Atomic uintptr_t *) *slot = &hk_reg_top[top];
	_Atomic uintptr_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
	if (leaf)
		return true;
	_Atomic uintptr_t *fresh = hk_meta_alloc(sizeof(uintptr_t) << HK_REG_LEAF_BITS);
	if (!fresh)
		return false;
	return atomic_compare_exchange_strong_explicit(slot, &leaf, fresh, memory_order_release,
						       memory_order_acquire) ||
	       leaf;
}

bool hk_registry_prepare(const void *base, size_t size)
{
	uintptr_t first = (uintptr_t)base, last = first + size - 1;
	if (last >> HK_REG_ADDR_BITS || last < first)
		return false;
	for (uintptr_t t = first >> LEAF_SHIFT; t <= last >> LEAF_SHIFT; t++)
		if (!make_leaf(t))
			return false;
	return true;
}

void hk_registry_set(const void *base, size_t size, uintptr_t value)
{
	uintptr_t first = (uintptr_t)base >> HK_REG_SHIFT;
	uintptr_t last = ((uintptr_t)base + size - 1) >> HK_REG_SHIFT;
	for (uintptr_t s = first; s <= last; s++) {
		_Atomic uintptr_t *leaf = atomic_load_explicit(
			&hk_reg_top[s >> HK_REG_LEAF_BITS], memory_order_relaxed);
		/* Only when clearing (a set needs its leaves prepared): a
		 * failed prepare may have stopped before this leaf. */
		if (!leaf)
			continue;
		atomic_store_explicit(&leaf[s & ((1u << HK_REG_LEAF_BITS) - 1)], value,
				      memory_order_release);
	}
}

#include "registry.h"

#include "lock.h"
#include "meta.h"

_Atomic(_Atomic uintptr_t *) hk_reg_top[1u << HK_REG_TOP_BITS];

/* Serialises leaf creation; entries themselves are written by whoever owns
 * the memory they describe. */
static hk_lock_t reg_lock = HK_LOCK_INIT;

#define LEAF_SHIFT (HK_REG_SHIFT + HK_REG_LEAF_BITS)

static bool make_leaf(uintptr_t top)
{
	_Atomic(_Atomic uintptr_t *) *slot = &hk_reg_top[top];
	if (atomic_load_explicit(slot, memory_order_acquire))
		return true;
	hk_lock(&reg_lock);
	_Atomic uintptr_t *leaf = atomic_load_explicit(slot, memory_order_relaxed);
	if (!leaf) {
		leaf = hk_meta_alloc(sizeof(uintptr_t) << HK_REG_LEAF_BITS);
		if (leaf)
			atomic_store_explicit(slot, leaf, memory_order_release);
	}
	hk_unlock(&reg_lock);
	return leaf != NULL;
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

void hk_registry_fork_prepare(void)
{
	hk_lock(&reg_lock);
}

void hk_registry_fork_parent(void)
{
	hk_unlock(&reg_lock);
}

void hk_registry_fork_child(void)
{
	hk_lock_reset(&reg_lock);
}

#include "registry.h"

#include "lock.h"
#include "meta.h"

_Atomic(_Atomic uintptr_t *) hk_reg_top[1u << HK_REG_TOP_BITS];

/* Serialises leaf creation; entries themselves are written by the region's
 * creator, which owns them exclusively. */
static hk_lock_t reg_lock = HK_LOCK_INIT;

static _Atomic uintptr_t *leaf_for(uintptr_t chunk)
{
	_Atomic(_Atomic uintptr_t *) *slot = &hk_reg_top[chunk >> HK_REG_LEAF_BITS];
	_Atomic uintptr_t *leaf = atomic_load_explicit(slot, memory_order_acquire);
	if (leaf)
		return leaf;
	hk_lock(&reg_lock);
	leaf = atomic_load_explicit(slot, memory_order_relaxed);
	if (!leaf) {
		leaf = hk_meta_alloc(sizeof(uintptr_t) << HK_REG_LEAF_BITS);
		if (leaf)
			atomic_store_explicit(slot, leaf, memory_order_release);
	}
	hk_unlock(&reg_lock);
	return leaf;
}

static void set_range(uintptr_t first, uintptr_t last, uintptr_t value)
{
	for (uintptr_t c = first; c <= last; c++) {
		_Atomic uintptr_t *leaf = atomic_load_explicit(
			&hk_reg_top[c >> HK_REG_LEAF_BITS], memory_order_relaxed);
		atomic_store_explicit(&leaf[c & ((1u << HK_REG_LEAF_BITS) - 1)], value,
				      memory_order_release);
	}
}

bool hk_registry_add(void *base, size_t size, uintptr_t tag)
{
	uintptr_t first = (uintptr_t)base >> HK_CHUNK_SHIFT;
	uintptr_t last = ((uintptr_t)base + size - 1) >> HK_CHUNK_SHIFT;
	if (((uintptr_t)base + size - 1) >> HK_REG_ADDR_BITS)
		return false;
	for (uintptr_t c = first; c <= last; c = ((c >> HK_REG_LEAF_BITS) + 1) << HK_REG_LEAF_BITS)
		if (!leaf_for(c))
			return false;
	set_range(first, last, (uintptr_t)base | tag);
	return true;
}

void hk_registry_remove(void *base, size_t size)
{
	uintptr_t first = (uintptr_t)base >> HK_CHUNK_SHIFT;
	uintptr_t last = ((uintptr_t)base + size - 1) >> HK_CHUNK_SHIFT;
	set_range(first, last, 0);
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

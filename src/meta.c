#include "meta.h"

#include "lock.h"
#include "os.h"

#define META_CHUNK ((size_t)1 << 20)

static hk_lock_t meta_lock = HK_LOCK_INIT;
static char *meta_cur, *meta_end;
static _Atomic uint64_t meta_mapped;

void *hk_meta_alloc_aligned(size_t size, size_t align)
{
	size = hk_align_up(size, HK_CACHELINE);
	hk_lock(&meta_lock);
	char *r = (char *)hk_align_up((uintptr_t)meta_cur, align);
	if (!meta_cur || r > meta_end || (size_t)(meta_end - r) < size) {
		size_t chunk = size > META_CHUNK ? hk_align_up(size, HK_PAGE_SIZE) : META_CHUNK;
		char *p = hk_os_map(chunk, HK_PAGE_SIZE);
		if (!p) {
			hk_unlock(&meta_lock);
			return NULL;
		}
		atomic_fetch_add_explicit(&meta_mapped, chunk, memory_order_relaxed);
		meta_end = p + chunk;
		r = p;
	}
	meta_cur = r + size;
	hk_unlock(&meta_lock);
	return r;
}

void *hk_meta_alloc(size_t size)
{
	return hk_meta_alloc_aligned(size, HK_CACHELINE);
}

uint64_t hk_meta_mapped_bytes(void)
{
	return atomic_load_explicit(&meta_mapped, memory_order_relaxed);
}

void hk_meta_fork_prepare(void)
{
	hk_lock(&meta_lock);
}

void hk_meta_fork_parent(void)
{
	hk_unlock(&meta_lock);
}

void hk_meta_fork_child(void)
{
	hk_lock_reset(&meta_lock);
}

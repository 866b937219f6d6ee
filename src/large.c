#include "large.h"

#include <errno.h>

#include "os.h"
#include "stats.h"

/* At least one byte past offset, so that the user pointer is mapped. */
static size_t map_size_for(size_t offset, size_t size)
{
	if (size > PTRDIFF_MAX - offset - HK_PAGE_SIZE)
		return 0;
	return hk_align_up(offset + (size ? size : 1), HK_PAGE_SIZE);
}

void *hk_large_alloc(size_t size, size_t align)
{
	size_t offset = align > HK_LARGE_HEADER ? align : HK_LARGE_HEADER;
	size_t map_align = align > HK_CHUNK_SIZE ? align : HK_CHUNK_SIZE;
	size_t map_size = map_size_for(offset, size);
	if (!map_size) {
		errno = ENOMEM;
		return NULL;
	}
	hk_large *l = hk_os_map(map_size, map_align);
	if (!l)
		return NULL;
	if (!hk_registry_add(l, map_size, HK_REG_LARGE)) {
		hk_os_unmap(l, map_size);
		errno = ENOMEM;
		return NULL;
	}
	l->magic = HK_LARGE_MAGIC;
	l->map_size = map_size;
	l->offset = offset;
	l->align = map_align;
	hk_stats_add(&hk_gstats.large_live, 1);
	hk_stats_add(&hk_gstats.large_bytes, (int64_t)map_size);
	return (char *)l + offset;
}

void hk_large_free(hk_large *l)
{
	size_t size = l->map_size;
	hk_stats_add(&hk_gstats.large_live, -1);
	hk_stats_add(&hk_gstats.large_bytes, -(int64_t)size);
	hk_registry_remove(l, size);
	hk_os_unmap(l, size);
}

void *hk_large_realloc(hk_large *l, size_t size)
{
	size_t old = l->map_size;
	size_t new = map_size_for(l->offset, size);
	if (!new) {
		errno = ENOMEM;
		return NULL;
	}
	if (new == old)
		return (char *)l + l->offset;

	if (new < old) {
		if (hk_os_resize(l, old, new)) {
			hk_registry_remove((char *)l + new, old - new);
			/* The first removed chunk may still hold the block's tail. */
			hk_registry_add(l, new, HK_REG_LARGE);
			l->map_size = new;
			hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
		}
		return (char *)l + l->offset;
	}
	if (hk_os_resize(l, old, new)) {
		if (!hk_registry_add(l, new, HK_REG_LARGE)) {
			hk_os_resize(l, new, old);
			errno = ENOMEM;
			return NULL;
		}
		l->map_size = new;
		hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
		return (char *)l + l->offset;
	}

	hk_large *dst = hk_os_map(new, l->align);
	if (!dst)
		return NULL;
	if (!hk_registry_add(dst, new, HK_REG_LARGE)) {
		hk_os_unmap(dst, new);
		errno = ENOMEM;
		return NULL;
	}
	hk_registry_remove(l, old);
	if (!hk_os_move(l, old, dst, new)) {
		hk_registry_remove(dst, new);
		hk_registry_add(l, old, HK_REG_LARGE);
		hk_os_unmap(dst, new);
		return NULL;
	}
	dst->map_size = new;
	hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
	return (char *)dst + dst->offset;
}

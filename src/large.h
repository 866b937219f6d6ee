/* Allocations above HK_SMALL_MAX (or with alignment a slab cannot give):
 * each has its own mapping, starting on a registry chunk boundary with a
 * small header. A freed one is kept for reuse within a budget (cut to
 * size, the rest staying cached; cached neighbours joined again;
 * optionally inaccessible while cached; by default no block handed out
 * where the one freed last was), else goes back to the OS. realloc grows a block over the cached mapping
 * after it, or copies it into a cached one (resident pages beat a copy
 * of half as many), or resizes it in place, or moves its pages with
 * mremap to a fresh mapping. */
#ifndef HK_LARGE_H
#define HK_LARGE_H

#include "common.h"
#include "registry.h"

#define HK_LARGE_MAGIC 0x484b4c47u /* "HKLG" */
#define HK_LARGE_HEADER ((size_t)64)

typedef struct hk_large {
	uint32_t magic;
	uint32_t kind;		/* enum hk_kind, with small canaries (hardened.h) */
	size_t map_size;	/* bytes mapped, from the header on */
	size_t want;		/* of which the last request needed (the rest is room) */
	size_t offset;		/* user pointer - header */
	size_t align;		/* the alignment the block needs (live blocks) */
	size_t size;		/* usable bytes: the request, with canaries */
	size_t guard;		/* guard pages: bytes of the guard before the header */
} hk_large;

/* With canaries (hardened.h) the rest of the header before the block holds
 * the pattern, and so do the first HK_LARGE_CANARY bytes after it. */
#define HK_LARGE_CANARY ((size_t)64)

_Static_assert(sizeof(hk_large) < HK_LARGE_HEADER, "room for a canary in the header");

/* NULL with errno = ENOMEM on failure. align is a power of two. dirty,
 * when not NULL, is set to how many bytes from the start of the block may
 * not read as zero: 0 for a fresh mapping; for one reused from the cache,
 * what it held before (pages it grew by are fresh), so calloc clears only
 * that. */
void *hk_large_alloc(size_t size, size_t align, unsigned kind, size_t *dirty);

/* Unmap the cached mappings and the quarantined ones (hardened.h);
 * returns their bytes. */
size_t hk_large_trim(void);

/* Unmap the cached mappings that have decayed, if a decay tick is due at
 * now (hk_os_now_ms; at most every purge_decay_ms / 2): for allocation
 * slow paths, as hk_pool_maybe_purge. */
void hk_large_maybe_decay(uint64_t now);

void hk_large_fork_prepare(void);
void hk_large_fork_parent(void);
void hk_large_fork_child(void);

/* The header of the large block p, given p's registry entry is a large
 * one (not 0, no HK_REG_SLAB); NULL if p is not exactly a live block
 * hakmem returned. The header of a cached mapping (HK_REG_CACHED) is not
 * read: it may be inaccessible. */
HK_INLINE hk_large *hk_large_of(uintptr_t entry, const void *p)
{
	if (entry & HK_REG_CACHED)
		return NULL;
	hk_large *l = (hk_large *)entry;
	return l->magic == HK_LARGE_MAGIC && (const char *)l + l->offset == (const char *)p ? l : NULL;
}

HK_INLINE size_t hk_large_usable(const hk_large *l)
{
	return l->size;
}

/* Free l; with canaries, checks them first and, when kind is not
 * HK_KIND_FREE, that the block was allocated as kind (what names the
 * caller in a report). */
void hk_large_free(hk_large *l, unsigned kind, const char *what);

/* Resize to size bytes; NULL with errno = ENOMEM (block intact) on
 * failure, or NULL with errno = EINVAL if a canary is broken (reported). */
void *hk_large_realloc(hk_large *l, size_t size);

#endif

/* One slab: a run of 64 KiB slots of a SuperSlab serving one size class.
 *
 * Ownership: a slab is owned by one thread heap (owner), by nobody
 * (abandoned: owner == NULL, on the abandoned list), or by the pool
 * (block_size == 0). Only the owner touches free, used, xsum and the links.
 *
 * Accounting invariant: used == blocks handed out by malloc and not yet
 * back on this slab's free list, plus one while the slab is pinned as its
 * heap's current slab (so that freeing its last block costs nothing
 * extra). A local free decrements it at once; a remote free decrements it
 * when the owner drains the block (remote.c). So every free counts exactly
 * once, and used == 0 means no block of the slab is live or in flight and
 * no heap allocates from it: only then may the slab go back to the pool.
 *
 * Double frees. The free fast path never loads from the block (a cold
 * block would stall it): it stores the local key, and refuses only a block
 * that is already the head of the free list (an immediate double free,
 * which the slow path reports). A block on a remote list (xtf, a heap's
 * delayed list) carries the remote key instead. Every walk of a list
 * checks the key of each block before it follows the link: malloc before
 * it hands a block out (a block freed twice was handed out once already
 * and has lost its key), the drains before they take a remote list in (a
 * block freed remotely and then locally has the local key). A double free
 * that drives used to 0 while a block is still live is caught when the
 * slab empties: xsum, the XOR of the addresses on the free list, must then
 * equal bumpx, the XOR of every block ever handed out.
 *
 * xtf is the remote-free list: a block pointer with a two-bit state in the
 * low bits (blocks are 16-byte aligned), pushed by other threads with CAS
 * and taken by the owner with one atomic exchange.
 */
#ifndef HK_SLAB_H
#define HK_SLAB_H

#include "common.h"

struct hk_heap;

/* A free block: the link, and a key that marks it as free (a cheap
 * double-free check; malloc clears it). */
typedef struct hk_block {
	struct hk_block *next;
	uintptr_t key;
} hk_block;

/* States in the low bits of xtf. */
#define HK_XTF_QUIET ((uintptr_t)0)	/* remote frees go to xtf */
#define HK_XTF_NOTIFY ((uintptr_t)1)	/* the next remote free goes to the owner heap */
#define HK_XTF_STATE ((uintptr_t)3)

/* Where the owner keeps the slab. */
enum hk_slab_where {
	HK_WHERE_NONE,		/* being moved, or in the pool */
	HK_WHERE_CUR,		/* its heap's current slab for the class */
	HK_WHERE_PARTIAL,	/* on its heap's partial list: has free blocks */
	HK_WHERE_FULL,		/* on its heap's full list: waits for frees */
	HK_WHERE_ABANDONED,	/* on the abandoned list: no owner */
};

/* A slab's on_free: zero a freed block (option zero_on_free_max), or
 * check its trailer (option trailer); one byte, so that the free fast
 * path tests both at once. */
#define HK_ON_FREE_SCRUB 1
#define HK_ON_FREE_TRAILER 2

typedef struct hk_slab {
	/* Owner-side, read by the fast paths: one cache line. */
	hk_block *free;
	uint32_t used;
	uint32_t block_size;	/* 0: not in use by a slab */
	char *start;
	uint64_t inv16;		/* hk_classes' inv << 16 (hk_slab_is_block) */
	_Atomic uintptr_t owner;	/* heap, | HK_OWNER_FULL when on its full list */
	char *bump;		/* next never-used block */
	uintptr_t xsum;		/* XOR of the addresses on the free list */
	uint8_t cls;
	uint8_t slots;		/* slots spanned */
	uint8_t where;		/* enum hk_slab_where */
	uint8_t clean;		/* never-used blocks read as zero */
	uint8_t pinned;		/* used holds one extra count for being current */
	uint8_t tainted;	/* a double free was reported (report mode) and
				 * the free list dropped: xsum is not checked */
	uint8_t on_free;	/* HK_ON_FREE_*: work of a free beyond the push */
	/* Written by other threads: keep it off the owner's line. */
	_Atomic uintptr_t xtf __attribute__((aligned(HK_CACHELINE)));
	struct hk_slab *next, *prev;	/* owner's list or the abandoned list */
	char *end;		/* end of the last block */
	uintptr_t bumpx;	/* XOR of the addresses of every block bumped */
	/* With trailers: a bit per block handed out without one (written by
	 * the owner only). */
	_Atomic uint64_t untrailed;
} hk_slab;

_Static_assert(sizeof(hk_slab) == 2 * HK_CACHELINE, "a slab descriptor is two lines");

HK_INLINE bool hk_slab_scrubs(const hk_slab *s)
{
	return s->on_free & HK_ON_FREE_SCRUB;
}

HK_INLINE bool hk_slab_trailed(const hk_slab *s)
{
	return s->on_free & HK_ON_FREE_TRAILER;
}

/* The owner word carries this tag while the slab is on its owner's full
 * list, so that the free fast path (which compares the word with the
 * thread's heap) sends a free into a full slab to the slow path, which
 * moves the slab to the partial list. */
#define HK_OWNER_FULL ((uintptr_t)1)

/* Likewise for a slab whose blocks carry canaries (hardened.h): its frees
 * take the slow path, which checks them. */
#define HK_OWNER_CHECKED ((uintptr_t)2)

/* And for a slab whose frees have work beyond the push (on_free): its
 * frees go to hk_free_slow, which does it, so that the free fast path of
 * the other slabs does not even test for it. */
#define HK_OWNER_WORK ((uintptr_t)4)

HK_INLINE struct hk_heap *hk_slab_owner(const hk_slab *s)
{
	return (struct hk_heap *)(atomic_load_explicit(&s->owner, memory_order_acquire) &
				  ~(HK_OWNER_FULL | HK_OWNER_CHECKED | HK_OWNER_WORK));
}

HK_INLINE void hk_slab_set_owner(hk_slab *s, struct hk_heap *h, bool full)
{
	atomic_store_explicit(&s->owner, (uintptr_t)h | (full ? HK_OWNER_FULL : 0),
			      memory_order_release);
}

/* The keys stored in free blocks, random per process: value in blocks on
 * a slab's free list, remote in blocks on a remote list (and the secret
 * of the canaries). Written once at
 * start-up and read by every free, they have a cache line to themselves. */
struct hk_free_key {
	uintptr_t value;
	uintptr_t remote;
	uint64_t canary;	/* the canaries' secret (hardened.c) */
} __attribute__((aligned(HK_CACHELINE)));
extern struct hk_free_key hk_free_key;

/* Is p the start of a block of s that was bumped at some time (handed
 * out, or put on the free list by hk_slab_carve)? (p is any pointer into
 * s's slots.) With inv = ceil(2^48 / block_size), off is
 * a multiple of block_size exactly when the low 48 bits of off * inv are
 * below inv (off < 2^19, block_size <= 2^17: the error terms stay under
 * inv). Multiplying by inv16 = inv << 16 keeps just those 48 bits, at the
 * top of the word, so the test is one multiply and one compare. */
HK_INLINE bool hk_slab_is_block(const hk_slab *s, const void *p)
{
	size_t off = (size_t)((const char *)p - s->start);
	/* bump only grows while the slab is in use; other threads read it. */
	return off * s->inv16 < s->inv16 &&
	       (const char *)p < __atomic_load_n(&s->bump, __ATOMIC_RELAXED);
}

/* A doubly linked list of slabs (a heap's partial and full lists, the
 * abandoned lists); the caller owns the list. Slabs are appended at the
 * tail and taken from the head: a slab that has just had a block freed
 * into it waits, collecting more frees, until the slabs before it are
 * used up. (Taking the newest first made a heap switch slabs every few
 * allocations in a random free pattern, each switch for a block or two.) */
typedef struct hk_slab_list {
	hk_slab *head, *tail;
} hk_slab_list;

HK_INLINE void hk_slab_list_append(hk_slab_list *l, hk_slab *s)
{
	s->next = NULL;
	s->prev = l->tail;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
}

HK_INLINE void hk_slab_list_remove(hk_slab_list *l, hk_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		l->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		l->tail = s->prev;
	s->next = s->prev = NULL;
}

/* Set up a fresh slab of class cls over slots starting at start. */
void hk_slab_init(hk_slab *s, unsigned cls, char *start, bool clean);

/* Take a never-used block, or NULL. */
HK_INLINE hk_block *hk_slab_bump(hk_slab *s)
{
	if (s->bump + s->block_size > s->end)
		return NULL;
	hk_block *b = (hk_block *)s->bump;
	__atomic_store_n(&s->bump, s->bump + s->block_size, __ATOMIC_RELAXED);
	s->bumpx ^= (uintptr_t)b;
	return b;
}

/* Put never-used blocks, as many as fit in max_bytes (and s has), on s's
 * free list, which must be empty (owner only). They are written (link
 * and key), so they no longer read as zero. */
HK_INLINE void hk_slab_carve(hk_slab *s, size_t max_bytes)
{
	size_t bs = s->block_size, n = max_bytes / bs, room = (size_t)(s->end - s->bump) / bs;
	if (n > room)
		n = room;
	if (!n)
		return;
	char *first = s->bump;
	uintptr_t x = 0;
	for (size_t i = 0; i < n; i++) {
		hk_block *b = (hk_block *)(first + i * bs);
		b->next = i + 1 < n ? (hk_block *)(first + (i + 1) * bs) : NULL;
		b->key = hk_free_key.value;
		x ^= (uintptr_t)b;
	}
	__atomic_store_n(&s->bump, first + n * bs, __ATOMIC_RELAXED);
	s->bumpx ^= x;
	s->xsum ^= x;
	s->free = (hk_block *)first;
}

/* The largest value of the option zero_on_free_max. */
#define HK_SCRUB_MAX 64

/* Zero b, a block of bs bytes (a class size: a multiple of 16, 32 to
 * HK_SCRUB_MAX), but its first 16 bytes, which the free list's link and
 * key overwrite anyway: for the option zero_on_free_max, three stores of
 * 16 bytes at most, on the free fast path without a call. */
HK_INLINE void hk_block_scrub(hk_block *b, size_t bs)
{
	char *p = (char *)b;
	__builtin_memset(p + 16, 0, 16);
	__builtin_memset(p + bs - 16, 0, 16);
	if (bs > 48)
		__builtin_memset(p + 32, 0, 16);
}

/* --- Trailers (option trailer). ---------------------------------------
 *
 * A block of a class above HK_TINY_MAX handed out for a request that
 * leaves its last HK_TRAILER_BYTES unused has there the trailer word,
 * hk_free_key.canary ^ its address, and a usable size HK_TRAILER_BYTES
 * short of the block: a write past malloc_usable_size changes the
 * trailer, and free finds it changed. A request that needs the whole
 * block gets it, without a trailer, and so does one for at most half the
 * block (an aligned request in a large class: its trailer would be on a
 * line, or a page, the program never touches); its bit in untrailed says
 * so. The classes stay as they are (no request moves up a class for its
 * trailer) at the price of a bit per block, which these classes have
 * room for: at most 51 blocks a slab, in the slab descriptor. The
 * owner sets the bit when it hands the block out without a trailer; a
 * free reads it first and the trailer only when it is clear (the last
 * line of a block handed out for half of it or less is one the program
 * may never have touched: a cache miss saved), a remote free too (the
 * program handed the block over after the allocation that set it), and
 * the owner's free clears it. A bit left set by another thread's free
 * makes the block count as one without a trailer when it is handed out
 * again, until its owner frees it or the slab is emptied: an overflow of
 * it goes unseen meanwhile, and nothing is ever reported falsely. */
#define HK_TRAILER_BYTES ((size_t)8)

_Static_assert(((size_t)1 << HK_SLOT_SHIFT) / 1280 <= 64, "a bit per block in untrailed");

/* Index of block b in s: off * inv >> 48 (hk_slab_is_block), which fits
 * in 64 bits (off < 2^19, inv <= 2^44). */
HK_INLINE unsigned hk_slab_block_index(const hk_slab *s, const void *b)
{
	size_t off = (size_t)((const char *)b - s->start);
	return (unsigned)((off * (s->inv16 >> 16)) >> 48);
}

HK_INLINE uintptr_t hk_trailer_of(const hk_block *b, size_t bs)
{
	return *(const uintptr_t *)((const char *)b + bs - HK_TRAILER_BYTES);
}

HK_INLINE bool hk_trailer_intact(const hk_slab *s, const hk_block *b)
{
	return hk_trailer_of(b, s->block_size) == (hk_free_key.canary ^ (uintptr_t)b);
}

/* Whether b, a block of s (which has trailers), was handed out without
 * its trailer. Any thread. */
HK_INLINE bool hk_slab_untrailed(const hk_slab *s, const hk_block *b)
{
	return (atomic_load_explicit(&s->untrailed, memory_order_relaxed) >>
		hk_slab_block_index(s, b)) & 1;
}

/* Give b, just taken from s (which has trailers) for a request of size
 * bytes, its trailer, or its bit in untrailed (owner only). */
HK_INLINE void hk_trailer_seal(hk_slab *s, hk_block *b, size_t size)
{
	size_t bs = s->block_size;
	if (HK_LIKELY(size <= bs - HK_TRAILER_BYTES && size > bs / 2)) {
		*(uintptr_t *)((char *)b + bs - HK_TRAILER_BYTES) = hk_free_key.canary ^ (uintptr_t)b;
		return;
	}
	uint64_t w = atomic_load_explicit(&s->untrailed, memory_order_relaxed);
	atomic_store_explicit(&s->untrailed, w | (uint64_t)1 << hk_slab_block_index(s, b),
			      memory_order_relaxed);
}

/* Whether b, being freed by the owner of s, was handed out without its
 * trailer; if so its bit is cleared. Reads the slab descriptor only. */
HK_INLINE bool hk_slab_retrail(hk_slab *s, const hk_block *b)
{
	uint64_t w = atomic_load_explicit(&s->untrailed, memory_order_relaxed);
	uint64_t bit = (uint64_t)1 << hk_slab_block_index(s, b);
	if (HK_LIKELY(!(w & bit)))
		return false;
	atomic_store_explicit(&s->untrailed, w & ~bit, memory_order_relaxed);
	return true;
}

/* Whether b, a live block of s, has a trailer and the program changed it
 * (a write past its usable size). Any thread. */
HK_INLINE bool hk_trailer_broken(const hk_slab *s, const hk_block *b)
{
	return hk_slab_trailed(s) && !hk_slab_untrailed(s, b) && !hk_trailer_intact(s, b);
}

/* Bytes of b, a live block of s, that the program may use. */
HK_INLINE size_t hk_slab_usable(const hk_slab *s, const hk_block *b)
{
	return s->block_size - (hk_slab_trailed(s) && !hk_slab_untrailed(s, b) ? HK_TRAILER_BYTES : 0);
}

/* Put b, freed, on s's free list (owner only; used is the caller's). */
HK_INLINE void hk_slab_push(hk_slab *s, hk_block *b)
{
	b->next = s->free;
	b->key = hk_free_key.value;
	s->free = b;
	s->xsum ^= (uintptr_t)b;
}

/* Whether b, found on a list of s, is a block of s with key: a free block
 * that may be handed out (hk_free_key.value) or taken from a remote list
 * (hk_free_key.remote). */
HK_INLINE bool hk_slab_holds_free(const hk_slab *s, const hk_block *b, uintptr_t key)
{
	return hk_slab_is_block(s, b) && b->key == key;
}

/* Report a double free of p found by what ("free()", "malloc()"). */
void hk_report_double_free(const char *what, const void *p);

/* Called when used reached 0, before the slab goes back to the pool:
 * checks that every block ever handed out is on the free list. If not (a
 * double free drove used to 0 while a block is live), reports it and
 * returns false: the slab is then kept out of the pool for good. */
bool hk_slab_check_empty(hk_slab *s);

/* Report-mode recovery after a walk of s's free list met b, which is not
 * a free block of s: report it, drop the list (its blocks stay unused
 * until the slab is released) and count b, freed twice, back into used. */
void hk_slab_drop_free_list(hk_slab *s, const hk_block *b);

#endif

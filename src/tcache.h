/* The thread cache: the malloc and free fast paths over the thread's heap
 * (heap.h), whose current slab per size class holds the free list a thread
 * allocates from, and the slow paths behind them. The fast paths touch
 * only the thread's own heap and the slab's owner-side cache line: no
 * lock, no atomic read-modify-write.
 */
#ifndef HK_TCACHE_H
#define HK_TCACHE_H

#include "common.h"
#include "hardened.h"
#include "heap.h"
#include "registry.h"
#include "size_class.h"
#include "slab.h"
#include "superslab.h"

struct hk_large;

/* Slow paths (tcache.c). hk_alloc_slow gets the request (size bytes
 * aligned to align, as kind: enum hk_kind) besides its class, for the
 * hardened mechanisms.
 * zeroed, when not NULL, is set to whether the block is known to read as
 * zero. */
void *hk_alloc_slow(unsigned cls, size_t size, size_t align, unsigned kind, bool *zeroed);
/* s: p's slot descriptor from the SuperSlab map, or NULL. A block of a
 * slab tagged HK_OWNER_WORK whose owner is the calling thread is freed
 * there with the work (hk_free_local_work) at the cost of a few
 * instructions more than the fast path's; a block of another live
 * thread's slab goes to its remote list by a path of its own (tcache.c,
 * free_remote). */
void hk_free_slow(void *p, hk_slab *s);

/* The allocation path of hardened mode, for any size, and of the classes
 * with canaries (hk_hard_canary_class), recording the kind of allocation
 * (enum hk_kind) in the blocks that carry canaries. */
void *hk_hardened_alloc(size_t size, size_t align, unsigned kind, bool *zeroed);

/* The free slow path for a caller (what: "operator delete") that expects
 * a block allocated as kind; with small canaries another kind is
 * reported. entry is p's registry entry. */
void hk_free_kind(void *p, uintptr_t entry, unsigned kind, const char *what);

/* realloc of p, a live small or zero-size block (hk_block_usable said
 * so), to size bytes in hardened mode or while some classes carry
 * canaries (hk_hard_canary_slabs): 1 if p holds size bytes now (its
 * canaries checked and moved), 0 if it must move, -1 if a broken canary
 * was reported. */
int hk_hardened_resize(void *p, size_t size);

/* Set *usable to the usable size of the block p, and *large to its header
 * (NULL for a small block, a zero-size block or a block of the C
 * library's malloc, see foreign.h). If p is not a live block, reports
 * misuse naming the caller (what) and, when that returns, gives false. */
bool hk_block_usable(const void *p, const char *what, struct hk_large **large, size_t *usable);

/* Free one block whose key is already set, from heap h (which may be
 * &hk_empty_heap). Used for blocks delivered late (thread.c). */
void hk_free_block(hk_heap *h, hk_slab *s, hk_block *b);

/* Process the blocks other threads delivered to h. */
void hk_heap_collect(hk_heap *h);

/* Free every block waiting in h's quarantine. */
void hk_quarantine_flush(hk_heap *h);

/* A block of class cls, for a request of size bytes aligned to align,
 * as kind. zeroed as for hk_alloc_slow. A block without the
 * key (freed twice, see slab.h) goes to the slow path, which reports it.
 * sealed (a constant): the block gets its trailer if its slab has them.
 * 23 instructions with the ret: objdump -d of hakmem_malloc in a build
 * configured with ac_cv_header_valgrind_valgrind_h=no. */
HK_INLINE void *hk_tcache_alloc_as(size_t cls, size_t size, size_t align, unsigned kind,
				   bool *zeroed, bool sealed)
{
	hk_slab *s = hk_tls_heap->cur[cls];
	hk_block *b = s->free;
	if (HK_UNLIKELY(!b || b->key != hk_free_key.value))
		return hk_alloc_slow((unsigned)cls, size, align, kind, zeroed);
	s->free = b->next;
	s->used++;
	s->xsum ^= (uintptr_t)b;
	b->key = 0;
	if (sealed && hk_slab_trailed(s))
		hk_trailer_seal(s, b, size);
	if (zeroed)
		*zeroed = false;
	return b;
}

HK_INLINE void *hk_tcache_alloc(size_t cls, size_t size, size_t align, unsigned kind, bool *zeroed)
{
	return hk_tcache_alloc_as(cls, size, align, kind, zeroed, false);
}

/* hk_tcache_alloc for a class that may have trailers (slab.h): the
 * medium classes' and any a caller does not know. */
HK_INLINE void *hk_tcache_alloc_sealed(size_t cls, size_t size, size_t align, unsigned kind,
				       bool *zeroed)
{
	return hk_tcache_alloc_as(cls, size, align, kind, zeroed, true);
}

/* The free fast path: p is freed into s, a slab of the calling thread's
 * heap, when s is one (s: p's slot descriptor, hk_superslab_slot, or its
 * slab, hk_registry_lookup; NULL allowed) and p a block of it, and, for a
 * caller that states the block's size (a sized operator delete; 0: none
 * stated), the size is no larger than the block. Stores into the block
 * and loads nothing from it (slab.h, Double frees). A slab whose frees
 * have more work (on_free) has its owner word tagged HK_OWNER_WORK, so
 * its frees take the slow path, to hk_free_local_work. Returns false,
 * having done nothing, when the caller must take a slow path. */
HK_INLINE bool hk_free_local(void *p, hk_slab *s, size_t size)
{
	hk_heap *h = hk_tls_heap;
	hk_block *b = p;
	if (HK_LIKELY(s && atomic_load_explicit(&s->owner, memory_order_relaxed) == (uintptr_t)h &&
		      hk_slab_is_block(s, p) && b != s->free && size <= s->block_size)) {
		hk_slab_push(s, b);
		h->local_frees++;
		if (HK_UNLIKELY(--s->used == 0))
			hk_slab_emptied(h, s);
		return true;
	}
	return false;
}

/* hk_free_local for a slab tagged HK_OWNER_WORK (slab.h) whose owner is
 * known to be the calling thread, from the slow paths: the block zeroed
 * (zero_on_free_max), or its trailer checked. A block handed out without
 * a trailer has its bit cleared and its last line left unread (the
 * program may never have touched it); a changed trailer gives false
 * (free_slow reports the overflow). */
HK_INLINE bool hk_free_owned_work(void *p, hk_slab *s, size_t size)
{
	hk_heap *h = hk_tls_heap;
	hk_block *b = p;
	if (!(hk_slab_is_block(s, p) && b != s->free && size <= s->block_size))
		return false;
	if (!hk_slab_trailed(s))
		hk_block_scrub(b, s->block_size);
	else if (!hk_slab_retrail(s, b) && !hk_trailer_intact(s, b))
		return false;
	hk_slab_push(s, b);
	h->local_frees++;
	if (--s->used == 0)
		hk_slab_emptied(h, s);
	return true;
}

/* hk_free_owned_work when s (NULL allowed) is tagged HK_OWNER_WORK and
 * owned by the calling thread; false, having done nothing, if not. */
HK_INLINE bool hk_free_local_work(void *p, hk_slab *s, size_t size)
{
	return s && atomic_load_explicit(&s->owner, memory_order_relaxed) ==
			    ((uintptr_t)hk_tls_heap | HK_OWNER_WORK) &&
	       hk_free_owned_work(p, s, size);
}

/* The registry entry of p (hk_registry_lookup), given s, p's slot
 * descriptor from the SuperSlab map or NULL: a slot that starts a slab in
 * use needs no lookup. */
HK_INLINE uintptr_t hk_free_entry(const void *p, hk_slab *s)
{
	return s && s->block_size ? (uintptr_t)s | HK_REG_SLAB : hk_registry_lookup(p);
}

/* realloc's fast path: p's slab when p is a live block of a slab of the
 * calling thread's fast-path heap whose blocks carry no canaries (owner
 * word the heap, tagged HK_OWNER_FULL or HK_OWNER_WORK at most), else
 * NULL (the caller must ask hk_block_usable). The slab from the
 * SuperSlab map, or from the registry where the map has none (a slot
 * other than its slab's first: blocks of 10 KiB and up, which programs
 * grow in place most; 1 MiB SuperSlabs). Loads p's key, which realloc's
 * copy or the program reads anyway. */
HK_INLINE hk_slab *hk_local_slab(const void *p)
{
	const hk_block *b = p;
	hk_slab *s = hk_superslab_slot(p);
	if (!s || !s->block_size) {
		uintptr_t e = hk_registry_lookup(p);
		s = (e & HK_REG_SLAB) ? hk_reg_slab(e) : NULL;
	}
	if (!s ||
	    (atomic_load_explicit(&s->owner, memory_order_relaxed) &
	     ~(HK_OWNER_FULL | HK_OWNER_WORK)) != (uintptr_t)hk_tls_heap ||
	    !hk_slab_is_block(s, p) || b->key == hk_free_key.value || b->key == hk_free_key.remote)
		return NULL;
	return s;
}

/* The usable size of p if hk_local_slab finds its slab, else 0. */
HK_INLINE size_t hk_local_usable(const void *p)
{
	const hk_slab *s = hk_local_slab(p);
	return s ? hk_slab_usable(s, p) : 0;
}

/* hk_free_local_later once s is known not to be a slab of the calling
 * thread's tagged HK_OWNER_WORK that takes p: only the registry's
 * slab, where it differs from s, is left to try. */
HK_INLINE bool hk_free_local_elsewhere(void *p, hk_slab *s, size_t size, uintptr_t *e)
{
	*e = hk_free_entry(p, s);
	hk_slab *r = (*e & HK_REG_SLAB) ? hk_reg_slab(*e) : NULL;
	return r && r != s && (hk_free_local(p, r, size) || hk_free_local_work(p, r, size));
}

/* For the free slow paths, given s as hk_free_fast found it: sets *e to
 * p's registry entry and frees p locally after all if it is a block of a
 * slab tagged HK_OWNER_WORK, or of a slot other than its slab's first,
 * which the map could not show. */
HK_INLINE bool hk_free_local_later(void *p, hk_slab *s, size_t size, uintptr_t *e)
{
	if (hk_free_local_work(p, s, size)) {
		*e = (uintptr_t)s | HK_REG_SLAB;
		return true;
	}
	return hk_free_local_elsewhere(p, s, size, e);
}

/* Any pointer (NULL too: the slow path takes it). The slot descriptor
 * from the SuperSlab map (one load), then the owner, block-start and
 * double-free tests, the push and the counts: 41 instructions on the way
 * to the ret (objdump -d of free in a build of tools/run-tests; 44 when
 * the registry's two loads found the slab). With malloc and the loop, 78
 * per pair (77 with the registry: the map saves a dependent load, not
 * instructions): callgrind of bench/tightloop --size 64. A block in a slot other than the first
 * of its slab (slabs of 10 KiB blocks and up), of a 1 MiB SuperSlab, or
 * not small goes to the slow path, which finds it through the registry. */
HK_INLINE void hk_free_fast(void *p)
{
	hk_slab *s = hk_superslab_slot(p);
	if (HK_LIKELY(hk_free_local(p, s, 0)))
		return;
	hk_free_slow(p, s);
}

#endif

/* The thread heap, and where a slab lives.
 *
 * A heap holds, per size class, the slab its thread allocates from (cur:
 * its free list is the thread cache of tcache.h) and the thread's other
 * slabs, partial or full. Slabs of exited threads wait on the abandoned
 * lists, one per class, until a thread adopts them. A slab's place is
 * its where (enum hk_slab_where), and hk_heap_move is the one function
 * that changes it.
 */
#ifndef HK_HEAP_H
#define HK_HEAP_H

#include "common.h"
#include "hardened.h"
#include "size_class.h"
#include "slab.h"

typedef struct hk_heap {
	/* never NULL: hk_empty_slab when none, always at HK_ZERO_CLASS */
	hk_slab *cur[HK_NCLASSES + 1];
	/* The current slabs of the classes with canaries (hk_heap_cur). */
	hk_slab *checked_cur[HK_NCLASSES];
	hk_slab_list partial[HK_NCLASSES];	/* has free blocks; used oldest first */
	hk_slab_list full[HK_NCLASSES];		/* no free block: waits for frees */
	struct hk_heap *next_all;	/* all heaps (thread.c) */
	struct hk_heap *next_free;	/* heaps without a thread (thread.c) */
	bool live;			/* a thread uses it; under heaps_lock (thread.c) */
	bool exiting;			/* abandoning: do not park slabs */
	uint32_t remote_since_collect;
	uint64_t local_frees;		/* fast path; read racily by statistics */
	uint32_t quarantine_len;	/* slots of quarantine in use */
	hk_block *last_freed;		/* checked at the next allocation */
	uint64_t rng;			/* picks the block to evict */
	_Atomic uint64_t remote_frees;	/* counted by the owner */
	/* Remote frees into parked slabs, pushed by other threads. */
	_Atomic(hk_block *) delayed __attribute__((aligned(HK_CACHELINE)));
	/* The quarantine (hardened.h): freed blocks waiting before reuse.
	 * Last, on a line of its own: a heap is page-aligned (thread.c), so
	 * that all the fields above, which every thread touches, lie on one
	 * page, and the quarantine's page is touched only where it is used. */
	hk_block *quarantine[HK_QUARANTINE_MAX] __attribute__((aligned(HK_CACHELINE)));
} hk_heap;

_Static_assert(offsetof(hk_heap, quarantine) <= HK_PAGE_SIZE,
	       "what every thread touches of its heap fits on one page");

/* A heap with no slabs: what a thread starts with, so the fast path needs
 * no initialisation check (its empty slab sends malloc to the slow path,
 * and no slab is owned by it, so free does not take the fast path). */
extern hk_heap hk_empty_heap;
extern hk_slab hk_empty_slab;

/* The calling thread's heap, as the slow paths use it (&hk_empty_heap
 * until the first allocation). */
extern __thread hk_heap *hk_tls_self __attribute__((tls_model("initial-exec")));

/* The heap the fast paths use: hk_tls_self, except under Valgrind's
 * memcheck, in hardened mode or while the heap profiler is on (prof.h),
 * where it stays &hk_empty_heap so that every call takes the slow path
 * (which describes blocks to memcheck, checks everything, or samples). */
extern __thread hk_heap *hk_tls_heap __attribute__((tls_model("initial-exec")));

/* Where h keeps its current slab of class cls: in cur, which the malloc
 * fast path reads, except for a class whose blocks carry canaries
 * (hardened.h), whose blocks the slow path must write: its current slab
 * is in checked_cur, and cur holds hk_empty_slab, which sends the fast
 * path to the slow one. */
HK_INLINE hk_slab **hk_heap_cur(hk_heap *h, unsigned cls)
{
	return hk_hard_canary_class(cls) ? &h->checked_cur[cls] : &h->cur[cls];
}

/* Put h's slab s where it belongs now: off its list (or out of h's cur),
 * onto the new one (lists at the tail), with the owner word in step: h,
 * tagged HK_OWNER_FULL on the full list and HK_OWNER_CHECKED for a class
 * with canaries; none on the abandoned list, and
 * none when h is NULL. HK_WHERE_NONE: on no list, being moved. The moves
 * to and from the abandoned lists are heap.c's own, under its lock. */
void hk_heap_move(hk_heap *h, hk_slab *s, unsigned where);

/* Empty h: its slabs as they are, no current slab, no quarantine. */
void hk_heap_reset(hk_heap *h);

/* Call fn on every slab h owns; fn may move the slab. */
void hk_heap_each_slab(hk_heap *h, void (*fn)(hk_heap *, hk_slab *));

/* Drop the count a current slab holds for being current, if it has one;
 * the caller then checks used (owner only). */
void hk_slab_unpin(hk_slab *s);

/* s, owned by h, has no block in use any more: back to the pool. */
void hk_slab_emptied(hk_heap *h, hk_slab *s);

/* Give up s, a slab of the exiting heap h: ownership goes first, then
 * the slab is drained and parked, all under the abandoned lock, so a
 * remote free that lands after the drain finds it parked with no owner
 * and adopts it (an abandoned slab whose last blocks are freed remotely
 * is never left behind). An empty slab goes back to the pool. */
void hk_heap_abandon_slab(hk_heap *h, hk_slab *s);

/* Make h the owner of s if s has none. Returns whether h owns s now;
 * blocks freed remotely into s meanwhile are taken into its free list. */
bool hk_heap_adopt(hk_heap *h, hk_slab *s);

/* Adopt any abandoned slab of class cls (where = NONE), or NULL. */
hk_slab *hk_heap_adopt_any(hk_heap *h, unsigned cls);

/* Release the abandoned slabs whose blocks were all freed remotely since. */
void hk_heap_release_abandoned(void);

void hk_heap_fork_prepare(void);
void hk_heap_fork_parent(void);
void hk_heap_fork_child(void);

#endif

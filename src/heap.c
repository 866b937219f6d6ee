#include "heap.h"

#include "lock.h"
#include "log.h"
#include "pool.h"
#include "remote.h"

hk_slab hk_empty_slab;
hk_heap hk_empty_heap = { .cur = { [0 ... HK_ZERO_CLASS] = &hk_empty_slab },
			  .checked_cur = { [0 ... HK_NCLASSES - 1] = &hk_empty_slab } };
__thread hk_heap *hk_tls_self __attribute__((tls_model("initial-exec"))) = &hk_empty_heap;
__thread hk_heap *hk_tls_heap __attribute__((tls_model("initial-exec"))) = &hk_empty_heap;

static hk_lock_t abandoned_lock = HK_LOCK_INIT;
static hk_slab_list abandoned[HK_NCLASSES];
/* Read without the lock, so that a heap looks for an abandoned slab only
 * when there is one. */
static _Atomic size_t abandoned_count[HK_NCLASSES];

static hk_slab_list *list_of(hk_heap *h, unsigned cls, unsigned where)
{
	switch (where) {
	case HK_WHERE_PARTIAL:
		return &h->partial[cls];
	case HK_WHERE_FULL:
		return &h->full[cls];
	case HK_WHERE_ABANDONED:
		return &abandoned[cls];
	default:
		return NULL;
	}
}

void hk_heap_move(hk_heap *h, hk_slab *s, unsigned where)
{
	unsigned from = s->where, cls = s->cls;
	hk_slab_list *l = list_of(h, cls, from);
	if (l)
		hk_slab_list_remove(l, s);
	else if (from == HK_WHERE_CUR)
		*hk_heap_cur(h, cls) = &hk_empty_slab;
	if (from == HK_WHERE_ABANDONED)
		atomic_fetch_sub_explicit(&abandoned_count[cls], 1, memory_order_relaxed);
	s->where = (uint8_t)where;
	l = list_of(h, cls, where);
	if (l)
		hk_slab_list_append(l, s);
	else if (where == HK_WHERE_CUR)
		*hk_heap_cur(h, cls) = s;
	if (where == HK_WHERE_ABANDONED)
		atomic_fetch_add_explicit(&abandoned_count[cls], 1, memory_order_relaxed);
	/* The owner word changes only when it must: other threads read it. */
	uintptr_t owner = where == HK_WHERE_ABANDONED || !h ? 0 : (uintptr_t)h;
	if (where == HK_WHERE_FULL)
		owner |= HK_OWNER_FULL;
	if (owner && hk_hard_canary_class(cls))
		owner |= HK_OWNER_CHECKED;
	if (owner && s->on_free)
		owner |= HK_OWNER_WORK;
	if (atomic_load_explicit(&s->owner, memory_order_relaxed) != owner)
		atomic_store_explicit(&s->owner, owner, memory_order_release);
}

void hk_heap_reset(hk_heap *h)
{
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		h->cur[c] = h->checked_cur[c] = &hk_empty_slab;
		h->partial[c] = h->full[c] = (hk_slab_list){ NULL, NULL };
	}
	h->cur[HK_ZERO_CLASS] = &hk_empty_slab;
	h->exiting = false;
	h->remote_since_collect = 0;
	h->quarantine_len = 0;
	h->last_freed = NULL;
	h->rng = (uint64_t)(uintptr_t)h ^ hk_free_key.canary;
}

static void each_in_list(hk_heap *h, hk_slab *s, void (*fn)(hk_heap *, hk_slab *))
{
	while (s) {
		hk_slab *next = s->next;
		fn(h, s);
		s = next;
	}
}

void hk_heap_each_slab(hk_heap *h, void (*fn)(hk_heap *, hk_slab *))
{
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		if (*hk_heap_cur(h, c) != &hk_empty_slab)
			fn(h, *hk_heap_cur(h, c));
		each_in_list(h, h->partial[c].head, fn);
		each_in_list(h, h->full[c].head, fn);
	}
}

void hk_slab_unpin(hk_slab *s)
{
	if (s->pinned) {
		s->pinned = 0;
		s->used--;
	}
}

void hk_slab_emptied(hk_heap *h, hk_slab *s)
{
	hk_heap_move(h, s, HK_WHERE_NONE);
	hk_pool_release(s);
}

void hk_heap_abandon_slab(hk_heap *h, hk_slab *s)
{
	hk_lock(&abandoned_lock);
	hk_slab_unpin(s);
	hk_heap_move(h, s, HK_WHERE_ABANDONED);
	hk_remote_splice(s, hk_remote_drain_park(s));
	bool empty = s->used == 0;
	if (empty)
		hk_heap_move(NULL, s, HK_WHERE_NONE);
	else
		HK_DEBUG(HK_LOG_THREAD, "slab %p abandoned with %u blocks in use",
			 (void *)s->start, s->used);
	hk_unlock(&abandoned_lock);
	/* Not on the abandoned list and no block in flight: no one else
	 * reaches it. */
	if (empty)
		hk_pool_release(s);
}

bool hk_heap_adopt(hk_heap *h, hk_slab *s)
{
	hk_lock(&abandoned_lock);
	bool mine = hk_slab_owner(s) == NULL && s->where == HK_WHERE_ABANDONED;
	if (mine)
		hk_heap_move(h, s, HK_WHERE_NONE);
	hk_unlock(&abandoned_lock);
	if (!mine)
		return hk_slab_owner(s) == h;
	hk_remote_splice(s, hk_remote_drain_park(s));
	hk_heap_move(h, s, HK_WHERE_PARTIAL);
	return true;
}

hk_slab *hk_heap_adopt_any(hk_heap *h, unsigned cls)
{
	if (!atomic_load_explicit(&abandoned_count[cls], memory_order_relaxed))
		return NULL;
	hk_lock(&abandoned_lock);
	hk_slab *s = abandoned[cls].head;
	if (s)
		hk_heap_move(h, s, HK_WHERE_NONE);
	hk_unlock(&abandoned_lock);
	return s;
}

void hk_heap_release_abandoned(void)
{
	hk_slab *empty = NULL;
	hk_lock(&abandoned_lock);
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		hk_slab *s = abandoned[c].head;
		while (s) {
			hk_slab *next = s->next;
			/* Nobody owns it: under the lock this thread may drain it. */
			hk_remote_splice(s, hk_remote_drain(s));
			if (s->used == 0) {
				hk_heap_move(NULL, s, HK_WHERE_NONE);
				s->next = empty;
				empty = s;
			}
			s = next;
		}
	}
	hk_unlock(&abandoned_lock);
	while (empty) {
		hk_slab *next = empty->next;
		hk_pool_release(empty);
		empty = next;
	}
}

void hk_heap_fork_prepare(void)
{
	hk_lock(&abandoned_lock);
}

void hk_heap_fork_parent(void)
{
	hk_unlock(&abandoned_lock);
}

void hk_heap_fork_child(void)
{
	hk_lock_reset(&abandoned_lock);
}

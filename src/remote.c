#include "remote.h"

#include "heap.h"
#include "log.h"
#include "registry.h"

#define PTR(x) ((hk_block *)((x) & ~HK_XTF_STATE))

bool hk_remote_push(hk_slab *s, hk_block *b)
{
	b->key = hk_free_key.remote;
	uintptr_t old = atomic_load_explicit(&s->xtf, memory_order_relaxed), new;
	do {
		if ((old & HK_XTF_STATE) == HK_XTF_NOTIFY) {
			new = (old & ~HK_XTF_STATE) | HK_XTF_QUIET;
		} else {
			b->next = PTR(old);
			new = (uintptr_t)b | (old & HK_XTF_STATE);
		}
	} while (!atomic_compare_exchange_weak_explicit(&s->xtf, &old, new, memory_order_release,
							memory_order_relaxed));
	if ((old & HK_XTF_STATE) != HK_XTF_NOTIFY)
		return true;

	/* b is still counted in s->used, so s cannot go back to the pool
	 * while we read its owner. */
	struct hk_heap *h = hk_slab_owner(s);
	if (!h)
		return false;
	hk_block *head = atomic_load_explicit(&h->delayed, memory_order_relaxed);
	do
		b->next = head;
	while (!atomic_compare_exchange_weak_explicit(&h->delayed, &head, b, memory_order_release,
						      memory_order_relaxed));
	return true;
}

static hk_block *take(hk_slab *s, uintptr_t state_after)
{
	uintptr_t old = atomic_load_explicit(&s->xtf, memory_order_relaxed), new;
	do {
		new = state_after == HK_XTF_STATE ? (old & HK_XTF_STATE) : state_after;
		if (old == new)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(&s->xtf, &old, new, memory_order_acquire,
							memory_order_relaxed));
	return PTR(old);
}

hk_block *hk_remote_drain(hk_slab *s)
{
	if (PTR(atomic_load_explicit(&s->xtf, memory_order_relaxed)) == NULL)
		return NULL;
	return take(s, HK_XTF_STATE);
}

hk_block *hk_remote_drain_park(hk_slab *s)
{
	return take(s, HK_XTF_NOTIFY);
}

void hk_remote_unpark(hk_slab *s)
{
	uintptr_t old = atomic_load_explicit(&s->xtf, memory_order_relaxed);
	while ((old & HK_XTF_STATE) != HK_XTF_QUIET &&
	       !atomic_compare_exchange_weak_explicit(&s->xtf, &old, old & ~HK_XTF_STATE,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

uint32_t hk_remote_splice(hk_slab *s, hk_block *list)
{
	uint32_t n = 0;
	uintptr_t x = 0;
	hk_block *tail = NULL;
	for (hk_block *b = list; b; b = b->next) {
		if (HK_UNLIKELY(!hk_slab_holds_free(s, b, hk_free_key.remote))) {
			/* Freed again by the owner after a remote free (it has
			 * the local key, and its link now leads into the free
			 * list): the rest of the list is dropped. */
			hk_report_double_free("free()", b);
			if (tail)
				tail->next = NULL;
			else
				list = NULL;
			break;
		}
		if (HK_UNLIKELY(++n > s->used))
			hk_fatal("heap corruption: remote free list of slab %p holds more blocks "
				 "than are in use (double free?)", (void *)s->start);
		b->key = hk_free_key.value;
		x ^= (uintptr_t)b;
		tail = b;
	}
	if (!list)
		return 0;
	tail->next = s->free;
	s->free = list;
	s->xsum ^= x;
	s->used -= n;
	return n;
}

hk_slab *hk_remote_block_slab(hk_block *b)
{
	uintptr_t e = hk_registry_lookup(b);
	hk_slab *s = hk_reg_slab(e);
	if (HK_LIKELY((e & HK_REG_SLAB) && hk_slab_holds_free(s, b, hk_free_key.remote)))
		return s;
	hk_report_double_free("free()", b);
	return NULL;
}

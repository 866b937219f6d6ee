#include "borrow.h"

#include "registry.h"
#include "size_class.h"
#include "stats.h"
#include "tcache.h"
#include "tuning.h"
#include "vg.h"

/* Give class cls's borrowed blocks back to their slabs. */
static void flush_class(hk_heap *h, unsigned cls)
{
	hk_block *b = h->borrowed[cls];
	h->borrowed[cls] = NULL;
	h->borrowed_bytes -= (size_t)h->nborrowed[cls] * hk_class_size(cls);
	h->nborrowed[cls] = 0;
	while (b) {
		if (HK_UNLIKELY(b->key != hk_free_key.remote)) {
			hk_report_double_free("free()", b);
			return;
		}
		hk_block *next = b->next;
		b->key = hk_free_key.value;
		hk_free_block(h, hk_reg_slab(hk_registry_lookup(b)), b);
		b = next;
	}
}

bool hk_borrow_put(hk_heap *h, hk_slab *s, hk_block *b)
{
	hk_heap *o = hk_slab_owner(s);
	unsigned cls = s->cls;
	if (!o || o == h || h == &hk_empty_heap || !h->borrow_room[cls] || h->exiting ||
	    HK_UNLIKELY(hk_vg_on))
		return false;
	size_t size = s->block_size;
	if (h->nborrowed[cls] >= h->borrow_room[cls] ||
	    h->borrowed_bytes + size > HK_BORROW_MAX_BYTES) {
		/* The thread frees blocks of the class faster than it
		 * allocates them: it needs none kept until it allocates
		 * beyond its own slabs again. */
		flush_class(h, cls);
		h->borrow_room[cls] = 0;
		return false;
	}
	b->next = h->borrowed[cls];
	b->key = hk_free_key.remote;
	h->borrowed[cls] = b;
	h->nborrowed[cls]++;
	h->borrowed_bytes += size;
	hk_stats_bump(&h->remote_frees);
	return true;
}

hk_block *hk_borrow_take(hk_heap *h, unsigned cls)
{
	hk_block *b = h->borrowed[cls];
	if (!b) {
		if (hk_class_size(cls) <= HK_BORROW_MAX_SIZE)
			h->borrow_room[cls] = HK_BORROW_MAX_BLOCKS;
		return NULL;
	}
	if (HK_UNLIKELY(b->key != hk_free_key.remote)) {
		/* Freed again by its owner (it has the local key) or written
		 * after free: the list is dropped, its blocks stay used. */
		hk_report_double_free("malloc()", b);
		h->borrowed_bytes -= (size_t)h->nborrowed[cls] * hk_class_size(cls);
		h->borrowed[cls] = NULL;
		h->nborrowed[cls] = 0;
		return NULL;
	}
	h->borrowed[cls] = b->next;
	h->nborrowed[cls]--;
	h->borrowed_bytes -= hk_class_size(cls);
	b->key = 0;
	return b;
}

void hk_borrow_flush(hk_heap *h)
{
	if (!h->borrowed_bytes)
		return;
	for (unsigned c = 0; c < HK_NCLASSES; c++)
		if (h->borrowed[c])
			flush_class(h, c);
}

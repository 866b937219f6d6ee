#define _GNU_SOURCE
#include "thread.h"

#include <pthread.h>

#include "hardened.h"
#include "init.h"
#include "lock.h"
#include "log.h"
#include "meta.h"
#include "options.h"
#include "registry.h"
#include "remote.h"
#include "tcache.h"
#include "vg.h"

static hk_lock_t heaps_lock = HK_LOCK_INIT;
static hk_heap *all_heaps, *free_heaps;

static pthread_key_t heap_key;

static void thread_exit(void *arg);

void hk_thread_init(void)
{
	pthread_key_create(&heap_key, thread_exit);
}

hk_heap *hk_thread_attach(void)
{
	hk_global_init();
	/* live is set under heaps_lock, where hk_thread_collect_orphans
	 * reads it. */
	hk_lock(&heaps_lock);
	hk_heap *h = free_heaps;
	if (h) {
		free_heaps = h->next_free;
		h->live = true;
	}
	hk_unlock(&heaps_lock);
	if (!h) {
		h = hk_meta_alloc_aligned(sizeof *h, HK_PAGE_SIZE);
		if (!h)
			return NULL;
		hk_lock(&heaps_lock);
		h->live = true;
		h->next_all = all_heaps;
		all_heaps = h;
		hk_unlock(&heaps_lock);
	}
	hk_heap_reset(h);
	hk_tls_self = h;
	if (!hk_vg_on && !hk_hard_slow() && !HK_OPT(prof))
		hk_tls_heap = h;
	HK_DEBUG(HK_LOG_THREAD, "heap %p for thread %lu", (void *)h, (unsigned long)pthread_self());
	pthread_setspecific(heap_key, h);
	/* Blocks delivered after the heap's previous thread left. */
	hk_heap_collect(h);
	return h;
}

static void unpark(hk_heap *h, hk_slab *s)
{
	(void)h;
	hk_remote_unpark(s);
}

static void heap_abandon(hk_heap *h)
{
	hk_quarantine_flush(h);
	hk_heap_collect(h);
	/* No slab asks for delivery to h any more ... */
	hk_heap_each_slab(h, unpark);
	h->exiting = true;
	/* ... so after this, only deliveries already under way can reach h;
	 * those are picked up by hk_thread_collect_orphans. */
	hk_heap_collect(h);
	hk_heap_each_slab(h, hk_heap_abandon_slab);
	hk_heap_reset(h);
}

static void thread_exit(void *arg)
{
	hk_heap *h = arg;
	HK_DEBUG(HK_LOG_THREAD, "thread %lu exits, heap %p abandoned", (unsigned long)pthread_self(),
		 (void *)h);
	heap_abandon(h);
	hk_tls_self = hk_tls_heap = &hk_empty_heap;
	hk_lock(&heaps_lock);
	h->live = false;
	h->next_free = free_heaps;
	free_heaps = h;
	hk_unlock(&heaps_lock);
}

void hk_thread_collect_orphans(hk_heap *h)
{
	hk_block *list = NULL;
	hk_lock(&heaps_lock);
	for (hk_heap *o = all_heaps; o; o = o->next_all) {
		if (o->live || !atomic_load_explicit(&o->delayed, memory_order_relaxed))
			continue;
		hk_block *b = atomic_exchange_explicit(&o->delayed, NULL, memory_order_acquire);
		while (b && hk_remote_block_slab(b)) {
			hk_block *next = b->next;
			b->next = list;
			list = b;
			b = next;
		}
	}
	hk_unlock(&heaps_lock);
	while (list) {
		hk_block *next = list->next;
		hk_free_block(h, hk_reg_slab(hk_registry_lookup(list)), list);
		list = next;
	}
}

static void flush_slab(hk_heap *h, hk_slab *s)
{
	if (s->where == HK_WHERE_CUR) {
		hk_slab_unpin(s);
		hk_heap_move(h, s, HK_WHERE_PARTIAL);
	}
	hk_remote_splice(s, hk_remote_drain_park(s));
	if (s->used == 0)
		hk_slab_emptied(h, s);
}

void hk_thread_flush(void)
{
	hk_heap *h = hk_tls_self;
	if (h == &hk_empty_heap)
		return;
	hk_quarantine_flush(h);
	hk_heap_collect(h);
	hk_heap_each_slab(h, flush_slab);
}

uint64_t hk_thread_sum(size_t offset)
{
	uint64_t sum = 0;
	hk_lock(&heaps_lock);
	for (hk_heap *h = all_heaps; h; h = h->next_all)
		sum += atomic_load_explicit((_Atomic uint64_t *)((char *)h + offset),
					    memory_order_relaxed);
	hk_unlock(&heaps_lock);
	return sum;
}

/* Lock order: see init.c. */
void hk_thread_fork_prepare(void)
{
	hk_lock(&heaps_lock);
}

void hk_thread_fork_parent(void)
{
	hk_unlock(&heaps_lock);
}

/* The other threads' heaps stay as they were in the child: their lists may
 * have been mid-update at the fork, so they are left alone (their slabs
 * are lost to the child, which usually execs or exits soon). */
void hk_thread_fork_child(void)
{
	hk_lock_reset(&heaps_lock);
}

#define _GNU_SOURCE
#include "thread.h"

#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/random.h>

#include "cgroup.h"
#include "hardened.h"
#include "large.h"
#include "lock.h"
#include "os.h"
#include "log.h"
#include "meta.h"
#include "options.h"
#include "pool.h"
#include "prof.h"
#include "registry.h"
#include "remote.h"
#include "signals.h"
#include "stats.h"
#include "vg.h"

bool hk_vg_on;

static hk_lock_t heaps_lock = HK_LOCK_INIT;
static hk_heap *all_heaps, *free_heaps;

static hk_lock_t abandoned_lock = HK_LOCK_INIT;
static hk_slab_list abandoned[HK_NCLASSES];
static _Atomic size_t abandoned_count[HK_NCLASSES];

static pthread_key_t heap_key;

/* 0: not started, 1: running, 2: done. */
static _Atomic int init_state;
static __thread bool in_init __attribute__((tls_model("initial-exec")));

static void thread_exit(void *arg);
static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

static uintptr_t random_key(void)
{
	uintptr_t k = 0;
	if (getrandom(&k, sizeof k, GRND_NONBLOCK) != sizeof k) {
		const uintptr_t *at = (const uintptr_t *)getauxval(AT_RANDOM);
		k = at ? at[0] ^ at[1] : (uintptr_t)&k;
	}
	return k | 1;
}

void hk_global_init(void)
{
	if (HK_LIKELY(atomic_load_explicit(&init_state, memory_order_acquire) == 2) || in_init)
		return;
	int expected = 0;
	if (!atomic_compare_exchange_strong(&init_state, &expected, 1)) {
		while (atomic_load_explicit(&init_state, memory_order_acquire) != 2)
			sched_yield();
		return;
	}
	in_init = true;
	if (getauxval(AT_PAGESZ) != HK_PAGE_SIZE)
		hk_fatal("unsupported page size %lu", getauxval(AT_PAGESZ));
	hk_options_init();
	hk_cgroup_init();
	hk_signals_update();
	hk_free_key.value = random_key();
	hk_free_key.remote = random_key();
	if (hk_free_key.remote == hk_free_key.value)
		hk_free_key.remote ^= 2;
	hk_free_key.canary = random_key();
	hk_vg_on = HK_VG_RUNNING();
	/* The key comes first: pthread_atfork may itself allocate. */
	pthread_key_create(&heap_key, thread_exit);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	/* Last: switching the profiler on may allocate (prof.c, prime). */
	hk_prof_update();
	in_init = false;
	atomic_store_explicit(&init_state, 2, memory_order_release);
}

__attribute__((constructor)) static void hk_constructor(void)
{
	hk_global_init();
}

static void reset_heap(hk_heap *h)
{
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		h->cur[c] = &hk_empty_slab;
		h->partial[c] = h->full[c] = (hk_slab_list){ NULL, NULL };
	}
	h->exiting = false;
	h->remote_since_collect = 0;
	h->quarantine_len = 0;
	h->last_freed = NULL;
	h->rng = (uint64_t)(uintptr_t)h ^ hk_free_key.canary;
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
		h = hk_meta_alloc(sizeof *h);
		if (!h)
			return NULL;
		hk_lock(&heaps_lock);
		h->live = true;
		h->next_all = all_heaps;
		all_heaps = h;
		hk_unlock(&heaps_lock);
	}
	reset_heap(h);
	hk_tls_self = h;
	if (!hk_vg_on && !hk_hard_slow() && !HK_OPT(prof))
		hk_tls_heap = h;
	HK_DEBUG(HK_LOG_THREAD, "heap %p for thread %lu", (void *)h, (unsigned long)pthread_self());
	pthread_setspecific(heap_key, h);
	/* Blocks delivered after the heap's previous thread left. */
	hk_heap_collect(h);
	return h;
}

/* Ownership goes first, then the slab is drained and parked, all under
 * the abandoned lock: a remote free that lands after the drain finds it
 * parked with no owner and adopts it, so an abandoned slab whose last
 * blocks are freed remotely is never left behind. */
static void abandon_slab(hk_heap *h, hk_slab *s)
{
	(void)h;
	hk_lock(&abandoned_lock);
	hk_slab_unpin(s);
	s->where = HK_WHERE_ABANDONED;
	hk_slab_set_owner(s, NULL, false);
	hk_remote_splice(s, hk_remote_drain_park(s));
	bool empty = s->used == 0;
	if (empty) {
		s->where = HK_WHERE_NONE;
	} else {
		HK_DEBUG(HK_LOG_THREAD, "slab %p abandoned with %u blocks in use",
			 (void *)s->start, s->used);
		hk_slab_list_append(&abandoned[s->cls], s);
		atomic_fetch_add_explicit(&abandoned_count[s->cls], 1, memory_order_relaxed);
	}
	hk_unlock(&abandoned_lock);
	/* Not on the abandoned list and no block in flight: no one else
	 * reaches it. */
	if (empty)
		hk_pool_release(s);
}

static void each_in_list(hk_heap *h, hk_slab *s, void (*fn)(hk_heap *, hk_slab *))
{
	while (s) {
		hk_slab *next = s->next;
		fn(h, s);
		s = next;
	}
}

/* Call fn on every slab h owns; fn may move the slab to another list. */
static void each_slab(hk_heap *h, void (*fn)(hk_heap *, hk_slab *))
{
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		if (h->cur[c] != &hk_empty_slab)
			fn(h, h->cur[c]);
		each_in_list(h, h->partial[c].head, fn);
		each_in_list(h, h->full[c].head, fn);
	}
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
	each_slab(h, unpark);
	h->exiting = true;
	/* ... so after this, only deliveries already under way can reach h;
	 * those are picked up by hk_thread_collect_orphans. */
	hk_heap_collect(h);
	each_slab(h, abandon_slab);
	reset_heap(h);
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

/* Take s off its abandoned list (abandoned lock held). */
static void abandoned_unlink(hk_slab *s)
{
	hk_slab_list_remove(&abandoned[s->cls], s);
	atomic_fetch_sub_explicit(&abandoned_count[s->cls], 1, memory_order_relaxed);
	s->where = HK_WHERE_NONE;
}

static void take_adopted(hk_heap *h, hk_slab *s)
{
	abandoned_unlink(s);
	hk_slab_set_owner(s, h, false);
}

bool hk_thread_adopt(hk_heap *h, hk_slab *s)
{
	hk_lock(&abandoned_lock);
	bool mine = hk_slab_owner(s) == NULL &&
		    s->where == HK_WHERE_ABANDONED;
	if (mine)
		take_adopted(h, s);
	hk_unlock(&abandoned_lock);
	if (!mine)
		return hk_slab_owner(s) == h;
	hk_remote_splice(s, hk_remote_drain_park(s));
	hk_heap_move(h, s, HK_WHERE_PARTIAL);
	return true;
}

hk_slab *hk_thread_adopt_any(hk_heap *h, unsigned cls)
{
	if (!atomic_load_explicit(&abandoned_count[cls], memory_order_relaxed))
		return NULL;
	hk_lock(&abandoned_lock);
	hk_slab *s = abandoned[cls].head;
	if (s)
		take_adopted(h, s);
	hk_unlock(&abandoned_lock);
	return s;
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
		h->cur[s->cls] = &hk_empty_slab;
		hk_slab_unpin(s);
		hk_heap_move(h, s, HK_WHERE_PARTIAL);
	}
	hk_remote_splice(s, hk_remote_drain_park(s));
	if (s->used == 0) {
		hk_heap_move(h, s, HK_WHERE_NONE);
		hk_pool_release(s);
	}
}

void hk_thread_flush(void)
{
	hk_heap *h = hk_tls_self;
	if (h == &hk_empty_heap)
		return;
	hk_quarantine_flush(h);
	hk_heap_collect(h);
	each_slab(h, flush_slab);
}

/* Abandoned slabs whose blocks were all freed remotely since: nobody owns
 * them, so under the abandoned lock this thread may drain them. */
static void release_empty_abandoned(void)
{
	hk_slab *empty = NULL;
	hk_lock(&abandoned_lock);
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		hk_slab *s = abandoned[c].head;
		while (s) {
			hk_slab *next = s->next;
			hk_remote_splice(s, hk_remote_drain(s));
			if (s->used == 0) {
				abandoned_unlink(s);
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

size_t hk_thread_trim(void)
{
	uint64_t before = hk_os_mapped_bytes();
	hk_thread_flush();
	hk_thread_collect_orphans(hk_tls_self);
	release_empty_abandoned();
	size_t decommitted = hk_pool_trim() + hk_large_trim();
	uint64_t after = hk_os_mapped_bytes();
	HK_DEBUG(HK_LOG_THREAD, "trim: %llu bytes unmapped, %zu decommitted",
		 (unsigned long long)(before > after ? before - after : 0), decommitted);
	return (before > after ? before - after : 0) + decommitted;
}

bool hk_thread_reclaim(void)
{
	hk_heap *h = hk_tls_self;
	bool held = h->quarantine_len > 0;
	if (held)
		hk_quarantine_flush(h);
	return hk_pool_release_empty() + hk_large_trim() > 0 || held;
}

void hk_thread_maybe_trim(void)
{
	static _Atomic uint64_t last_ms;
	uint64_t now = hk_os_now_ms();
	uint64_t last = atomic_load_explicit(&last_ms, memory_order_relaxed);
	if (now - last < HK_OPT(trim_interval_ms))
		return;
	if (atomic_compare_exchange_strong(&last_ms, &last, now))
		hk_thread_trim();
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

/* Lock order: statistics snapshot, heaps, abandoned, large cache, pool,
 * registry, meta (the order in which the code nests them); the profiler's
 * is taken with no other held and first. */
static void fork_prepare(void)
{
	hk_prof_fork_prepare();
	hk_stats_fork_prepare();
	hk_lock(&heaps_lock);
	hk_lock(&abandoned_lock);
	hk_large_fork_prepare();
	hk_pool_fork_prepare();
	hk_registry_fork_prepare();
	hk_meta_fork_prepare();
}

static void fork_parent(void)
{
	hk_meta_fork_parent();
	hk_registry_fork_parent();
	hk_pool_fork_parent();
	hk_large_fork_parent();
	hk_unlock(&abandoned_lock);
	hk_unlock(&heaps_lock);
	hk_stats_fork_parent();
	hk_prof_fork_parent();
}

/* The other threads' heaps stay as they were in the child: their lists may
 * have been mid-update at the fork, so they are left alone (their slabs
 * are lost to the child, which usually execs or exits soon). */
static void fork_child(void)
{
	hk_meta_fork_child();
	hk_registry_fork_child();
	hk_pool_fork_child();
	hk_large_fork_child();
	hk_lock_reset(&abandoned_lock);
	hk_lock_reset(&heaps_lock);
	hk_stats_fork_child();
	hk_prof_fork_child();
}

#include "pool.h"

#include "cgroup.h"
#include "lock.h"
#include "options.h"
#include "os.h"
#include "size_class.h"
#include "log.h"
#include "registry.h"
#include "superslab.h"
#include "tuning.h"

enum { LIST_PARTIAL, LIST_FULL, LIST_EMPTY, LIST_COUNT };

/* Decay. Free slots whose pages are still resident (dirty) are kept for
 * reuse for about purge_decay_ms, then decommitted; empty SuperSlabs
 * beyond the reserve are unmapped after the same time. So a program that
 * frees memory and soon allocates it again (batches freed by another
 * thread, a server between requests) reuses resident pages without a
 * system call or a page fault, while memory that stays free goes back to
 * the system within two decay times, during normal operation: slab
 * releases and allocation slow paths look at the clock. (Purging on a
 * threshold of dirty slots decommitted slots that were reused a few
 * milliseconds later: 34 times mimalloc's page faults on cross-thread
 * batches.)
 *
 * A tick runs every purge_decay_ms / 2. It decommits the dirty free slots
 * that were dirty and free at the previous tick already (aged_mask), and
 * every dirty free slot of a SuperSlab that got no slot back for a whole
 * decay time (so a process that was idle is purged at its first tick).
 * A ceiling holds at every slab release as well: no more dirty free slots
 * than slots in use (and HK_PURGE_MIN_SLOTS); beyond it the free slots of
 * SuperSlabs that got none back for HK_CEILING_GRACE_MS are decommitted
 * at once. So a server that drops most of its data (redis FLUSHALL) and
 * then goes quiet gives the memory back without waiting for a tick that
 * only its next slow path would run, while the slots that threads just
 * left (thread churn; a consumer emptying a producer's slabs) stay for
 * the threads that take them again a moment later (a ceiling without the
 * grace tripled the page faults of mimalloc-bench's mstress).
 *
 * While the process's cgroup uses more than 7/8 of its memory limit (see
 * cgroup.h; looked at every HK_PRESSURE_CHECK_MS), nothing is kept: every
 * slab release runs a tick that treats all free memory as decayed. */

static hk_lock_t pool_lock = HK_LOCK_INIT;
static hk_superslab *lists[LIST_COUNT];
static size_t list_len[LIST_COUNT];
static size_t used_slots;	/* slots held by slabs */
static size_t dirty_slots;	/* free slots not decommitted */
static uint64_t decommitted;	/* bytes of free slots decommitted so far */
static _Atomic uint64_t last_tick;	/* hk_os_now_ms() of the last purge tick */

static uint32_t all_slots(const hk_superslab *ss)
{
	uint32_t all = ss->nslots == 32 ? ~(uint32_t)0 : ((uint32_t)1 << ss->nslots) - 1;
	return all & ~(uint32_t)1;
}

static void unlink_ss(hk_superslab *ss)
{
	if (ss->prev)
		ss->prev->next = ss->next;
	else
		lists[ss->pool_list] = ss->next;
	if (ss->next)
		ss->next->prev = ss->prev;
	list_len[ss->pool_list]--;
	ss->next = ss->prev = NULL;
}

static void push_ss(hk_superslab *ss, unsigned list)
{
	ss->pool_list = (uint8_t)list;
	ss->prev = NULL;
	ss->next = lists[list];
	if (ss->next)
		ss->next->prev = ss;
	lists[list] = ss;
	list_len[list]++;
}

static unsigned list_for(const hk_superslab *ss)
{
	if (ss->free_mask == 0)
		return LIST_FULL;
	if (ss->free_mask == all_slots(ss))
		return LIST_EMPTY;
	return LIST_PARTIAL;
}

static void relist(hk_superslab *ss)
{
	unsigned l = list_for(ss);
	if (l != ss->pool_list) {
		unlink_ss(ss);
		push_ss(ss, l);
	}
}

static uint32_t dirty_free(const hk_superslab *ss)
{
	return ss->free_mask & ~ss->clean_mask;
}

/* First run of k free slots in mask, or -1. */
static int find_run(uint32_t mask, unsigned k)
{
	uint32_t r = mask;
	for (unsigned i = 1; i < k; i++)
		r &= mask >> i;
	return r ? __builtin_ctz(r) : -1;
}

static hk_slab *take(hk_superslab *ss, unsigned start, unsigned cls)
{
	unsigned k = hk_classes[cls].slots;
	uint32_t mask = (((uint32_t)1 << k) - 1) << start;
	bool clean = (ss->clean_mask & mask) == mask;
	dirty_slots -= (size_t)__builtin_popcount(dirty_free(ss) & mask);
	used_slots += k;
	ss->free_mask &= ~mask;
	ss->clean_mask &= ~mask;
	ss->aged_mask &= ~mask;
	relist(ss);
	hk_slab *s = &ss->slab[start];
	hk_slab_init(s, cls, hk_superslab_slot_addr(ss, start), clean);
	hk_registry_set(s->start, (size_t)k << HK_SLOT_SHIFT, (uintptr_t)s | HK_REG_SLAB);
	HK_DEBUG(HK_LOG_POOL, "slab %p for class %u (%u bytes)", (void *)s->start, cls,
		 s->block_size);
	return s;
}

/* A run of k free slots for class cls, resident ones first (they fault
 * no page in): the first pass looks only at dirty slots. */
static hk_slab *take_mapped(unsigned cls)
{
	static const unsigned order[] = { LIST_PARTIAL, LIST_EMPTY };
	unsigned k = hk_classes[cls].slots;
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < 2; i++) {
			for (hk_superslab *ss = lists[order[i]]; ss; ss = ss->next) {
				int start = find_run(pass ? ss->free_mask : dirty_free(ss), k);
				if (start > 0)
					return take(ss, (unsigned)start, cls);
			}
		}
	}
	return NULL;
}

/* Decommit the slots of which (free and dirty slots of ss), a run at a
 * time. */
static void decommit(hk_superslab *ss, uint32_t which)
{
	dirty_slots -= (size_t)__builtin_popcount(which);
	decommitted += (uint64_t)__builtin_popcount(which) << HK_SLOT_SHIFT;
	ss->clean_mask |= which;
	ss->aged_mask &= ~which;
	while (which) {
		unsigned start = (unsigned)__builtin_ctz(which);
		unsigned len = (unsigned)__builtin_ctz(~(which >> start));
		hk_os_decommit(hk_superslab_slot_addr(ss, start), (size_t)len << HK_SLOT_SHIFT);
		/* Slot 0 is never free, so len < 32. */
		which &= ~((((uint32_t)1 << len) - 1) << start);
	}
}

static bool tick_due(uint64_t now)
{
	return now - atomic_load_explicit(&last_tick, memory_order_relaxed) >=
	       (HK_OPT(purge_decay_ms) + 1) / 2;
}

static hk_superslab *tick(uint64_t now, bool pressed);

/* Purges look at empty SuperSlabs first: they are the least likely to be
 * used again soon. */
static const unsigned purge_order[] = { LIST_EMPTY, LIST_PARTIAL };

/* A purge tick, if one is due, then the ceiling (see Decay above). Takes
 * the empty SuperSlabs to unmap off the lists and returns them, linked by
 * next (the caller unmaps them after the lock). */
static hk_superslab *purge(uint64_t now)
{
	static uint64_t pressure_checked;
	static bool pressed;	/* the cgroup is near its memory limit */
	if (!HK_OPT(trim))
		return NULL;
	if (now - pressure_checked >= HK_PRESSURE_CHECK_MS) {
		pressure_checked = now;
		pressed = hk_cgroup_pressed();
	}
	hk_superslab *victims = NULL;
	if (pressed || tick_due(now))
		victims = tick(now, pressed);
	/* The ceiling: never more resident free slots than slots in use. */
	size_t cap = used_slots > HK_PURGE_MIN_SLOTS ? used_slots : HK_PURGE_MIN_SLOTS;
	for (unsigned i = 0; i < 2 && dirty_slots > cap; i++)
		for (hk_superslab *ss = lists[purge_order[i]]; ss && dirty_slots > cap; ss = ss->next)
			if (pressed || now - ss->released_ms >= HK_CEILING_GRACE_MS)
				decommit(ss, dirty_free(ss));
	return victims;
}

/* The tick of purge(): decommit what has decayed, and take off the lists
 * (and return) the decayed empty SuperSlabs beyond the reserve. */
static hk_superslab *tick(uint64_t now, bool pressed)
{
	uint64_t decay = HK_OPT(purge_decay_ms);
	atomic_store_explicit(&last_tick, now, memory_order_relaxed);
	hk_superslab *victims = NULL;
	size_t kept = 0;
	for (unsigned i = 0; i < 2; i++) {
		hk_superslab *next;
		for (hk_superslab *ss = lists[purge_order[i]]; ss; ss = next) {
			next = ss->next;
			bool idle = pressed || now - ss->released_ms >= decay;
			if (purge_order[i] == LIST_EMPTY && idle && ++kept > HK_OPT(superslab_reserve)) {
				unlink_ss(ss);
				dirty_slots -= (size_t)__builtin_popcount(dirty_free(ss));
				ss->next = victims;
				victims = ss;
				continue;
			}
			decommit(ss, dirty_free(ss) & (idle ? ~(uint32_t)0 : ss->aged_mask));
			ss->aged_mask = dirty_free(ss);
		}
	}
	return victims;
}

static void destroy_all(hk_superslab *list)
{
	while (list) {
		hk_superslab *next = list->next;
		hk_superslab_destroy(list);
		list = next;
	}
}

void hk_pool_maybe_purge(uint64_t now)
{
	if (!tick_due(now))
		return;
	hk_lock(&pool_lock);
	hk_superslab *victims = purge(now);
	hk_unlock(&pool_lock);
	destroy_all(victims);
}

hk_slab *hk_pool_acquire(unsigned cls, bool may_map)
{
	hk_lock(&pool_lock);
	hk_slab *s = take_mapped(cls);
	hk_unlock(&pool_lock);
	if (s || !may_map)
		return s;

	hk_superslab *ss = hk_superslab_create((unsigned)HK_OPT(superslab_lg));
	if (!ss)
		return NULL;
	hk_lock(&pool_lock);
	push_ss(ss, LIST_EMPTY);
	s = take(ss, 1, cls);
	hk_unlock(&pool_lock);
	return s;
}

void hk_pool_release(hk_slab *s)
{
	if (!hk_slab_check_empty(s))
		return;
	/* Descriptors live in the first slot of their SuperSlab, which is
	 * aligned to at least 2^HK_SS_SHIFT_MIN. */
	hk_superslab *ss = (hk_superslab *)((uintptr_t)s & ~(((uintptr_t)1 << HK_SS_SHIFT_MIN) - 1));
	unsigned start = (unsigned)(s - ss->slab);
	unsigned k = s->slots;
	hk_registry_set(s->start, (size_t)k << HK_SLOT_SHIFT, 0);
	s->block_size = 0;
	s->free = NULL;
	s->bump = s->end = s->start;
	hk_slab_set_owner(s, NULL, false);
	uint32_t mask = (((uint32_t)1 << k) - 1) << start;
	HK_DEBUG(HK_LOG_POOL, "slab %p back to the pool", (void *)s->start);

	uint64_t now = hk_os_now_ms();
	hk_lock(&pool_lock);
	ss->free_mask |= mask;
	used_slots -= k;
	dirty_slots += k;
	ss->released_ms = now;
	relist(ss);
	hk_superslab *victims = purge(now);
	hk_unlock(&pool_lock);
	destroy_all(victims);
}

size_t hk_pool_release_empty(void)
{
	size_t freed = 0;
	hk_lock(&pool_lock);
	hk_superslab *empty = lists[LIST_EMPTY];
	lists[LIST_EMPTY] = NULL;
	list_len[LIST_EMPTY] = 0;
	for (hk_superslab *ss = empty; ss; ss = ss->next) {
		dirty_slots -= (size_t)__builtin_popcount(dirty_free(ss));
		freed += (size_t)1 << ss->shift;
	}
	hk_unlock(&pool_lock);
	destroy_all(empty);
	return freed;
}

size_t hk_pool_trim(void)
{
	size_t freed = hk_pool_release_empty();
	hk_lock(&pool_lock);
	for (hk_superslab *ss = lists[LIST_PARTIAL]; ss; ss = ss->next) {
		freed += (size_t)__builtin_popcount(dirty_free(ss)) << HK_SLOT_SHIFT;
		decommit(ss, dirty_free(ss));
	}
	hk_unlock(&pool_lock);
	return freed;
}

void hk_pool_counts(uint64_t *dirty, uint64_t *purged)
{
	hk_lock(&pool_lock);
	*dirty = (uint64_t)dirty_slots << HK_SLOT_SHIFT;
	*purged = decommitted;
	hk_unlock(&pool_lock);
}

void hk_pool_each_slab(void (*fn)(const hk_slab *s, void *arg), void *arg)
{
	hk_lock(&pool_lock);
	for (unsigned l = LIST_PARTIAL; l <= LIST_FULL; l++) {
		for (hk_superslab *ss = lists[l]; ss; ss = ss->next) {
			for (unsigned i = 1; i < ss->nslots; i++) {
				const hk_slab *s = &ss->slab[i];
				if (!(ss->free_mask & ((uint32_t)1 << i)) && s->block_size)
					fn(s, arg);
			}
		}
	}
	hk_unlock(&pool_lock);
}

void hk_pool_fork_prepare(void)
{
	hk_lock(&pool_lock);
}

void hk_pool_fork_parent(void)
{
	hk_unlock(&pool_lock);
}

void hk_pool_fork_child(void)
{
	hk_lock_reset(&pool_lock);
}

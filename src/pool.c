#include "pool.h"

#include "lock.h"
#include "options.h"
#include "os.h"
#include "size_class.h"
#include "log.h"
#include "registry.h"
#include "superslab.h"

enum { LIST_PARTIAL, LIST_FULL, LIST_EMPTY, LIST_COUNT };

static hk_lock_t pool_lock = HK_LOCK_INIT;
static hk_superslab *lists[LIST_COUNT];
static size_t list_len[LIST_COUNT];

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
	ss->free_mask &= ~mask;
	ss->clean_mask &= ~mask;
	relist(ss);
	hk_slab *s = &ss->slab[start];
	hk_slab_init(s, cls, hk_superslab_slot_addr(ss, start), clean);
	hk_registry_set(s->start, (size_t)k << HK_SLOT_SHIFT, (uintptr_t)s | HK_REG_SLAB);
	HK_DEBUG(HK_LOG_POOL, "slab %p for class %u (%u bytes)", (void *)s->start, cls,
		 s->block_size);
	return s;
}

static hk_slab *take_mapped(unsigned cls)
{
	unsigned k = hk_classes[cls].slots;
	for (hk_superslab *ss = lists[LIST_PARTIAL]; ss; ss = ss->next) {
		int start = find_run(ss->free_mask, k);
		if (start > 0)
			return take(ss, (unsigned)start, cls);
	}
	hk_superslab *ss = lists[LIST_EMPTY];
	if (ss && (unsigned)ss->nslots > k)
		return take(ss, 1, cls);
	return NULL;
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

	hk_superslab *victim = NULL;
	hk_lock(&pool_lock);
	ss->free_mask |= mask;
	relist(ss);
	if (ss->pool_list == LIST_EMPTY && HK_OPT(trim) &&
	    list_len[LIST_EMPTY] > HK_OPT(superslab_reserve)) {
		unlink_ss(ss);
		victim = ss;
	}
	hk_unlock(&pool_lock);
	if (victim)
		hk_superslab_destroy(victim);
}

size_t hk_pool_trim(void)
{
	size_t freed = 0;
	hk_superslab *empty;
	hk_lock(&pool_lock);
	empty = lists[LIST_EMPTY];
	lists[LIST_EMPTY] = NULL;
	list_len[LIST_EMPTY] = 0;
	for (hk_superslab *ss = lists[LIST_PARTIAL]; ss; ss = ss->next) {
		uint32_t dirty = ss->free_mask & ~ss->clean_mask;
		for (unsigned i = 1; i < ss->nslots; i++) {
			if (dirty & ((uint32_t)1 << i)) {
				hk_os_decommit(hk_superslab_slot_addr(ss, i), HK_SLOT_SIZE);
				freed += HK_SLOT_SIZE;
			}
		}
		ss->clean_mask |= dirty;
	}
	hk_unlock(&pool_lock);
	while (empty) {
		hk_superslab *next = empty->next;
		freed += (size_t)1 << empty->shift;
		hk_superslab_destroy(empty);
		empty = next;
	}
	return freed;
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

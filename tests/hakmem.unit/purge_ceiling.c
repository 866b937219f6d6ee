/* The pool's ceiling on resident free slots (pool.c, "Decay"): at every
 * slab release, no more dirty free slots than slots in use, nor than
 * PURGE_MIN_SLOTS (64, 4 MiB) when fewer are in use; beyond it they are
 * decommitted at once, with no tick, and not a slot is decommitted while
 * the count is within it. But the free slots of a SuperSlab that got one
 * back in the last HK_CEILING_GRACE_MS stay: releases at one instant are
 * not cut, and the next release after the grace is. The clock is wrapped
 * at link time (tests/programs.am) and moves only when the test moves it;
 * the decay time is an hour, so no tick runs. */
#include "check.h"

#include "options.h"
#include "pool.h"
#include "tuning.h"

#define MIN_SLOTS 64
/* Six SuperSlabs of 31 slots: the ceiling meets both of its bounds. */
#define NSLABS (6 * 31)

uint64_t __wrap_hk_os_now_ms(void);
bool __wrap_hk_cgroup_pressed(void);

static uint64_t clock_ms = 1000000;

uint64_t __wrap_hk_os_now_ms(void)
{
	return clock_ms;
}

bool __wrap_hk_cgroup_pressed(void)
{
	return false;
}

static void counts(unsigned *dirty, unsigned *purged)
{
	uint64_t d, p;
	hk_pool_counts(&d, &p);
	*dirty = (unsigned)(d >> HK_SLOT_SHIFT);
	*purged = (unsigned)(p >> HK_SLOT_SHIFT);
}

int main(void)
{
	static hk_slab *s[NSLABS];
	unsigned dirty, purged, in_use = NSLABS;
	unsigned above = 0, early = 0, cut_by_use = 0, cut_by_min = 0, kept_by_min = 0;

	__atomic_store_n(&hk_opt.purge_decay_ms, 3600000, __ATOMIC_RELAXED);
	__atomic_store_n(&hk_opt.superslab_lg, 21, __ATOMIC_RELAXED);
	__atomic_store_n(&hk_opt.trim, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < NSLABS; i++) {
		s[i] = hk_pool_acquire(0, true);
		if (!s[i]) {
			FAILED("hk_pool_acquire (%s)", strerror(errno));
			return hk_done();
		}
	}
	/* The one tick this clock allows, before anything is free. */
	hk_pool_maybe_purge(clock_ms);

	for (int i = 0; i < NSLABS; i++) {
		unsigned d0, p0;
		counts(&d0, &p0);
		/* Past the grace of every earlier release. */
		clock_ms += HK_CEILING_GRACE_MS;
		hk_pool_release(s[i]);
		in_use--;
		counts(&dirty, &purged);
		unsigned cap = in_use > MIN_SLOTS ? in_use : MIN_SLOTS;
		above += dirty > cap;
		if (d0 + 1 <= cap)
			early += purged != p0;
		else if (purged != p0 && in_use >= MIN_SLOTS)
			cut_by_use++;
		else if (purged != p0)
			cut_by_min++;
		if (d0 + 1 <= cap && d0 + 1 > in_use)
			kept_by_min++;
	}
	CHECK(above == 0, "after every release, dirty free slots <= max(slots in use, %u) "
	      "(%u releases above)", MIN_SLOTS, above);
	CHECK(early == 0, "no slot is decommitted while the dirty count is within the ceiling "
	      "(%u releases did)", early);
	CHECK(cut_by_use > 0, "the slots in use bound the dirty ones (%u cuts)", cut_by_use);
	CHECK(kept_by_min > 0 && cut_by_min > 0,
	      "with fewer slots in use, %u dirty slots are kept, and no more (%u kept, %u cuts)",
	      MIN_SLOTS, kept_by_min, cut_by_min);
	hk_note("%u slots decommitted, %u dirty at the end", purged, dirty);

	/* Within the grace: everything released at one instant stays dirty,
	 * beyond the ceiling; one release after the grace cuts it. */
	for (int i = 0; i < NSLABS; i++)
		s[i] = hk_pool_acquire(0, false);
	unsigned p1;
	counts(&dirty, &p1);
	int last = -1;
	for (int i = 0; i < NSLABS; i++)
		if (s[i]) {
			hk_pool_release(s[i]);
			last = i;
		}
	counts(&dirty, &purged);
	CHECK(last > 0 && purged == p1 && dirty > MIN_SLOTS,
	      "releases within the grace are not cut (%u dirty, %u decommitted)", dirty,
	      purged - p1);
	if (last > 0) {
		s[last] = hk_pool_acquire(0, false);
		clock_ms += HK_CEILING_GRACE_MS;
		if (s[last])
			hk_pool_release(s[last]);
		counts(&dirty, &purged);
		CHECK(s[last] && dirty <= MIN_SLOTS && purged > p1,
		      "the first release after the grace cuts them to the ceiling (%u dirty)", dirty);
	}

	/* With the option trim off, the pool keeps everything. */
	__atomic_store_n(&hk_opt.trim, 0, __ATOMIC_RELAXED);
	for (int i = 0; i < NSLABS; i++)
		s[i] = hk_pool_acquire(0, true);
	unsigned p0;
	counts(&dirty, &p0);
	for (int i = 0; i < NSLABS; i++)
		if (s[i])
			hk_pool_release(s[i]);
	counts(&dirty, &purged);
	CHECK(purged == p0 && dirty == NSLABS,
	      "trim=0: no ceiling, every released slot stays dirty (dirty %u, %u decommitted)", dirty,
	      purged - p0);
	return hk_done();
}

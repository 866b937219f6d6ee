/* The pool's purge clock (pool.c, "Decay"), on a clock this program
 * drives: hk_os_now_ms and hk_cgroup_pressed are wrapped at link time
 * (tests/programs.am), so every step below is exact, with no sleep.
 * With purge_decay_ms = D, a tick runs every D/2; it decommits the dirty
 * free slots that were already dirty at the previous tick, and all of a
 * SuperSlab's dirty free slots once none came back for D; a reused dirty
 * slot is not purged; an empty SuperSlab beyond the reserve is unmapped
 * once idle for D. */
#include "check.h"

#include "options.h"
#include "os.h"
#include "pool.h"

#define D 100
#define T0 1000000

static uint64_t fake_now;

uint64_t __wrap_hk_os_now_ms(void);
bool __wrap_hk_cgroup_pressed(void);

uint64_t __wrap_hk_os_now_ms(void)
{
	return fake_now;
}

/* The machine's memory pressure must not decide a test. */
bool __wrap_hk_cgroup_pressed(void)
{
	return false;
}

#define SLOTS(bytes) ((unsigned)((bytes) >> HK_SLOT_SHIFT))

/* At time T0 + t, run hk_pool_maybe_purge, then check the pool's dirty
 * and purged slot counts. */
static void at(uint64_t t, unsigned dirty, unsigned purged, const char *what)
{
	uint64_t d, p;
	fake_now = T0 + t;
	hk_pool_maybe_purge(fake_now);
	hk_pool_counts(&d, &p);
	CHECK(SLOTS(d) == dirty && SLOTS(p) == purged,
	      "t=%" PRIu64 " ms: %s (dirty %u, purged %u; want %u, %u)", t, what, SLOTS(d),
	      SLOTS(p), dirty, purged);
}

static void release(uint64_t t, hk_slab *s)
{
	fake_now = T0 + t;
	hk_pool_release(s);
}

int main(void)
{
	hk_slab *s[8];

	__atomic_store_n(&hk_opt.purge_decay_ms, D, __ATOMIC_RELAXED);
	__atomic_store_n(&hk_opt.superslab_reserve, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hk_opt.superslab_lg, 21, __ATOMIC_RELAXED);
	__atomic_store_n(&hk_opt.trim, 1, __ATOMIC_RELAXED);

	fake_now = T0;
	for (int i = 0; i < 8; i++) {
		s[i] = hk_pool_acquire(0, true);
		if (!s[i]) {
			FAILED("hk_pool_acquire (%s)", strerror(errno));
			return hk_done();
		}
	}
	uint64_t maps = hk_os_mappings();
	at(0, 0, 0, "first tick, nothing free yet");

	/* The aging rule: a slot is purged at the second tick that sees it
	 * free and dirty. */
	release(10, s[0]);
	at(49, 1, 0, "no tick before D/2");
	at(50, 1, 0, "a slot free for 40 ms stays resident (its first tick ages it)");
	release(60, s[1]);
	at(99, 2, 0, "no tick between ticks");
	at(100, 1, 1, "the slot aged at the previous tick is purged, the newer one kept");
	at(149, 1, 1, "still no tick 49 ms after one");
	at(150, 0, 2, "the newer slot is purged at its second tick");

	/* The idle rule: a SuperSlab that got no slot back for D is purged
	 * at its first tick, aged or not, and not a millisecond before. */
	release(170, s[2]);
	at(270, 0, 3, "a SuperSlab idle for D: purged at its first tick");
	release(300, s[3]);
	at(399, 1, 3, "idle for D - 1 ms: only aged");
	at(449, 0, 4, "purged at the next tick");

	/* A dirty slot taken again before its decay is not purged: the pool
	 * hands out resident slots first. */
	release(500, s[4]);
	fake_now = T0 + 510;
	hk_slab *again = hk_pool_acquire(0, true);
	CHECK(again && again->start == s[4]->start,
	      "a slab takes the dirty slot just released, not a clean one");
	at(550, 0, 4, "a reused slot is not purged");

	/* Empty SuperSlabs beyond the reserve (0 here) are unmapped once
	 * idle for D, and not before. */
	release(600, again);
	for (int i = 5; i < 8; i++)
		release(600, s[i]);
	at(699, 3, 5, "an empty SuperSlab: aged slots purged, the rest kept");
	CHECK(hk_os_mappings() == maps, "an empty SuperSlab idle for 99 ms stays mapped");
	at(749, 0, 5, "an empty SuperSlab idle for D: its slots leave with it");
	CHECK(hk_os_mappings() == maps - 1, "an empty SuperSlab idle for D is unmapped (%" PRIu64
	      " mappings, were %" PRIu64 ")", hk_os_mappings(), maps);
	return hk_done();
}

#define _GNU_SOURCE
#include "init.h"

#include <pthread.h>
#include <sched.h>
#include <sys/auxv.h>
#include <sys/random.h>

#include "cgroup.h"
#include "heap.h"
#include "large.h"
#include "log.h"
#include "meta.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "prof.h"
#include "registry.h"
#include "signals.h"
#include "stats.h"
#include "tcache.h"
#include "thread.h"
#include "vg.h"

bool hk_vg_on;

/* 0: not started, 1: running, 2: done. */
static _Atomic int init_state;
static __thread bool in_init __attribute__((tls_model("initial-exec")));

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

/* n random odd words, from one system call. */
static void random_keys(uintptr_t *k, size_t n)
{
	if (getrandom(k, n * sizeof *k, GRND_NONBLOCK) != (ssize_t)(n * sizeof *k)) {
		const uintptr_t *at = (const uintptr_t *)getauxval(AT_RANDOM);
		for (size_t i = 0; i < n; i++)
			k[i] = at ? at[0] ^ at[1] : (uintptr_t)k;
	}
	for (size_t i = 0; i < n; i++)
		k[i] |= 1;
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
	uintptr_t keys[3];
	random_keys(keys, 3);
	hk_free_key.value = keys[0];
	hk_free_key.remote = keys[1] == keys[0] ? keys[1] ^ 2 : keys[1];
	hk_free_key.canary = keys[2];
	hk_vg_on = HK_VG_RUNNING();
	/* The key comes first: pthread_atfork may itself allocate. */
	hk_thread_init();
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

size_t hk_trim(void)
{
	uint64_t before = hk_os_mapped_bytes();
	hk_thread_flush();
	hk_thread_collect_orphans(hk_tls_self);
	hk_heap_release_abandoned();
	size_t decommitted = hk_pool_trim() + hk_large_trim();
	uint64_t after = hk_os_mapped_bytes();
	HK_DEBUG(HK_LOG_THREAD, "trim: %llu bytes unmapped, %zu decommitted",
		 (unsigned long long)(before > after ? before - after : 0), decommitted);
	return (before > after ? before - after : 0) + decommitted;
}

bool hk_reclaim(void)
{
	hk_heap *h = hk_tls_self;
	bool held = h->quarantine_len > 0;
	if (held)
		hk_quarantine_flush(h);
	return hk_pool_release_empty() + hk_large_trim() > 0 || held;
}

void hk_maybe_trim(void)
{
	static _Atomic uint64_t last_ms;
	uint64_t now = hk_os_now_ms();
	uint64_t last = atomic_load_explicit(&last_ms, memory_order_relaxed);
	if (now - last < HK_OPT(trim_interval_ms))
		return;
	if (atomic_compare_exchange_strong(&last_ms, &last, now))
		hk_trim();
}

/* Lock order: statistics snapshot, heaps, abandoned, large cache, pool,
 * meta (the order in which the code nests them); the profiler's
 * is taken with no other held and first. */
static void fork_prepare(void)
{
	hk_prof_fork_prepare();
	hk_stats_fork_prepare();
	hk_thread_fork_prepare();
	hk_heap_fork_prepare();
	hk_large_fork_prepare();
	hk_pool_fork_prepare();
	hk_meta_fork_prepare();
}

static void fork_parent(void)
{
	hk_meta_fork_parent();
	hk_pool_fork_parent();
	hk_large_fork_parent();
	hk_heap_fork_parent();
	hk_thread_fork_parent();
	hk_stats_fork_parent();
	hk_prof_fork_parent();
}

static void fork_child(void)
{
	hk_meta_fork_child();
	hk_pool_fork_child();
	hk_large_fork_child();
	hk_heap_fork_child();
	hk_thread_fork_child();
	hk_stats_fork_child();
	hk_prof_fork_child();
}

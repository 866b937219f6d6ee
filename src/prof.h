/* The sampling heap profiler (option prof): a module above the engine,
 * called from its slow paths only.
 *
 * Off (the default), it costs nothing on the fast paths: they have no
 * hook. On, every thread's fast-path heap pointer (hk_tls_heap) is left at
 * &hk_empty_heap, so that each malloc and free takes a slow path, where
 * the hooks below run. About one allocation per prof_sample bytes is
 * sampled (a Poisson process over the bytes allocated: an allocation of
 * s bytes is sampled with probability 1 - exp(-s / prof_sample)); its
 * stack is recorded and the block is tracked until it is freed. Profiles
 * are written in the "heap profile:" text format that google-pprof reads
 * (heap_v2, which google-pprof scales back up by the same probability),
 * on demand (ctl "prof.dump"), every prof_interval_ms, and at exit, to
 * <prof_prefix>.<pid>.<seq>.<u|i|f>.heap.
 *
 * Nothing here calls malloc. The tables live in metadata memory (meta.h):
 * at most HK_PROF_SAMPLES tracked blocks and HK_PROF_STACKS distinct
 * stacks per session; what does not fit is counted (prof.dropped). */
#ifndef HK_PROF_H
#define HK_PROF_H

#include "common.h"

/* True once the profiler has been on in this process: from then on the
 * slow paths call the hooks (which also give a thread its fast paths back
 * after the profiler is switched off). */
extern bool hk_prof_hooked;

HK_INLINE bool hk_prof_hooks(void)
{
	return __atomic_load_n(&hk_prof_hooked, __ATOMIC_RELAXED);
}

/* Apply the options prof and prof_sample: called at start-up and when
 * hakmem_ctl changes them. Switching on starts a new session (empty
 * tables); the calling thread leaves its fast paths at once, others at
 * their next slow-path call. */
void hk_prof_update(void);

/* An allocation of size bytes at p (not NULL) was made; returns p. */
void *hk_prof_alloc(void *p, size_t size);

/* p (any pointer free() was given) is being freed. */
void hk_prof_free(void *p);

/* A block moved by realloc from old to p (not NULL), now size bytes. */
void *hk_prof_realloc(void *old, void *p, size_t size);

/* Write a profile now (ctl "prof.dump"); returns 0 or an errno value
 * (EAGAIN when the profiler is off, or open's error). */
int hk_prof_dump(void);

/* Blocks tracked now, and samples dropped for want of room. */
uint64_t hk_prof_samples(void);
uint64_t hk_prof_dropped(void);

void hk_prof_fork_prepare(void);
void hk_prof_fork_parent(void);
void hk_prof_fork_child(void);

#endif

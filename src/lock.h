/* The engine's lock: a pthread mutex (it never allocates). Locks are only
 * taken on slow paths: slab hand-out, adoption, mapping, statistics. */
#ifndef HK_LOCK_H
#define HK_LOCK_H

#include <pthread.h>

/* A lock has a cache line of its own: taking it writes the line, which
 * must not evict read-mostly data that the fast paths load (the free key
 * once shared a line with the pool lock, and every slab hand-out cost
 * other threads' frees a cache miss). */
typedef struct {
	pthread_mutex_t m;
} __attribute__((aligned(64))) hk_lock_t;

#define HK_LOCK_INIT { PTHREAD_MUTEX_INITIALIZER }

static inline void hk_lock(hk_lock_t *l)
{
	pthread_mutex_lock(&l->m);
}

static inline void hk_unlock(hk_lock_t *l)
{
	pthread_mutex_unlock(&l->m);
}

/* Used in the child after fork(): the lock was taken by the parent's
 * prepare handler and the child is single-threaded. */
static inline void hk_lock_reset(hk_lock_t *l)
{
	hk_lock_t fresh = HK_LOCK_INIT;
	*l = fresh;
}

#endif

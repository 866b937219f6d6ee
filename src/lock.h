/* The engine's lock: a pthread mutex (it never allocates). Locks are only
 * taken on slow paths: slab hand-out, adoption, mapping, statistics. */
#ifndef HK_LOCK_H
#define HK_LOCK_H

#include <pthread.h>

typedef pthread_mutex_t hk_lock_t;

#define HK_LOCK_INIT PTHREAD_MUTEX_INITIALIZER

static inline void hk_lock(hk_lock_t *l)
{
	pthread_mutex_lock(l);
}

static inline void hk_unlock(hk_lock_t *l)
{
	pthread_mutex_unlock(l);
}

/* Used in the child after fork(): the lock was taken by the parent's
 * prepare handler and the child is single-threaded. */
static inline void hk_lock_reset(hk_lock_t *l)
{
	pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
	*l = fresh;
}

#endif

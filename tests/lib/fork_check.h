/* fork_check.h - shared by the fork tests of tests/hakmem.stress
 * (fork_mt.c, fork_loop.c).
 *
 * Worker threads keep the allocator busy while the main thread forks, so
 * that a child is the single-threaded copy of a process whose allocator
 * may have been in the middle of anything.  hk_fork_one() makes one child
 * with a block it inherits and waits for it with a deadline; the child's
 * own work is the test's, built from hk_fork_inherited() and
 * hk_fork_child_blocks().
 *
 * Include check.h first (it defines _GNU_SOURCE).
 */
#ifndef HAKMEM_TEST_FORK_CHECK_H
#define HAKMEM_TEST_FORK_CHECK_H

#include "check.h"

#include <pthread.h>

#define HK_FORK_MAX_THREADS 8
#define HK_FORK_MAX_SHARED 1024
#define HK_FORK_MAX_CHILD_BLOCKS 300

struct hk_fork_workers;

struct hk_fork_worker {
	struct hk_fork_workers *w;
	int id;
	unsigned long corrupt, ops;
};

/* The test sets the fields above "state", then calls
 * hk_fork_workers_start(). */
struct hk_fork_workers {
	int nthreads;		 /* at most HK_FORK_MAX_THREADS */
	int nshared;		 /* slots of the table blocks change hands in */
	uint64_t seed;		 /* worker i seeds its RNG with seed + i */
	uint64_t salt;		 /* hk_fill() salt of the workers' blocks */
	uint64_t aligned_one_in; /* one block in this many is aligned */
	size_t align_min;	 /* alignment align_min << 0..align_shifts */
	uint64_t align_shifts;
	size_t (*pick)(hk_rng *r); /* a block's size */

	/* state */
	int stop;
	pthread_mutex_t mu;
	void *shared[HK_FORK_MAX_SHARED];
	size_t shared_n[HK_FORK_MAX_SHARED];
	pthread_t th[HK_FORK_MAX_THREADS];
	struct hk_fork_worker worker[HK_FORK_MAX_THREADS];
};

/* A worker: allocates (malloc or posix_memalign) and frees without pause,
 * checking each block before it frees it; a quarter of its blocks go
 * through the shared table, so that frees are cross-thread too. */
static inline void *hk_fork_worker_run(void *arg)
{
	struct hk_fork_worker *me = (struct hk_fork_worker *)arg;
	struct hk_fork_workers *w = me->w;
	void *own[64] = { 0 };
	size_t own_n[64] = { 0 };
	hk_rng r;

	hk_rng_seed(&r, w->seed + (uint64_t)me->id);
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		int k = (int)hk_rng_range(&r, 0, 63);
		if (own[k]) {
			if (hk_verify(own[k], own_n[k], w->salt) >= 0)
				me->corrupt++;
			free(own[k]);
			own[k] = NULL;
		}
		own_n[k] = w->pick(&r);
		if (hk_rng_range(&r, 0, w->aligned_one_in - 1) == 0) {
			size_t align = w->align_min
				       << hk_rng_range(&r, 0, w->align_shifts);
			if (posix_memalign(&own[k], align, own_n[k]) != 0)
				own[k] = NULL;
		} else {
			own[k] = malloc(own_n[k]);
		}
		if (!own[k])
			continue;
		hk_fill(own[k], own_n[k], w->salt);
		if (hk_rng_range(&r, 0, 3) == 0) {
			int s = (int)hk_rng_range(&r, 0, (uint64_t)w->nshared - 1);
			pthread_mutex_lock(&w->mu);
			void *old = w->shared[s];
			size_t oldn = w->shared_n[s];
			w->shared[s] = own[k];
			w->shared_n[s] = own_n[k];
			pthread_mutex_unlock(&w->mu);
			own[k] = NULL;
			if (old) {
				if (hk_verify(old, oldn, w->salt) >= 0)
					me->corrupt++;
				free(old);
			}
		}
		me->ops++;
	}
	for (int k = 0; k < 64; k++)
		free(own[k]);
	return NULL;
}

/* false (with a FAIL) when a thread could not be started. */
static inline bool hk_fork_workers_start(struct hk_fork_workers *w)
{
	pthread_mutex_init(&w->mu, NULL);
	for (int i = 0; i < w->nthreads; i++) {
		w->worker[i].w = w;
		w->worker[i].id = i;
		if (pthread_create(&w->th[i], NULL, hk_fork_worker_run,
				   &w->worker[i]) != 0) {
			FAILED("pthread_create");
			return false;
		}
	}
	return true;
}

/* Stop and join the workers, then check and free the shared table's
 * blocks; *corrupt counts the damaged blocks, *ops the workers' rounds. */
static inline void hk_fork_workers_stop(struct hk_fork_workers *w,
					unsigned long *corrupt,
					unsigned long *ops)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELAXED);
	*corrupt = *ops = 0;
	for (int i = 0; i < w->nthreads; i++) {
		pthread_join(w->th[i], NULL);
		*corrupt += w->worker[i].corrupt;
		*ops += w->worker[i].ops;
	}
	for (int s = 0; s < w->nshared; s++) {
		if (w->shared[s] &&
		    hk_verify(w->shared[s], w->shared_n[s], w->salt) >= 0)
			(*corrupt)++;
		free(w->shared[s]);
	}
}

/* In a child: check and free the block inherited from the parent (filled
 * with SALT); returns 1 when it was damaged. */
static inline int hk_fork_inherited(void *blk, size_t n, uint64_t salt)
{
	int bad = hk_verify(blk, n, salt) >= 0;
	free(blk);
	return bad;
}

/* In a child: allocate `count` blocks (at most HK_FORK_MAX_CHILD_BLOCKS;
 * one in large_every of about 300 KiB, the others of 1 to max bytes) and
 * fill them with SALT, then check and free them; returns how many failed. */
static inline int hk_fork_child_blocks(hk_rng *r, int count, size_t max,
				       int large_every, uint64_t salt)
{
	void *v[HK_FORK_MAX_CHILD_BLOCKS];
	size_t vn[HK_FORK_MAX_CHILD_BLOCKS];
	int bad = 0;

	for (int i = 0; i < count; i++) {
		vn[i] = i % large_every == 0 ? (300 << 10) + (size_t)i
					     : hk_rng_logsize(r, 1, max);
		v[i] = malloc(vn[i]);
		if (!v[i]) {
			bad++;
			continue;
		}
		hk_fill(v[i], vn[i], salt);
	}
	for (int i = 0; i < count; i++) {
		if (!v[i])
			continue;
		if (hk_verify(v[i], vn[i], salt) >= 0)
			bad++;
		free(v[i]);
	}
	return bad;
}

/* What became of the forks of hk_fork_one(). */
struct hk_fork_tally {
	int ok;		/* the child exited 0 */
	int failed;	/* the child exited otherwise or was killed */
	int hung;	/* the child was still running at the deadline */
	int forkerr;	/* fork() failed */
	int parent_bad; /* the block was not made, or the parent's copy damaged */
};

/* Fork number f with a block of n bytes made (and filled with SALT) just
 * before: the child runs child(f, blk, n), which must not return.  The
 * parent checks its own copy of the block, frees it and waits up to
 * `deadline` seconds for the child: one still running then has deadlocked,
 * and is killed. */
static inline void hk_fork_one(struct hk_fork_tally *t, int f, size_t n,
			       uint64_t salt, double deadline,
			       void (*child)(int f, void *blk, size_t n))
{
	void *blk = malloc(n);
	if (!blk) {
		t->parent_bad++;
		return;
	}
	hk_fill(blk, n, salt);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		t->forkerr++;
		free(blk);
		return;
	}
	if (pid == 0)
		child(f, blk, n);
	if (hk_verify(blk, n, salt) >= 0)
		t->parent_bad++;
	free(blk);

	double end = hk_now() + deadline;
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, WNOHANG)) == 0 && hk_now() < end)
		hk_sleep_ms(1);
	if (w == 0) {
		t->hung++;
		hk_note("child %d (fork %d) still running after %.0f s: "
			"deadlock? killing it", (int)pid, f, deadline);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	} else if (w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		t->ok++;
	} else {
		t->failed++;
		if (w != pid)
			hk_note("waitpid for the child of fork %d failed", f);
		else if (WIFSIGNALED(st))
			hk_note("child of fork %d killed by signal %d", f,
				WTERMSIG(st));
		else
			hk_note("child of fork %d exited %d", f,
				WEXITSTATUS(st));
	}
}

#endif

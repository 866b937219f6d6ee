/* fork() while other threads allocate.
 *
 * 4 threads allocate and free continuously (small, medium, large, aligned,
 * with cross-thread frees through a shared array) while the main thread
 * forks 50 times (10 in QUICK mode).  Each child, single-threaded copy of a
 * process whose allocator may have been busy in another thread at the
 * moment of fork, must be able to: free a block the parent allocated before
 * forking, allocate and free small and large blocks and verify their
 * contents, start a thread that does the same, and _exit(0).  The parent
 * checks that every child exits 0 within a deadline (a deadlock in the
 * child is killed and counted as a failure), and that the parent's own
 * blocks are intact afterwards. */
/* hakmem-test: timeout 180 */
#include "../lib/check.h"

#include <pthread.h>

#define NTHREADS 4
#define SHARED 1024
#define CHILD_DEADLINE 20.0

static volatile int stop;
static void *shared[SHARED];
static size_t shared_n[SHARED];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long worker_corrupt[NTHREADS];
static unsigned long worker_ops[NTHREADS];

static size_t pick(hk_rng *r)
{
	uint64_t x = hk_rng_range(r, 0, 99);
	if (x < 3)
		return hk_rng_range(r, 129 * 1024, 2 << 20);
	if (x < 10)
		return hk_rng_range(r, 4096, 128 * 1024);
	return hk_rng_logsize(r, 1, 4096);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	hk_rng r;
	void *own[64] = { 0 };
	size_t own_n[64] = { 0 };

	hk_rng_seed(&r, 500 + (uint64_t)id);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int k = (int)hk_rng_range(&r, 0, 63);
		if (own[k]) {
			if (hk_verify(own[k], own_n[k], 1) >= 0)
				worker_corrupt[id]++;
			free(own[k]);
		}
		own_n[k] = pick(&r);
		if (hk_rng_range(&r, 0, 7) == 0) {
			void *p = NULL;
			if (posix_memalign(&p, (size_t)64 << hk_rng_range(&r, 0, 8),
					   own_n[k]) != 0)
				p = NULL;
			own[k] = p;
		} else {
			own[k] = malloc(own_n[k]);
		}
		if (own[k])
			hk_fill(own[k], own_n[k], 1);

		/* exchange a block through the shared array */
		if (hk_rng_range(&r, 0, 3) == 0 && own[k]) {
			int s = (int)hk_rng_range(&r, 0, SHARED - 1);
			pthread_mutex_lock(&shared_mu);
			void *old = shared[s];
			size_t oldn = shared_n[s];
			shared[s] = own[k];
			shared_n[s] = own_n[k];
			pthread_mutex_unlock(&shared_mu);
			own[k] = NULL;
			if (old) {
				if (hk_verify(old, oldn, 1) >= 0)
					worker_corrupt[id]++;
				free(old);
			}
		}
		worker_ops[id]++;
	}
	for (int k = 0; k < 64; k++)
		free(own[k]);
	return NULL;
}

/* Child side. */
static int child_work(void)
{
	hk_rng r;
	int bad = 0;
	void *v[200];
	size_t vn[200];

	hk_rng_seed(&r, (uint64_t)getpid());
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 200; i++) {
			vn[i] = i % 50 == 0 ? 300 * 1024 + (size_t)i
					    : hk_rng_logsize(&r, 1, 65536);
			v[i] = malloc(vn[i]);
			if (!v[i]) {
				bad++;
				continue;
			}
			hk_fill(v[i], vn[i], 2);
		}
		for (int i = 0; i < 200; i++) {
			if (!v[i])
				continue;
			if (hk_verify(v[i], vn[i], 2) >= 0)
				bad++;
			free(v[i]);
		}
	}
	char *c = calloc(1000, 100);
	if (!c || !hk_all_zero(c, 100000))
		bad++;
	free(c);
	return bad;
}

static void *child_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)child_work();
}

static void run_child(void *parent_blk, size_t parent_n)
{
	int bad = 0;

	/* free a block inherited from the parent */
	if (hk_verify(parent_blk, parent_n, 3) >= 0)
		bad++;
	free(parent_blk);
	bad += child_work();
	pthread_t t;
	if (pthread_create(&t, NULL, child_thread, NULL) == 0) {
		void *r;
		pthread_join(t, &r);
		bad += (int)(intptr_t)r;
	} else {
		bad++;
	}
	_exit(bad ? 1 : 0);
}

int main(void)
{
	pthread_t th[NTHREADS];
	int forks = (int)hk_scale(50, 10);
	int ok = 0, hung = 0, failed = 0, forkerr = 0;

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
			FAILED("pthread_create");
			return hk_done();
		}
	hk_sleep_ms(hk_quick() ? 100 : 50);

	for (int f = 0; f < forks; f++) {
		size_t pn = f % 2 ? 200 * 1024 + (size_t)f : 100 + (size_t)f;
		void *pb = malloc(pn);
		if (!pb) {
			FAILED("malloc before fork");
			continue;
		}
		hk_fill(pb, pn, 3);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			forkerr++;
			free(pb);
			continue;
		}
		if (pid == 0)
			run_child(pb, pn);	/* does not return */

		/* parent: its copy of pb is still live and intact */
		if (hk_verify(pb, pn, 3) >= 0)
			failed++;
		free(pb);

		double deadline = hk_now() + CHILD_DEADLINE;
		int status = 0;
		pid_t w;
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 &&
		       hk_now() < deadline)
			hk_sleep_ms(2);
		if (w == 0) {
			hung++;
			hk_note("child %d (fork %d) still running after %.0f s: "
				"deadlock? killing it", (int)pid, f,
				CHILD_DEADLINE);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
		} else if (w == pid && WIFEXITED(status) &&
			   WEXITSTATUS(status) == 0) {
			ok++;
		} else {
			failed++;
			if (WIFSIGNALED(status))
				hk_note("child of fork %d killed by signal %d",
					f, WTERMSIG(status));
			else
				hk_note("child of fork %d exited %d", f,
					WEXITSTATUS(status));
		}
	}

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	unsigned long corrupt = 0, ops = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		corrupt += worker_corrupt[i];
		ops += worker_ops[i];
	}
	for (int s = 0; s < SHARED; s++) {
		if (shared[s] && hk_verify(shared[s], shared_n[s], 1) >= 0)
			corrupt++;
		free(shared[s]);
	}
	hk_note("%d forks: %d ok, %d failed, %d hung; workers did %lu ops",
		forks, ok, failed, hung, ops);
	CHECK(forkerr == 0, "fork() succeeded every time (%d errors)", forkerr);
	CHECK(hung == 0, "no child deadlocked (%d hung)", hung);
	CHECK(failed == 0,
	      "every child allocated, verified and exited 0 (%d failed)",
	      failed);
	CHECK(ok == forks, "every child exited cleanly (%d of %d)", ok, forks);
	CHECK(corrupt == 0, "parent threads' blocks intact (%lu corrupt)",
	      corrupt);
	CHECK(ops > 0, "worker threads ran");
	return hk_done();
}

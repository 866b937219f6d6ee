/* fork() in a loop while 8 threads allocate and free.
 *
 * 8 threads allocate and free without pause (small, medium, large and
 * aligned blocks; a quarter of the blocks change hands through a shared
 * table, so that frees are cross-thread too) while the main thread forks
 * 250 times (20 under Valgrind).  No signal handlers are involved: this is
 * fork from a plain multi-threaded program, which must work.  Each child:
 *   - frees a block the parent made just before the fork, checking it;
 *   - allocates, checks and frees a few hundred blocks of mixed sizes;
 *   - every 4th child starts a thread that does the same;
 *   - every 5th child forks a grandchild that does the same;
 *   - every 10th child execs /bin/true after allocating (fork+exec);
 * and exits 0.  The parent waits for each child with a deadline (a hang is
 * a deadlock in the child: it is killed and counted).
 *
 * Checks: every fork worked, every child exited 0 in time, the workers'
 * blocks are intact, and forking does not make the parent grow: its
 * resident memory after the last fork is within 32 MiB of what it was
 * after the 50th, and after everything is freed and a trim,
 * stats.superslabs.live <= 4. */
/* hakmem-test: timeout 240 */
#include "../lib/check.h"

#include <pthread.h>

#define NTHREADS 8
#define SHARED 512
#define DEADLINE 20.0

static volatile int stop;
static void *shared[SHARED];
static size_t shared_n[SHARED];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long corrupt[NTHREADS], ops[NTHREADS];

static size_t pick(hk_rng *r)
{
	uint64_t x = hk_rng_range(r, 0, 199);
	if (x < 2)
		return hk_rng_range(r, 129 << 10, 256 << 10);
	if (x < 20)
		return hk_rng_range(r, 2048, 32 << 10);
	return hk_rng_logsize(r, 1, 2048);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	void *own[64] = { 0 };
	size_t own_n[64] = { 0 };
	hk_rng r;

	hk_rng_seed(&r, 9000 + (uint64_t)id);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int k = (int)hk_rng_range(&r, 0, 63);
		if (own[k]) {
			if (hk_verify(own[k], own_n[k], 5) >= 0)
				corrupt[id]++;
			free(own[k]);
			own[k] = NULL;
		}
		own_n[k] = pick(&r);
		if (hk_rng_range(&r, 0, 9) == 0) {
			if (posix_memalign(&own[k], (size_t)16 << hk_rng_range(&r, 0, 12),
					   own_n[k]) != 0)
				own[k] = NULL;
		} else {
			own[k] = malloc(own_n[k]);
		}
		if (!own[k])
			continue;
		hk_fill(own[k], own_n[k], 5);
		if (hk_rng_range(&r, 0, 3) == 0) {
			int s = (int)hk_rng_range(&r, 0, SHARED - 1);
			pthread_mutex_lock(&shared_mu);
			void *old = shared[s];
			size_t oldn = shared_n[s];
			shared[s] = own[k];
			shared_n[s] = own_n[k];
			pthread_mutex_unlock(&shared_mu);
			own[k] = NULL;
			if (old) {
				if (hk_verify(old, oldn, 5) >= 0)
					corrupt[id]++;
				free(old);
			}
		}
		ops[id]++;
	}
	for (int k = 0; k < 64; k++)
		free(own[k]);
	return NULL;
}

static int child_work(uint64_t seed)
{
	hk_rng r;
	void *v[300];
	size_t vn[300];
	int bad = 0;

	hk_rng_seed(&r, seed);
	for (int i = 0; i < 300; i++) {
		vn[i] = i % 100 == 0 ? (300 << 10) + (size_t)i
				     : hk_rng_logsize(&r, 1, 16384);
		v[i] = malloc(vn[i]);
		if (!v[i]) {
			bad++;
			continue;
		}
		hk_fill(v[i], vn[i], 6);
	}
	for (int i = 0; i < 300; i++) {
		if (!v[i])
			continue;
		if (hk_verify(v[i], vn[i], 6) >= 0)
			bad++;
		free(v[i]);
	}
	return bad;
}

static void *child_thread(void *arg)
{
	return (void *)(intptr_t)child_work((uint64_t)(uintptr_t)arg);
}

static void run_child(int f, void *blk, size_t n)
{
	int bad = 0;

	if (hk_verify(blk, n, 4) >= 0)
		bad++;
	free(blk);
	bad += child_work((uint64_t)getpid());
	if (f % 4 == 0) {
		pthread_t t;
		void *res;
		if (pthread_create(&t, NULL, child_thread,
				   (void *)(uintptr_t)f) != 0)
			bad++;
		else if (pthread_join(t, &res) == 0)
			bad += (int)(intptr_t)res;
	}
	if (f % 5 == 0) {
		pid_t g = fork();
		if (g == 0)
			_exit(child_work((uint64_t)f * 7) ? 1 : 0);
		int st = 0;
		if (g < 0 || waitpid(g, &st, 0) != g || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
	}
	if (f % 10 == 0 && !bad) {
		char *arg0 = strdup("true");
		char *argv[] = { arg0, NULL };
		execv("/bin/true", argv);
		bad++;	/* exec failed */
	}
	_exit(bad ? 1 : 0);
}

int main(void)
{
	pthread_t th[NTHREADS];
	int forks = (int)hk_scale(250, 20);
	int ok = 0, failed = 0, hung = 0, forkerr = 0, parent_bad = 0;
	long rss50 = 0;
	double t0 = hk_now();

	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
			FAILED("pthread_create");
			return hk_done();
		}
	hk_sleep_ms(50);

	for (int f = 0; f < forks; f++) {
		size_t n = f % 3 ? 64 + (size_t)f : (200 << 10) + (size_t)f;
		void *blk = malloc(n);
		if (!blk) {
			parent_bad++;
			continue;
		}
		hk_fill(blk, n, 4);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			forkerr++;
			free(blk);
			continue;
		}
		if (pid == 0)
			run_child(f, blk, n);	/* does not return */
		if (hk_verify(blk, n, 4) >= 0)
			parent_bad++;
		free(blk);

		double deadline = hk_now() + DEADLINE;
		int st = 0;
		pid_t w;
		while ((w = waitpid(pid, &st, WNOHANG)) == 0 &&
		       hk_now() < deadline)
			hk_sleep_ms(1);
		if (w == 0) {
			hung++;
			hk_note("child of fork %d still running after %.0f s: "
				"deadlock? killing it", f, DEADLINE);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			ok++;
		} else {
			failed++;
			if (WIFSIGNALED(st))
				hk_note("child of fork %d killed by signal %d",
					f, WTERMSIG(st));
			else
				hk_note("child of fork %d exited %d", f,
					WEXITSTATUS(st));
		}
		if (f == 49)
			rss50 = hk_rss_kb();
	}
	long rss_end = hk_rss_kb();
	double secs = hk_now() - t0;

	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	unsigned long bad = 0, total_ops = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		bad += corrupt[i];
		total_ops += ops[i];
	}
	for (int s = 0; s < SHARED; s++) {
		if (shared[s] && hk_verify(shared[s], shared_n[s], 5) >= 0)
			bad++;
		free(shared[s]);
	}
	hk_action("trim");
	uint64_t ss = hk_stat_req("stats.superslabs.live");

	hk_note("%d forks in %.1f s: %d ok, %d failed, %d hung; workers did "
		"%lu operations; rss after fork 50 %ld KiB, at the end %ld KiB; "
		"%" PRIu64 " superslabs after trim", forks, secs, ok, failed,
		hung, total_ops, rss50, rss_end, ss);
	CHECK(forkerr == 0, "every fork() worked (%d errors)", forkerr);
	CHECK(hung == 0, "no child deadlocked (%d hung)", hung);
	CHECK(failed == 0 && ok == forks,
	      "every child (its thread, grandchild, exec) exited 0 (%d of %d; "
	      "%d failed)", ok, forks, failed);
	CHECK(parent_bad == 0, "the parent's blocks across fork() are intact "
	      "(%d bad)", parent_bad);
	CHECK(bad == 0, "the workers' blocks are intact (%lu corrupt)", bad);
	CHECK(total_ops > 0, "the workers ran");
	if (!hk_under_valgrind() && forks > 50)
		CHECK(rss_end <= rss50 + 32 * 1024,
		      "forking does not make the parent grow (rss %ld -> %ld "
		      "KiB)", rss50, rss_end);
	CHECK(ss <= 4, "after freeing everything and a trim, <= 4 SuperSlabs "
	      "live (%" PRIu64 ")", ss);
	return hk_done();
}

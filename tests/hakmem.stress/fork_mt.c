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
#include "../lib/fork_check.h"

static size_t pick(hk_rng *r)
{
	uint64_t x = hk_rng_range(r, 0, 99);
	if (x < 3)
		return hk_rng_range(r, 129 * 1024, 2 << 20);
	if (x < 10)
		return hk_rng_range(r, 4096, 128 * 1024);
	return hk_rng_logsize(r, 1, 4096);
}

static struct hk_fork_workers workers = {
	.nthreads = 4, .nshared = 1024, .seed = 500, .salt = 1,
	.aligned_one_in = 8, .align_min = 64, .align_shifts = 8,
	.pick = pick,
};

/* Child side. */
static int child_work(void)
{
	hk_rng r;
	int bad = 0;

	hk_rng_seed(&r, (uint64_t)getpid());
	for (int round = 0; round < 3; round++)
		bad += hk_fork_child_blocks(&r, 200, 65536, 50, 2);
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

static void run_child(int f, void *parent_blk, size_t parent_n)
{
	(void)f;
	int bad = hk_fork_inherited(parent_blk, parent_n, 3);
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
	int forks = (int)hk_scale(50, 10);
	struct hk_fork_tally t = { 0 };

	if (!hk_fork_workers_start(&workers))
		return hk_done();
	hk_sleep_ms(hk_quick() ? 100 : 50);

	for (int f = 0; f < forks; f++) {
		size_t pn = f % 2 ? 200 * 1024 + (size_t)f : 100 + (size_t)f;
		hk_fork_one(&t, f, pn, 3, 20.0, run_child);
	}

	unsigned long corrupt, ops;
	hk_fork_workers_stop(&workers, &corrupt, &ops);
	hk_note("%d forks: %d ok, %d failed, %d hung; workers did %lu ops",
		forks, t.ok, t.failed, t.hung, ops);
	CHECK(t.forkerr == 0, "fork() succeeded every time (%d errors)",
	      t.forkerr);
	CHECK(t.hung == 0, "no child deadlocked (%d hung)", t.hung);
	CHECK(t.failed == 0,
	      "every child allocated, verified and exited 0 (%d failed)",
	      t.failed);
	CHECK(t.ok == forks, "every child exited cleanly (%d of %d)", t.ok,
	      forks);
	CHECK(t.parent_bad == 0,
	      "the parent's blocks across fork() are intact (%d bad)",
	      t.parent_bad);
	CHECK(corrupt == 0, "parent threads' blocks intact (%lu corrupt)",
	      corrupt);
	CHECK(ops > 0, "worker threads ran");
	return hk_done();
}

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
#include "../lib/fork_check.h"

static size_t pick(hk_rng *r)
{
	uint64_t x = hk_rng_range(r, 0, 199);
	if (x < 2)
		return hk_rng_range(r, 129 << 10, 256 << 10);
	if (x < 20)
		return hk_rng_range(r, 2048, 32 << 10);
	return hk_rng_logsize(r, 1, 2048);
}

static struct hk_fork_workers workers = {
	.nthreads = 8, .nshared = 512, .seed = 9000, .salt = 5,
	.aligned_one_in = 10, .align_min = 16, .align_shifts = 12,
	.pick = pick,
};

static int child_work(uint64_t seed)
{
	hk_rng r;

	hk_rng_seed(&r, seed);
	return hk_fork_child_blocks(&r, 300, 16384, 100, 6);
}

static void *child_thread(void *arg)
{
	return (void *)(intptr_t)child_work((uint64_t)(uintptr_t)arg);
}

static void run_child(int f, void *blk, size_t n)
{
	int bad = hk_fork_inherited(blk, n, 4);

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
	int forks = (int)hk_scale(250, 20);
	struct hk_fork_tally t = { 0 };
	long rss50 = 0;
	double t0 = hk_now();

	if (!hk_fork_workers_start(&workers))
		return hk_done();
	hk_sleep_ms(50);

	for (int f = 0; f < forks; f++) {
		size_t n = f % 3 ? 64 + (size_t)f : (200 << 10) + (size_t)f;
		hk_fork_one(&t, f, n, 4, 20.0, run_child);
		if (f == 49)
			rss50 = hk_rss_kb();
	}
	long rss_end = hk_rss_kb();
	double secs = hk_now() - t0;

	unsigned long bad, total_ops;
	hk_fork_workers_stop(&workers, &bad, &total_ops);
	hk_action("trim");
	uint64_t ss = hk_stat_req("stats.superslabs.live");

	hk_note("%d forks in %.1f s: %d ok, %d failed, %d hung; workers did "
		"%lu operations; rss after fork 50 %ld KiB, at the end %ld KiB; "
		"%" PRIu64 " superslabs after trim", forks, secs, t.ok, t.failed,
		t.hung, total_ops, rss50, rss_end, ss);
	CHECK(t.forkerr == 0, "every fork() worked (%d errors)", t.forkerr);
	CHECK(t.hung == 0, "no child deadlocked (%d hung)", t.hung);
	CHECK(t.failed == 0 && t.ok == forks,
	      "every child (its thread, grandchild, exec) exited 0 (%d of %d; "
	      "%d failed)", t.ok, forks, t.failed);
	CHECK(t.parent_bad == 0, "the parent's blocks across fork() are intact "
	      "(%d bad)", t.parent_bad);
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

/* larson - a Larson-style server allocation benchmark.
 *
 * Each of T threads owns a table of N live blocks. A step frees a random
 * block of the table and allocates a new one of random size in [min, max],
 * touching its first and last bytes (the next owner checks the first).
 * Every round the threads exit and freshly created threads take over their
 * tables, so most blocks are freed by threads other than the ones that
 * allocated them, and threads churn the way they do in a
 * thread-per-connection server.
 *
 * Two ways to decide how long it runs:
 *   -s SECONDS [-r ROUND]   by the clock (rounds of ROUND seconds); for
 *                           soak tests and the demo
 *   --ops N [--rounds R]    fixed work: N steps in all, in R rounds, each
 *                           thread doing N/(T*R) steps per round; the same
 *                           requests under every allocator (bench/run)
 *
 * Not linked with any particular allocator: run it as is for the system
 * malloc, or with LD_PRELOAD=.../libhakmem.so.1 for hakmem.
 *
 * output (one line):
 *   larson: threads=T ops=N seconds=S ops/s=X check=H peak_rss_kb=R maps=M
 * where maps is the number of lines of /proc/self/maps at the end of the run
 * (before the tables are freed), peak_rss_kb is getrusage()'s ru_maxrss, and
 * check a digest of the sizes requested (fixed-work mode only; else 0).
 */
#include "bench.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

struct table {
	void **blk;
	uint32_t *len;
	uint64_t n;
	uint64_t rng;
	uint64_t ops;		/* steps done */
	uint64_t quota;		/* fixed-work mode: steps per round */
	uint64_t digest;
	uint64_t failures;
	double until;		/* clock mode: end of the round */
	bool filled;
	char pad[64];
};

static uint64_t min_size = 8, max_size = 1024;
static bool fixed_work;

static inline void *alloc_touch(size_t n)
{
	unsigned char *p = malloc(n);
	if (p) {
		p[n - 1] = (unsigned char)(n >> 8);
		p[0] = (unsigned char)n;	/* checked on free */
	}
	return p;
}

static inline void step(struct table *t)
{
	uint64_t i = bench_below(&t->rng, t->n);
	unsigned char *old = t->blk[i];
	if (old) {
		/* read what the previous owner wrote */
		if (old[0] != (unsigned char)t->len[i])
			t->failures++;
		free(old);
	}
	uint64_t len = bench_range(&t->rng, min_size, max_size);
	t->len[i] = (uint32_t)len;
	t->blk[i] = alloc_touch(len);
	if (!t->blk[i])
		t->failures++;
	t->digest += len;
}

static void *worker(void *arg)
{
	struct table *t = arg;

	if (!t->filled) {
		for (uint64_t i = 0; i < t->n; i++) {
			t->len[i] = (uint32_t)bench_range(&t->rng, min_size, max_size);
			t->blk[i] = alloc_touch(t->len[i]);
			if (!t->blk[i])
				t->failures++;
		}
		t->filled = true;
	}
	if (fixed_work) {
		for (uint64_t k = 0; k < t->quota; k++)
			step(t);
		t->ops += t->quota;
		return NULL;
	}
	for (;;) {
		for (int k = 0; k < 1024; k++)
			step(t);
		t->ops += 1024;
		if (bench_now() >= t->until)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t threads = 4, blocks = 1000, seed = 1, ops = 0, rounds = 20;
	double seconds = 10, round_len = 0.5;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads (a new set every round)" },
		{ "seconds", 's', BENCH_DOUBLE, &seconds, "run time (clock mode)" },
		{ "round", 'r', BENCH_DOUBLE, &round_len, "round length in seconds (clock mode)" },
		{ "ops", 0, BENCH_U64, &ops, "fixed work: steps in all (0: clock mode)" },
		{ "rounds", 0, BENCH_U64, &rounds, "fixed work: rounds" },
		{ "blocks", 'n', BENCH_U64, &blocks, "live blocks per thread" },
		{ "min", 0, BENCH_U64, &min_size, "smallest request" },
		{ "max", 0, BENCH_U64, &max_size, "largest request" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv,
		    "Larson server: threads replace random blocks of their table; every\n"
		    "round new threads take the tables over (cross-thread frees).",
		    opts);
	if (threads < 1 || threads > 4096 || blocks < 1 || min_size < 1 ||
	    min_size > max_size || max_size > UINT32_MAX || rounds < 1 ||
	    !(seconds > 0) || !(round_len > 0)) {
		fprintf(stderr, "larson: bad arguments (see --help)\n");
		return 2;
	}
	fixed_work = ops > 0;

	struct table *tab = bench_map(threads * sizeof *tab);
	pthread_t *th = bench_map(threads * sizeof *th);
	for (uint64_t i = 0; i < threads; i++) {
		tab[i].n = blocks;
		tab[i].blk = bench_map(blocks * sizeof *tab[i].blk);
		tab[i].len = bench_map(blocks * sizeof *tab[i].len);
		tab[i].rng = bench_seed(seed, i);
		tab[i].quota = ops / (threads * rounds);
	}

	double start = bench_now(), end = start + seconds;
	for (uint64_t r = 0; fixed_work ? r < rounds : bench_now() < end; r++) {
		double until = bench_now() + round_len;
		if (until > end)
			until = end;
		for (uint64_t i = 0; i < threads; i++) {
			tab[i].until = until;
			int rc = pthread_create(&th[i], NULL, worker, &tab[i]);
			if (rc) {
				fprintf(stderr, "larson: pthread_create: %s\n", strerror(rc));
				return 1;
			}
		}
		for (uint64_t i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
	}
	double elapsed = bench_now() - start;
	long maps = bench_count_lines("/proc/self/maps");

	uint64_t done = 0, failures = 0, digest = 0;
	for (uint64_t i = 0; i < threads; i++) {
		done += tab[i].ops;
		failures += tab[i].failures;
		digest += bench_mix(i, tab[i].digest);
		for (uint64_t k = 0; k < tab[i].n; k++)
			free(tab[i].blk[k]);
	}

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	char extra[128];
	snprintf(extra, sizeof extra, "peak_rss_kb=%ld maps=%ld", ru.ru_maxrss, maps);
	bench_result("larson", threads, done, elapsed, fixed_work ? digest : 0, extra);
	if (failures) {
		fprintf(stderr, "larson: %" PRIu64 " failed allocations or corrupt blocks\n",
			failures);
		return 1;
	}
	return 0;
}

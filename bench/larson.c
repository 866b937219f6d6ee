/* larson - a Larson-style server allocation benchmark.
 *
 * Each of T threads owns a table of N live blocks. A step frees a random
 * block of the table and allocates a new one of random size, so most
 * blocks are freed by threads other than the ones that allocated them:
 * threads come and go the way they do in a thread-per-connection server,
 * each new one taking over a table left by one that exited.
 *
 * Three ways to run it:
 *   --standard              the configuration of the allocator literature
 *                           (below); by the clock, throughput in ops/s
 *   -s SECONDS [-r ROUND]   by the clock, in lockstep rounds of ROUND
 *                           seconds; for soak tests and the demo
 *   --ops N [--rounds R]    fixed work, in lockstep rounds: N steps in all,
 *                           in R rounds, each thread doing N/(T*R) steps
 *                           per round; the same requests under every
 *                           allocator (bench/run)
 *
 * Lockstep rounds: every round all T threads are created, run and joined,
 * and the next round's threads take the tables over. A step checks the
 * byte the previous owner wrote into the block it frees, allocates [min,
 * max] bytes and writes the new block's first and last bytes.
 *
 * --standard is Larson and Krishnan's driver as mimalloc-bench and the
 * papers run it, "larson 5 8 1000 5000 100 4141 T" (the same seven
 * arguments are accepted without option names: SECONDS MIN MAX BLOCKS
 * ROUNDS SEED THREADS). Its defaults are those: -s 5 --min 8 --max 1000
 * -n 5000 --rounds 100 --seed 4141 (any of them can be changed).
 *   - Warm-up (not timed): the main thread allocates all T x N blocks,
 *     shuffles them between the tables' slots, then replaces 4 x T x N
 *     random blocks.
 *   - Each thread does ROUNDS x N steps on its table, then starts a new
 *     (detached) thread that carries on with the same table and random
 *     stream, and exits: each table's thread generations hand over on
 *     their own, not in lockstep.
 *   - A step frees a random slot's block without reading it, allocates
 *     MIN + r % (MAX - MIN) bytes (8-999 by default), writes its first two
 *     bytes and reads the first back. Random numbers are reduced with '%'
 *     as in the original (a division each), though the generator differs,
 *     so the digest is this program's own.
 *   - After SECONDS the main thread raises a stop flag, which threads check
 *     after every step, and waits until each table's thread has stopped.
 *   ops counts steps (one free and one malloc each) and seconds runs, as
 *   in the original, from the moment all T threads have been created to
 *   the stop of the last. The blocks' first bytes are checked after the
 *   run, outside the measured phase.
 *   Threads are created detached; the original creates them joinable and
 *   never joins them, so its exited threads' stacks stay mapped (a few
 *   resident pages and two mappings per thread), which this one does not
 *   copy.
 *   --cxx (with --standard): allocate with C++'s operator new[] and free
 *   with operator delete[], as mimalloc-bench builds its larson (CPP=1):
 *   the preloaded allocator's operators when it has them, else those of
 *   libstdc++ (loaded with dlopen), which call malloc and free.
 *
 * Not linked with any particular allocator: run it as is for the system
 * malloc, or with LD_PRELOAD=.../libhakmem.so.1 for hakmem.
 *
 * output (one line):
 *   larson: threads=T ops=N seconds=S ops/s=X check=H peak_rss_kb=R maps=M
 *           [generations=G]
 * where maps is the number of lines of /proc/self/maps at the end of the run
 * (before the tables are freed), peak_rss_kb is getrusage()'s ru_maxrss,
 * generations (--standard) the number of threads that ran, and check a
 * digest of the sizes requested: in fixed-work mode of all of them; with
 * --standard of the warm-up's and of each table's first thread generation
 * (0 when one did not finish before the stop); else 0.
 */
#include "bench.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

struct table {
	void **blk;
	uint32_t *len;
	uint64_t n;
	uint64_t rng;
	uint64_t ops;		/* steps done */
	uint64_t quota;		/* steps per round (--standard: per thread) */
	uint64_t digest;
	uint64_t failures;
	double until;		/* clock mode: end of the round */
	bool filled;
	/* --standard */
	uint64_t gens;		/* threads that ran on this table */
	uint64_t first_digest;	/* digest of the first generation's sizes */
	bool first_done;	/* the first generation did all its steps */
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

/* ---- --standard: Larson and Krishnan's driver --------------------------- */

static atomic_bool stop_flag;
static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static uint64_t stopped;	/* tables whose last thread has stopped */
static pthread_attr_t detached;

/* The original draws its random numbers from a small generator and
 * reduces them with '%' by run-time divisors, a hardware division each;
 * so does the standard step (with splitmix64 instead of the original's
 * generator), so that the work around malloc and free costs about what it
 * costs there. */
static inline long std_draw(uint64_t *rng, long n)
{
	return (long)(bench_rng(rng) >> 33) % n;
}

static inline uint32_t std_size(uint64_t *rng)
{
	long range = (long)(max_size - min_size);
	return (uint32_t)(range ? (long)min_size + std_draw(rng, range) : (long)min_size);
}

/* --cxx: C++'s operator new[] and operator delete[]. */
static void *(*cxx_new)(size_t);
static void (*cxx_delete)(void *);
static bool use_cxx;

static bool load_cxx(void)
{
	/* Found in the global scope: a preloaded allocator's come first. */
	if (!dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL))
		return false;
	*(void **)&cxx_new = dlsym(RTLD_DEFAULT, "_Znam");
	*(void **)&cxx_delete = dlsym(RTLD_DEFAULT, "_ZdaPv");
	return cxx_new && cxx_delete;
}

/* A step of the standard driver: the freed block is not read. */
static inline __attribute__((always_inline)) void std_step(struct table *t, bool cxx)
{
	long i = std_draw(&t->rng, (long)t->n);
	if (cxx)
		cxx_delete(t->blk[i]);
	else
		free(t->blk[i]);
	uint32_t len = std_size(&t->rng);
	volatile unsigned char *p = cxx ? cxx_new(len) : malloc(len);
	t->blk[i] = (void *)p;
	t->len[i] = len;
	t->digest += len;
	if (BENCH_UNLIKELY(!p)) {
		t->failures++;
		return;
	}
	p[0] = 'a';
	(void)p[0];
	if (len > 1)
		p[1] = 'b';
}

/* Steps until quota or the stop flag; returns how many. */
static inline __attribute__((always_inline)) uint64_t std_steps(struct table *t, bool cxx)
{
	uint64_t k = 0;
	while (k < t->quota) {
		std_step(t, cxx);
		k++;
		if (atomic_load_explicit(&stop_flag, memory_order_relaxed))
			break;
	}
	return k;
}

static void std_stopped(void)
{
	pthread_mutex_lock(&stop_lock);
	stopped++;
	pthread_cond_signal(&stop_cond);
	pthread_mutex_unlock(&stop_lock);
}

static void *std_worker(void *arg)
{
	struct table *t = arg;
	uint64_t k = 0;
	if (!atomic_load_explicit(&stop_flag, memory_order_relaxed))
		k = use_cxx ? std_steps(t, true) : std_steps(t, false);
	t->ops += k;
	if (t->gens == 1 && k == t->quota) {
		t->first_done = true;
		t->first_digest = t->digest;
	}
	if (k == t->quota && !atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		/* Hand the table to a new thread and exit. */
		pthread_t th;
		t->gens++;
		int rc = pthread_create(&th, &detached, std_worker, t);
		if (rc == 0)
			return NULL;
		t->gens--;
		fprintf(stderr, "larson: pthread_create: %s\n", strerror(rc));
		t->failures++;
	}
	std_stopped();
	return NULL;
}

/* A new block of a random size at blk[i], its first bytes written; returns
 * digest with its size mixed in. */
static uint64_t std_fill(void **blk, uint32_t *len, uint64_t i, uint64_t *rng, uint64_t digest)
{
	len[i] = std_size(rng);
	blk[i] = use_cxx ? cxx_new(len[i]) : malloc(len[i]);
	if (!blk[i])
		bench_fail("larson", "malloc returned NULL in the warm-up");
	memset(blk[i], 'a', len[i] < 2 ? len[i] : 2);
	return bench_mix(digest, len[i]);
}

/* Warm-up, on the main thread: all tables are slices of blk/len. */
static uint64_t std_warmup(void **blk, uint32_t *len, uint64_t total, uint64_t *rng)
{
	uint64_t digest = 0;
	for (uint64_t i = 0; i < total; i++)
		digest = std_fill(blk, len, i, rng, digest);
	for (uint64_t i = total; i > 1; i--) {
		uint64_t j = (uint64_t)std_draw(rng, (long)i);
		void *b = blk[j];
		uint32_t l = len[j];
		blk[j] = blk[i - 1], len[j] = len[i - 1];
		blk[i - 1] = b, len[i - 1] = l;
	}
	for (uint64_t k = 0; k < 4 * total; k++) {
		uint64_t i = (uint64_t)std_draw(rng, (long)total);
		if (use_cxx)
			cxx_delete(blk[i]);
		else
			free(blk[i]);
		digest = std_fill(blk, len, i, rng, digest);
	}
	return digest;
}

/* Runs the threads of the standard driver for seconds; returns the time
 * from the creation of the last first-generation thread to the stop of the
 * last thread. */
static double std_run(struct table *tab, uint64_t threads, double seconds)
{
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	for (uint64_t i = 0; i < threads; i++) {
		pthread_t th;
		tab[i].gens = 1;
		int rc = pthread_create(&th, &detached, std_worker, &tab[i]);
		if (rc) {
			fprintf(stderr, "larson: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
	}
	/* As in the original, the clock starts once the threads are created. */
	double start = bench_now();
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
	atomic_store(&stop_flag, true);
	pthread_mutex_lock(&stop_lock);
	while (stopped < threads)
		pthread_cond_wait(&stop_cond, &stop_lock);
	pthread_mutex_unlock(&stop_lock);
	return bench_now() - start;
}

/* The original's seven positional arguments, as option pairs. */
static const char *const positional[] = {
	"--seconds", "--min", "--max", "--blocks", "--rounds", "--seed", "--threads",
};

static bool all_digits(const char *s)
{
	bool dot = false;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s == '.' && !dot)
			dot = true;
		else if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	uint64_t threads = 4, blocks = 1000, seed = 1, ops = 0, rounds = 20;
	double seconds = 10, round_len = 0.5;
	bool standard = false;

	/* --standard and --cxx are flags, taken out before the options are
	 * parsed; --standard, or the original's seven positional arguments,
	 * sets the literature's defaults, which options override. */
	char *args[32];
	int nargs = 0;
	bool positional_form = argc == 8;
	for (int i = 1; i < argc && positional_form; i++)
		positional_form = all_digits(argv[i]);
	args[nargs++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--standard") || positional_form)
			standard = true;
		if (!strcmp(argv[i], "--cxx") && !positional_form)
			use_cxx = true;
		else if (strcmp(argv[i], "--standard") && !positional_form) {
			if (nargs >= 31)
				goto bad;
			args[nargs++] = argv[i];
		}
	}
	if (positional_form)
		for (int i = 0; i < 7; i++) {
			args[nargs++] = (char *)positional[i];
			args[nargs++] = argv[i + 1];
		}
	args[nargs] = NULL;
	if (standard) {
		seconds = 5, min_size = 8, max_size = 1000, blocks = 5000, rounds = 100;
		seed = 4141;
	}

	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads (a new set every round)" },
		{ "seconds", 's', BENCH_DOUBLE, &seconds, "run time (clock modes)" },
		{ "round", 'r', BENCH_DOUBLE, &round_len, "round length in seconds (clock mode)" },
		{ "ops", 0, BENCH_U64, &ops, "fixed work: steps in all (0: clock mode)" },
		{ "rounds", 0, BENCH_U64, &rounds,
		  "fixed work: rounds; --standard: steps per thread, in blocks" },
		{ "blocks", 'n', BENCH_U64, &blocks, "live blocks per thread" },
		{ "min", 0, BENCH_U64, &min_size, "smallest request" },
		{ "max", 0, BENCH_U64, &max_size,
		  "largest request (--standard: one more than the largest)" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(nargs, args,
		    "Larson server: threads replace random blocks of their table; new\n"
		    "threads take the tables over (cross-thread frees).\n"
		    "  --standard: the literature's configuration, larson 5 8 1000 5000 100\n"
		    "  4141 T (also accepted as those seven numbers); sets the defaults\n"
		    "  -s 5 --min 8 --max 1000 -n 5000 --rounds 100 --seed 4141.\n"
		    "  --cxx (with --standard): C++ operator new[] and delete[] instead of\n"
		    "  malloc and free, as mimalloc-bench builds it.",
		    opts);
	if (threads < 1 || threads > 4096 || blocks < 1 || min_size < 1 ||
	    min_size > max_size || max_size > UINT32_MAX || rounds < 1 ||
	    !(seconds > 0) || !(round_len > 0) || (standard && ops) || (use_cxx && !standard) ||
	    (standard && (blocks > UINT64_MAX / rounds || blocks > UINT64_MAX / 4 / threads)))
		goto bad;
	fixed_work = ops > 0;

	struct table *tab = bench_map(threads * sizeof *tab);
	pthread_t *th = bench_map(threads * sizeof *th);
	void **all_blk = NULL;
	uint32_t *all_len = NULL;
	if (standard) {
		all_blk = bench_map(threads * blocks * sizeof *all_blk);
		all_len = bench_map(threads * blocks * sizeof *all_len);
	}
	for (uint64_t i = 0; i < threads; i++) {
		tab[i].n = blocks;
		tab[i].blk = standard ? all_blk + i * blocks : bench_map(blocks * sizeof *tab[i].blk);
		tab[i].len = standard ? all_len + i * blocks : bench_map(blocks * sizeof *tab[i].len);
		tab[i].rng = bench_seed(seed, i);
		tab[i].quota = standard ? rounds * blocks : ops / (threads * rounds);
	}

	if (use_cxx && !load_cxx()) {
		fprintf(stderr, "larson: --cxx: no libstdc++.so.6 with operator new[]: %s\n",
			dlerror());
		return 2;
	}
	double elapsed;
	uint64_t warm_digest = 0;
	if (standard) {
		uint64_t rng = bench_seed(seed, threads);
		warm_digest = std_warmup(all_blk, all_len, threads * blocks, &rng);
		elapsed = std_run(tab, threads, seconds);
	} else {
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
		elapsed = bench_now() - start;
	}
	long maps = hk_count_lines("/proc/self/maps");

	uint64_t done = 0, failures = 0, digest = 0, gens = 0;
	bool first_done = true;
	for (uint64_t i = 0; i < threads; i++) {
		done += tab[i].ops;
		failures += tab[i].failures;
		gens += tab[i].gens;
		first_done = first_done && tab[i].first_done;
		digest += bench_mix(i, standard ? tab[i].first_digest : tab[i].digest);
		for (uint64_t k = 0; k < tab[i].n; k++) {
			unsigned char *b = tab[i].blk[k];
			if (standard && b && b[0] != 'a')
				failures++;
			if (use_cxx)
				cxx_delete(b);
			else
				free(b);
		}
	}
	uint64_t check = 0;
	if (fixed_work)
		check = digest;
	else if (standard && first_done)
		check = bench_mix(warm_digest, digest);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	char extra[160];
	int len = snprintf(extra, sizeof extra, "peak_rss_kb=%ld maps=%ld", ru.ru_maxrss, maps);
	if (standard)
		snprintf(extra + len, sizeof extra - (size_t)len, " generations=%" PRIu64, gens);
	bench_result("larson", threads, done, elapsed, check, extra);
	if (failures) {
		fprintf(stderr, "larson: %" PRIu64 " failed allocations or corrupt blocks\n",
			failures);
		return 1;
	}
	return 0;
bad:
	fprintf(stderr, "larson: bad arguments (see --help)\n");
	return 2;
}

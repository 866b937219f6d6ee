/* bench.h - helpers shared by the workload programs in bench/.
 *
 * The workloads are plain C11 + pthreads programs that are not linked with
 * any particular allocator: bench/run selects one with LD_PRELOAD (glibc's
 * malloc when nothing is preloaded). Everything here is header-only and
 * kept out of the measured loops' way: a counter-based random number
 * generator, a monotonic clock, a compiler barrier that keeps malloc/free
 * pairs from being optimised away, memory for the benchmark's own
 * bookkeeping taken straight from mmap (so the allocator under test only
 * sees the workload's requests), option parsing and the result line.
 *
 * Result line: every program prints exactly one line on stdout,
 *   <workload>: key=value key=value ...
 * with at least threads=, ops=, seconds= (the measured phase), ops/s= and
 * check= (a digest of the work done that does not depend on addresses, so
 * that runs under different allocators can be compared).
 */
#ifndef BENCH_H
#define BENCH_H

#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../tests/lib/count_lines.h"

#define BENCH_UNUSED __attribute__((unused))
#define BENCH_LIKELY(x) __builtin_expect(!!(x), 1)
#define BENCH_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Make the compiler believe p is used (and memory may have been read), so
 * that it cannot drop a malloc/free pair or a store into a block. */
#define BENCH_ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
/* Make the compiler forget what it knows about the value of p. */
#define BENCH_OPAQUE(p) __asm__ volatile("" : "+r"(p) : : "memory")

/* ---- time -------------------------------------------------------------- */

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- random numbers ----------------------------------------------------- */

/* splitmix64: one add, two multiplies; good enough statistically for
 * picking sizes and slots, and fast enough to vanish next to malloc. */
static inline uint64_t bench_rng(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0 (multiply-shift, no division). */
static inline uint64_t bench_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)bench_rng(state) * n) >> 64);
}

/* Uniform in [lo, hi]. */
static inline uint64_t bench_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + bench_below(state, hi - lo + 1);
}

/* Log-uniform in [lo, hi] (lo >= 1): each power of two about equally
 * likely, uniform inside it. */
static inline uint64_t bench_log_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	unsigned lo_lg = 63u - (unsigned)__builtin_clzll(lo);
	unsigned hi_lg = 63u - (unsigned)__builtin_clzll(hi);
	unsigned lg = lo_lg + (unsigned)bench_below(state, hi_lg - lo_lg + 1);
	uint64_t a = (uint64_t)1 << lg, b = a * 2 - 1;
	if (a < lo)
		a = lo;
	if (b > hi)
		b = hi;
	return bench_range(state, a, b);
}

/* Independent stream for thread (or table) i of a run with this seed. */
static inline uint64_t bench_seed(uint64_t seed, uint64_t i)
{
	uint64_t s = seed * 0xD1B54A32D192ED03ull + (i + 1) * 0x9E3779B97F4A7C15ull;
	(void)bench_rng(&s);
	return s;
}

/* Fold a value into a digest (order-dependent; combine per-thread digests
 * with + so that thread interleaving does not matter). */
static inline uint64_t bench_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* ---- the benchmark's own memory ----------------------------------------- */

/* Zeroed memory for tables and queues, from mmap so that it neither goes
 * through nor disturbs the allocator under test. Exits on failure. */
static BENCH_UNUSED void *bench_map(size_t size)
{
	if (size == 0)
		size = 1;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("bench: mmap");
		exit(1);
	}
	return p;
}

static BENCH_UNUSED void bench_unmap(void *p, size_t size)
{
	if (p)
		munmap(p, size ? size : 1);
}

/* ---- threads ------------------------------------------------------------ */

/* Run fn(arg + i * stride) on n threads and wait for them all. */
static BENCH_UNUSED void bench_run_threads(size_t n, void *(*fn)(void *),
					   void *args, size_t stride)
{
	pthread_t *th = bench_map(n * sizeof *th);
	for (size_t i = 0; i < n; i++) {
		int rc = pthread_create(&th[i], NULL, fn, (char *)args + i * stride);
		if (rc) {
			fprintf(stderr, "bench: pthread_create: %s\n", strerror(rc));
			exit(1);
		}
	}
	for (size_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	bench_unmap(th, n * sizeof *th);
}

/* ---- fixed-work runs ---------------------------------------------------- */

/* What every worker of a fixed-work micro-benchmark starts with. */
struct bench_share {
	uint64_t steps;		/* its share of the work */
	uint64_t rng;		/* its random state */
	uint64_t digest;	/* what it computed: the output compared between allocators */
	uint64_t bad;		/* errors it saw */
};

/* n workers of size bytes each, at w, each starting with a struct
 * bench_share: split ops between them, seed them, run fn on each on its own
 * thread, and return the seconds that took; *digest and *bad get the sums
 * over the workers. */
static BENCH_UNUSED double bench_run_shares(void *w, size_t size, uint64_t n, uint64_t ops,
					   uint64_t seed, void *(*fn)(void *),
					   uint64_t *digest, uint64_t *bad)
{
	for (uint64_t i = 0; i < n; i++) {
		struct bench_share *s = (struct bench_share *)((char *)w + i * size);
		s->steps = ops / n + (i < ops % n);
		s->rng = bench_seed(seed, i);
	}
	double t0 = bench_now();
	bench_run_threads(n, fn, w, size);
	double t = bench_now() - t0;
	*digest = *bad = 0;
	for (uint64_t i = 0; i < n; i++) {
		struct bench_share *s = (struct bench_share *)((char *)w + i * size);
		*digest += bench_mix(i, s->digest);
		*bad += s->bad;
	}
	return t;
}

/* The end of a worker that keeps `live` blocks in blk: frees them (on its
 * own thread, as a program would) and hands over what it computed. */
static BENCH_UNUSED void *bench_share_end(struct bench_share *s, void **blk, uint64_t live,
					  uint64_t digest, uint64_t bad)
{
	for (uint64_t i = 0; i < live; i++)
		free(blk[i]);
	s->digest = digest;
	s->bad = bad;
	return NULL;
}

/* ---- options ------------------------------------------------------------ */

/* Options are --name=value or --name value (or -t/-n/-s short forms given
 * by the program). A program describes its options with a table. */
enum bench_opt_type { BENCH_U64, BENCH_DOUBLE, BENCH_STR };

struct bench_opt {
	const char *name;	/* long name, without the dashes */
	char short_name;	/* 0: none */
	enum bench_opt_type type;
	void *value;		/* uint64_t *, double * or const char ** */
	const char *help;
};

static BENCH_UNUSED void bench_usage(FILE *f, const char *prog, const char *what,
				     const struct bench_opt *opts)
{
	fprintf(f, "usage: %s [options]\n%s\noptions:\n", prog, what);
	for (const struct bench_opt *o = opts; o->name; o++) {
		char def[64];
		switch (o->type) {
		case BENCH_U64:
			snprintf(def, sizeof def, "%" PRIu64, *(uint64_t *)o->value);
			break;
		case BENCH_DOUBLE:
			snprintf(def, sizeof def, "%g", *(double *)o->value);
			break;
		default:
			snprintf(def, sizeof def, "%s", *(const char **)o->value);
			break;
		}
		if (o->short_name)
			fprintf(f, "  -%c, --%-14s %s (default %s)\n", o->short_name,
				o->name, o->help, def);
		else
			fprintf(f, "      --%-14s %s (default %s)\n", o->name, o->help, def);
	}
}

static BENCH_UNUSED bool bench_set_opt(const struct bench_opt *o, const char *v)
{
	char *end;
	errno = 0;
	switch (o->type) {
	case BENCH_U64: {
		unsigned long long x = strtoull(v, &end, 0);
		/* Accept k/M/G suffixes (powers of 1000) for counts. */
		if (*end == 'k' || *end == 'K')
			x *= 1000ull, end++;
		else if (*end == 'M')
			x *= 1000000ull, end++;
		else if (*end == 'G')
			x *= 1000000000ull, end++;
		if (errno || end == v || *end || v[0] == '-')
			return false;
		*(uint64_t *)o->value = x;
		return true;
	}
	case BENCH_DOUBLE: {
		double x = strtod(v, &end);
		if (errno || end == v || *end || !(x >= 0))
			return false;
		*(double *)o->value = x;
		return true;
	}
	default:
		*(const char **)o->value = v;
		return true;
	}
}

/* Parses argv; prints usage and exits on -h/--help (0) or a bad option (2). */
static BENCH_UNUSED void bench_parse(int argc, char **argv, const char *what,
				     const struct bench_opt *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct bench_opt *o = NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			bench_usage(stdout, argv[0], what, opts);
			exit(0);
		}
		if (a[0] == '-' && a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			for (const struct bench_opt *p = opts; p->name; p++)
				if (strlen(p->name) == len && !strncmp(p->name, a + 2, len))
					o = p;
			if (eq)
				val = eq + 1;
		} else if (a[0] == '-' && a[1] && !a[2]) {
			for (const struct bench_opt *p = opts; p->name; p++)
				if (p->short_name == a[1])
					o = p;
		}
		if (!o) {
			fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], a);
			goto bad;
		}
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: '%s' needs a value\n", argv[0], a);
				goto bad;
			}
			val = argv[++i];
		}
		if (!bench_set_opt(o, val)) {
			fprintf(stderr, "%s: bad value '%s' for --%s\n", argv[0], val, o->name);
			goto bad;
		}
	}
	return;
bad:
	bench_usage(stderr, argv[0], what, opts);
	exit(2);
}

/* ---- result ------------------------------------------------------------- */

/* Print the result line; extra is appended as is (may be ""). */
static BENCH_UNUSED void bench_result(const char *name, uint64_t threads, uint64_t ops,
				      double seconds, uint64_t check, const char *extra)
{
	printf("%s: threads=%" PRIu64 " ops=%" PRIu64 " seconds=%.6f ops/s=%.0f "
	       "check=%016" PRIx64 "%s%s\n",
	       name, threads, ops, seconds, seconds > 0 ? (double)ops / seconds : 0.0,
	       check, extra && *extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

/* Report a broken invariant of the workload (an allocator bug) and exit. */
static BENCH_UNUSED void bench_fail(const char *name, const char *what)
{
	fprintf(stderr, "%s: FAILED: %s\n", name, what);
	exit(3);
}

/* bench_run_shares() for a workload whose every error a worker counts is
 * an allocator bug: exits with bench_fail(name, bad_what) when there was
 * one, else prints the result line. */
static BENCH_UNUSED void bench_run_checked(const char *name, void *w, size_t size, uint64_t n,
					   uint64_t ops, uint64_t seed, void *(*fn)(void *),
					   const char *bad_what)
{
	uint64_t digest, bad;
	double t = bench_run_shares(w, size, n, ops, seed, fn, &digest, &bad);
	if (bad)
		bench_fail(name, bad_what);
	bench_result(name, n, ops, t, digest, "");
}

#endif

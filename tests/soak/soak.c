/* soak - long-running allocation workloads that sample the process's
 * memory over time, for tools/check-soak ('make check-soak').
 *
 *   soak --mode larson|prodcons --threads T --seconds S [--sample S]
 *        [--warmup S] [--csv FILE]
 *
 * larson     Larson-style server: T threads each own a table of 10,000
 *            blocks (16 B to 1 KiB, some up to 16 KiB) and replace random
 *            ones, checking the tag the block's previous owner wrote; every
 *            second the threads exit and new threads take the tables over,
 *            so most blocks are freed by threads other than the ones that
 *            allocated them.
 * prodcons   T/2 producers allocate blocks (16 B to 4 KiB) and hand them in
 *            batches of 256 through a bounded ring (8 batches) to a consumer
 *            each, which checks and frees them: every free is cross-thread.
 *
 * Every --sample seconds (default 5) the main thread records the resident
 * set (/proc/self/statm), the lines of /proc/self/maps and, under hakmem
 * (LD_PRELOAD), stats.mapped and stats.superslabs.live, to --csv.
 *
 * Verdict (the program's exit status and PASS/FAIL lines): after the
 * warm-up (--warmup, default 10% of the run, at least 10 s), the rest of
 * the run is cut in two halves; the largest resident set of the second
 * half must not exceed that of the first by more than 10% + 8 MiB (the
 * memory is flat: no leak, no creeping fragmentation), and likewise
 * hakmem's mapped bytes; the largest count of mappings of the second half
 * must not exceed that of the first by more than 32, and never 1,000.  No
 * allocation may fail and no block may be found corrupt.
 *
 * Not linked with hakmem: run it with LD_PRELOAD (or without, for glibc). */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static size_t pick_size(uint64_t *s, size_t lo, size_t hi)
{
	/* roughly log-uniform */
	unsigned lb = 63u - (unsigned)__builtin_clzll(lo);
	unsigned hb = 63u - (unsigned)__builtin_clzll(hi);
	unsigned b = lb + (unsigned)(rng_next(s) % (hb - lb + 1));
	size_t v = ((size_t)1 << b) + rng_next(s) % ((size_t)1 << b);
	return v < lo ? lo : v > hi ? hi : v;
}

static _Atomic int stop;
static _Atomic uint64_t total_ops, failures, corrupt;

/* ---------------------------------------------------------------- larson */

#define TABLE 10000

struct table {
	unsigned char *blk[TABLE];
	uint32_t len[TABLE];
	uint64_t rng;
	double until;
};

static void *larson_worker(void *arg)
{
	struct table *t = arg;
	uint64_t ops = 0, bad = 0, nulls = 0;
	while (now() < t->until && !atomic_load(&stop)) {
		for (int k = 0; k < 256; k++) {
			uint64_t i = rng_next(&t->rng) % TABLE;
			unsigned char *old = t->blk[i];
			if (old) {
				if (old[0] != (unsigned char)t->len[i] ||
				    old[t->len[i] - 1] != (unsigned char)i)
					bad++;
				free(old);
			}
			size_t n = rng_next(&t->rng) % 64 == 0
					   ? pick_size(&t->rng, 1024, 16384)
					   : pick_size(&t->rng, 16, 1024);
			unsigned char *b = malloc(n);
			if (!b) {
				nulls++;
				t->blk[i] = NULL;
				continue;
			}
			b[0] = (unsigned char)n;
			b[n - 1] = (unsigned char)i;
			t->blk[i] = b;
			t->len[i] = (uint32_t)n;
		}
		ops += 256;
	}
	atomic_fetch_add(&total_ops, ops);
	atomic_fetch_add(&corrupt, bad);
	atomic_fetch_add(&failures, nulls);
	return NULL;
}

static void *larson_driver(void *arg)
{
	int threads = (int)(intptr_t)arg;
	struct table *tabs = calloc((size_t)threads, sizeof *tabs);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	if (!tabs || !th) {
		atomic_fetch_add(&failures, 1);
		return NULL;
	}
	for (int i = 0; i < threads; i++)
		tabs[i].rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
	while (!atomic_load(&stop)) {
		double until = now() + 1.0;
		int started = 0;
		for (int i = 0; i < threads; i++) {
			tabs[i].until = until;
			if (pthread_create(&th[i], NULL, larson_worker, &tabs[i]))
				break;
			started++;
		}
		if (started < threads)
			atomic_fetch_add(&failures, 1);
		for (int i = 0; i < started; i++)
			pthread_join(th[i], NULL);
	}
	for (int i = 0; i < threads; i++)
		for (int k = 0; k < TABLE; k++)
			free(tabs[i].blk[k]);
	free(tabs);
	free(th);
	return NULL;
}

/* -------------------------------------------------------------- prodcons */

#define BATCH 256
#define DEPTH 8

struct pair {
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) _Atomic uint64_t tail;
	_Alignas(64) unsigned char *ring[DEPTH][BATCH];
	uint32_t len[DEPTH][BATCH];
	uint64_t rng;
};

static void *producer(void *arg)
{
	struct pair *p = arg;
	uint64_t head = 0, nulls = 0;
	while (!atomic_load(&stop)) {
		if (head - atomic_load_explicit(&p->tail, memory_order_acquire) >=
		    DEPTH) {
			sched_yield();
			continue;
		}
		int s = (int)(head % DEPTH);
		for (int i = 0; i < BATCH; i++) {
			size_t n = pick_size(&p->rng, 16, 4096);
			unsigned char *b = malloc(n);
			if (!b)
				nulls++;
			else {
				b[0] = (unsigned char)n;
				b[n - 1] = (unsigned char)(n >> 4);
			}
			p->ring[s][i] = b;
			p->len[s][i] = (uint32_t)n;
		}
		atomic_store_explicit(&p->head, ++head, memory_order_release);
	}
	atomic_fetch_add(&failures, nulls);
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *p = arg;
	uint64_t tail = 0, bad = 0;
	for (;;) {
		if (atomic_load_explicit(&p->head, memory_order_acquire) == tail) {
			if (atomic_load(&stop))
				break;
			sched_yield();
			continue;
		}
		int s = (int)(tail % DEPTH);
		for (int i = 0; i < BATCH; i++) {
			unsigned char *b = p->ring[s][i];
			size_t n = p->len[s][i];
			if (b && (b[0] != (unsigned char)n ||
				  b[n - 1] != (unsigned char)(n >> 4)))
				bad++;
			free(b);
		}
		atomic_fetch_add_explicit(&total_ops, BATCH, memory_order_relaxed);
		atomic_store_explicit(&p->tail, ++tail, memory_order_release);
	}
	atomic_fetch_add(&corrupt, bad);
	return NULL;
}

/* --------------------------------------------------------------- samples */

static long rss_kb(void)
{
	char buf[128];
	unsigned long size = 0, res = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	sscanf(buf, "%lu %lu", &size, &res);
	return (long)(res * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}

static long maps_lines(void)
{
	char buf[8192];
	long lines = 0;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

typedef int (*ctl_fn)(const char *, void *, size_t *, const void *, size_t);

static uint64_t stat_u64(ctl_fn ctl, const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	if (!ctl || ctl(name, &v, &len, NULL, 0) != 0)
		return 0;
	return v;
}

struct sample {
	double t;
	long rss, maps;
	uint64_t mapped, ss, ops;
};

static int verdict(const char *what, const char *name, struct sample *s,
		   int n, double warmup, double pct, double abs_slack,
		   int field)
{
	/* field: 0 rss (KiB), 1 maps, 2 mapped (KiB) */
	double end = s[n - 1].t, mid = warmup + (end - warmup) / 2;
	double a = 0, b = 0;
	int na = 0, nb = 0;
	for (int i = 0; i < n; i++) {
		double v = field == 0 ? (double)s[i].rss
			   : field == 1 ? (double)s[i].maps
					: (double)(s[i].mapped >> 10);
		if (s[i].t < warmup)
			continue;
		if (s[i].t < mid) {
			a = v > a ? v : a;
			na++;
		} else {
			b = v > b ? v : b;
			nb++;
		}
	}
	if (na == 0 || nb == 0) {
		printf("FAIL: %s: %s: too few samples after the warm-up\n", what,
		       name);
		return 1;
	}
	double bound = a * (1 + pct) + abs_slack;
	bool ok = b <= bound && (field != 1 || b < 1000);
	printf("%s: %s: %s flat (max %.0f in the first half after the warm-up, "
	       "%.0f in the second; bound %.0f)\n", ok ? "PASS" : "FAIL", what,
	       name, a, b, bound);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *mode = "larson", *csv = NULL;
	int threads = 8;
	double seconds = 60, sample = 5, warmup = -1;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			fprintf(stderr, "soak: %s needs a value\n", a);
			return 2;
		}
		if (!strcmp(a, "--mode"))
			mode = v;
		else if (!strcmp(a, "--threads"))
			threads = atoi(v);
		else if (!strcmp(a, "--seconds"))
			seconds = atof(v);
		else if (!strcmp(a, "--sample"))
			sample = atof(v);
		else if (!strcmp(a, "--warmup"))
			warmup = atof(v);
		else if (!strcmp(a, "--csv"))
			csv = v;
		else {
			fprintf(stderr, "soak: unknown option %s\n", a);
			return 2;
		}
		i++;
	}
	bool prodcons = !strcmp(mode, "prodcons");
	if ((!prodcons && strcmp(mode, "larson")) || threads < 1 ||
	    threads > 1024 || (prodcons && threads % 2) || !(seconds > 0) ||
	    !(sample > 0)) {
		fprintf(stderr, "soak: bad arguments (see the comment at the top "
				"of soak.c)\n");
		return 2;
	}
	if (warmup < 0) {
		warmup = seconds / 10;
		if (warmup < 10)
			warmup = 10;
	}

	void *sym = dlsym(RTLD_DEFAULT, "hakmem_ctl");
	ctl_fn ctl;
	memcpy(&ctl, &sym, sizeof ctl);
	FILE *out = csv ? fopen(csv, "w") : NULL;
	if (out)
		fprintf(out, "seconds,rss_kb,maps,hakmem_mapped_kb,superslabs,ops\n");

	int nthreads = prodcons ? threads : 1;
	pthread_t *th = calloc((size_t)nthreads, sizeof *th);
	struct pair *pairs = NULL;
	if (prodcons) {
		pairs = aligned_alloc(64, (size_t)(threads / 2) * sizeof *pairs);
		if (!pairs)
			return 1;
		memset(pairs, 0, (size_t)(threads / 2) * sizeof *pairs);
		for (int i = 0; i < threads / 2; i++) {
			pairs[i].rng = 0xD1B54A32D192ED03ull * (uint64_t)(i + 1);
			pthread_create(&th[2 * i], NULL, producer, &pairs[i]);
			pthread_create(&th[2 * i + 1], NULL, consumer, &pairs[i]);
		}
	} else {
		pthread_create(&th[0], NULL, larson_driver,
			       (void *)(intptr_t)threads);
	}

	int cap = (int)(seconds / sample) + 16, n = 0;
	struct sample *s = calloc((size_t)cap, sizeof *s);
	double t0 = now(), next = t0 + sample;
	while (n < cap) {
		double t = now();
		if (t < next) {
			struct timespec ts = { 0, 0 };
			double d = next - t;
			ts.tv_sec = (time_t)d;
			ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
			continue;
		}
		next += sample;
		s[n].t = t - t0;
		s[n].rss = rss_kb();
		s[n].maps = maps_lines();
		s[n].mapped = stat_u64(ctl, "stats.mapped");
		s[n].ss = stat_u64(ctl, "stats.superslabs.live");
		s[n].ops = atomic_load(&total_ops);
		if (out) {
			fprintf(out, "%.1f,%ld,%ld,%" PRIu64 ",%" PRIu64 ",%" PRIu64
				"\n", s[n].t, s[n].rss, s[n].maps,
				s[n].mapped >> 10, s[n].ss, s[n].ops);
			fflush(out);
		}
		n++;
		if (t - t0 >= seconds)
			break;
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	if (out)
		fclose(out);

	char what[64];
	snprintf(what, sizeof what, "%s %d threads %.0f s", mode, threads,
		 seconds);
	int bad = 0;
	long max_rss = 0, max_maps = 0;
	for (int i = 0; i < n; i++) {
		max_rss = s[i].rss > max_rss ? s[i].rss : max_rss;
		max_maps = s[i].maps > max_maps ? s[i].maps : max_maps;
	}
	printf("note: %s: %" PRIu64 " operations, %d samples; peak rss %ld KiB, "
	       "peak maps %ld; at the end rss %ld KiB, maps %ld, hakmem mapped "
	       "%" PRIu64 " KiB, %" PRIu64 " SuperSlabs\n", what,
	       atomic_load(&total_ops), n, max_rss, max_maps, s[n - 1].rss,
	       s[n - 1].maps, s[n - 1].mapped >> 10, s[n - 1].ss);
	bad += verdict(what, "resident memory", s, n, warmup, 0.10, 8192, 0);
	bad += verdict(what, "mappings", s, n, warmup, 0, 32, 1);
	if (ctl)
		bad += verdict(what, "hakmem mapped bytes", s, n, warmup, 0.10,
			       8192, 2);
	uint64_t f = atomic_load(&failures), c = atomic_load(&corrupt);
	printf("%s: %s: no allocation failed, no block corrupt (%" PRIu64
	       " failed, %" PRIu64 " corrupt)\n", f || c ? "FAIL" : "PASS",
	       what, f, c);
	bad += f || c;
	free(s);
	free(th);
	free(pairs);
	return bad ? 1 : 0;
}

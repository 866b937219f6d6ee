/* larson - a Larson-style server allocation benchmark.
 *
 * Each of T threads owns a table of N live blocks.  A step frees a random
 * block of the table and allocates a new one of random size in [min, max],
 * touching its first and last bytes.  Every round (0.5 s by default) the
 * threads exit and freshly created threads take over their tables, so blocks
 * are freed by threads other than the ones that allocated them and threads
 * churn the way they do in a thread-per-connection server.
 *
 * Not linked with any particular allocator: run it as is for the system
 * malloc, or with LD_PRELOAD=.../libhakmem.so.1 for hakmem.
 *
 * usage: larson [-t threads] [-s seconds] [-n live-blocks-per-thread]
 *               [--min bytes] [--max bytes] [-r round-seconds] [--seed N]
 * output (one line):
 *   larson: threads=T seconds=S ops=N ops/s=X peak_rss_kb=R maps=M
 * where maps is the number of lines of /proc/self/maps at the end of the run
 * (before the tables are freed) and peak_rss_kb is getrusage()'s ru_maxrss.
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct table {
	void **blk;
	size_t *len;
	size_t n;
	uint64_t rng;
	uint64_t ops;
	uint64_t failures;
	double until;
	bool filled;
};

static size_t min_size = 8, max_size = 1024;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* xorshift64* */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline size_t pick_size(uint64_t *s)
{
	return min_size + (size_t)((rng_next(s) >> 11) % (max_size - min_size + 1));
}

static inline void *alloc_touch(size_t n)
{
	unsigned char *p = malloc(n);
	if (p) {
		p[n - 1] = (unsigned char)(n >> 8);
		p[0] = (unsigned char)n;	/* checked on free */
	}
	return p;
}

static void *worker(void *arg)
{
	struct table *t = arg;

	if (!t->filled) {
		for (size_t i = 0; i < t->n; i++) {
			t->len[i] = pick_size(&t->rng);
			t->blk[i] = alloc_touch(t->len[i]);
			if (!t->blk[i])
				t->failures++;
		}
		t->filled = true;
	}
	for (;;) {
		for (int k = 0; k < 1024; k++) {
			size_t i = (size_t)((rng_next(&t->rng) >> 11) % t->n);
			unsigned char *old = t->blk[i];
			if (old) {
				/* read what the previous owner wrote */
				if (old[0] != (unsigned char)t->len[i])
					t->failures++;
				free(old);
			}
			t->len[i] = pick_size(&t->rng);
			t->blk[i] = alloc_touch(t->len[i]);
			if (!t->blk[i])
				t->failures++;
		}
		t->ops += 1024;
		if (now() >= t->until)
			break;
	}
	return NULL;
}

static long maps_lines(void)
{
	char buf[8192];
	long lines = 0;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	}
	close(fd);
	return lines;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-t threads] [-s seconds] [-n live-blocks-per-thread]\n"
		"          [--min bytes] [--max bytes] [-r round-seconds] "
		"[--seed N]\n"
		"defaults: -t 4 -s 10 -n 1000 --min 8 --max 1024 -r 0.5 "
		"--seed 1\n",
		argv0);
}

static bool parse_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > (1ull << 40))
		return false;
	*out = (size_t)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "blocks", required_argument, NULL, 'n' },
		{ "min", required_argument, NULL, 'm' },
		{ "max", required_argument, NULL, 'M' },
		{ "round", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t threads = 4, blocks = 1000, seed = 1;
	double seconds = 10, round_len = 0.5;
	int c;

	while ((c = getopt_long(argc, argv, "t:s:n:r:h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 't':
			if (!parse_size(optarg, &threads) || threads > 4096)
				goto bad;
			break;
		case 'n':
			if (!parse_size(optarg, &blocks))
				goto bad;
			break;
		case 'm':
			if (!parse_size(optarg, &min_size))
				goto bad;
			break;
		case 'M':
			if (!parse_size(optarg, &max_size))
				goto bad;
			break;
		case 'S':
			if (!parse_size(optarg, &seed))
				goto bad;
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0))
				goto bad;
			break;
		case 'r':
			round_len = strtod(optarg, &end);
			if (*end || !(round_len > 0))
				goto bad;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || min_size > max_size)
		goto bad;

	struct table *tab = calloc(threads, sizeof *tab);
	pthread_t *th = calloc(threads, sizeof *th);
	if (!tab || !th) {
		perror("larson: calloc");
		return 1;
	}
	for (size_t i = 0; i < threads; i++) {
		tab[i].n = blocks;
		tab[i].blk = calloc(blocks, sizeof *tab[i].blk);
		tab[i].len = calloc(blocks, sizeof *tab[i].len);
		if (!tab[i].blk || !tab[i].len) {
			perror("larson: calloc");
			return 1;
		}
		tab[i].rng = (uint64_t)seed * 0x9E3779B97F4A7C15ull +
			     (uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull;
		if (!tab[i].rng)
			tab[i].rng = 1;
	}

	double start = now(), end = start + seconds;
	while (now() < end) {
		double until = now() + round_len;
		if (until > end)
			until = end;
		for (size_t i = 0; i < threads; i++) {
			tab[i].until = until;
			int rc = pthread_create(&th[i], NULL, worker, &tab[i]);
			if (rc) {
				fprintf(stderr, "larson: pthread_create: %s\n",
					strerror(rc));
				return 1;
			}
		}
		for (size_t i = 0; i < threads; i++)
			pthread_join(th[i], NULL);
	}
	double elapsed = now() - start;
	long maps = maps_lines();

	uint64_t ops = 0, failures = 0;
	for (size_t i = 0; i < threads; i++) {
		ops += tab[i].ops;
		failures += tab[i].failures;
		for (size_t k = 0; k < tab[i].n; k++)
			free(tab[i].blk[k]);
		free(tab[i].blk);
		free(tab[i].len);
	}
	free(tab);
	free(th);

	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("larson: threads=%zu seconds=%.2f ops=%" PRIu64
	       " ops/s=%.0f peak_rss_kb=%ld maps=%ld\n",
	       threads, elapsed, ops, (double)ops / elapsed, ru.ru_maxrss,
	       maps);
	if (failures) {
		fprintf(stderr,
			"larson: %" PRIu64 " failed allocations or corrupt "
			"blocks\n", failures);
		return 1;
	}
	return 0;

bad:
	usage(stderr, argv[0]);
	return 2;
}

/* large - large allocations churned: 64 KiB - 32 MiB.
 *
 * Each thread keeps a table of --live blocks; a step frees a random one and
 * allocates a new block of log-uniform size in [--min, --max] (so 64-128 KiB
 * is as likely as 16-32 MiB), then writes one byte in every 4 KiB page of
 * it, as a program filling a buffer does. An allocator that gives the pages
 * back to the kernel on free (munmap, madvise) and maps fresh ones on the
 * next malloc pays a page fault and the zeroing of a page for every page
 * written; one that keeps them does not. The --fill option writes whole
 * blocks instead (memset), which adds memory bandwidth to both.
 *
 * Fixed work: --ops allocations in all, split between the threads.
 */
#include "bench.h"

struct worker {
	struct bench_share s;	/* first: see bench_run_shares */
	void **blk;
	size_t *len;
	char pad[64];
};

static uint64_t live = 8, min_size = 64 * 1024, max_size = 32 * 1024 * 1024, fill;

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t digest = 0, bad = 0;
	for (uint64_t s = 0; s < w->s.steps; s++) {
		uint64_t i = bench_below(&w->s.rng, live);
		if (w->blk[i]) {
			unsigned char *p = w->blk[i];
			size_t n = w->len[i];
			if (p[0] != (unsigned char)n || p[n - 1] != (unsigned char)(n >> 8))
				bad++;
			free(p);
		}
		size_t n = bench_log_range(&w->s.rng, min_size, max_size);
		unsigned char *p = malloc(n);
		if (BENCH_UNLIKELY(!p))
			bench_fail("large", "malloc returned NULL");
		if (fill) {
			memset(p, (int)(s & 0xff), n);
		} else {
			for (size_t off = 0; off < n; off += 4096)
				p[off] = (unsigned char)s;
		}
		p[0] = (unsigned char)n;
		p[n - 1] = (unsigned char)(n >> 8);
		w->blk[i] = p;
		w->len[i] = n;
		digest += n;
	}
	return bench_share_end(&w->s, w->blk, live, digest, bad);
}

int main(int argc, char **argv)
{
	uint64_t threads = 1, ops = 2000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "allocations in all" },
		{ "live", 0, BENCH_U64, &live, "live blocks per thread" },
		{ "min", 0, BENCH_U64, &min_size, "smallest request" },
		{ "max", 0, BENCH_U64, &max_size, "largest request" },
		{ "fill", 0, BENCH_U64, &fill, "1: write whole blocks, not one byte per page" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "Large allocations churned: 64 KiB - 32 MiB, every page written.",
		    opts);
	if (threads < 1 || threads > 4096 || live < 1 || min_size < 2 || min_size > max_size) {
		fprintf(stderr, "large: bad arguments\n");
		return 2;
	}
	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++) {
		w[i].blk = bench_map(live * sizeof *w[i].blk);
		w[i].len = bench_map(live * sizeof *w[i].len);
	}

	bench_run_checked("large", w, sizeof *w, threads, ops, seed, worker,
			  "a block was corrupted while live");
	return 0;
}

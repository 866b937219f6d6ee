/* aligned - aligned allocations churned.
 *
 * Each thread keeps a table of --live blocks; a step replaces a random one
 * with an aligned block: alignment 16 B - 4 KiB (log-uniform, so 16, 32,
 * 64, ... 4096 about equally often; 64 and 4096 are the common cases of
 * cache-line and page alignment) and size 8 B - 8 KiB (log-uniform), through
 * the three interfaces in the proportions programs use them:
 * posix_memalign 50 %, aligned_alloc 40 % (size rounded up to a multiple of
 * the alignment, as C11 asks), memalign 10 %. The block is checked for
 * alignment and written at both ends; misaligned blocks are counted and
 * reported (misaligned= in the result line, and on stderr).
 *
 * Fixed work: --ops allocations in all, split between the threads.
 */
#include "bench.h"

#include <malloc.h>

struct worker {
	struct bench_share s;	/* first: see bench_run_shares */
	void **blk;
	char pad[64];
};

static uint64_t live = 1000, max_align = 4096;

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t digest = 0, bad = 0;
	for (uint64_t s = 0; s < w->s.steps; s++) {
		uint64_t i = bench_below(&w->s.rng, live);
		free(w->blk[i]);
		size_t align = (size_t)1 << bench_range(&w->s.rng, 4, 63 - __builtin_clzll(max_align));
		size_t size = bench_log_range(&w->s.rng, 8, 8192);
		uint64_t how = bench_below(&w->s.rng, 10);
		void *p;
		if (how < 5) {
			if (posix_memalign(&p, align, size))
				p = NULL;
		} else if (how < 9) {
			size = (size + align - 1) & ~(align - 1);
			p = aligned_alloc(align, size);
		} else {
			p = memalign(align, size);
		}
		if (BENCH_UNLIKELY(!p))
			bench_fail("aligned", "an aligned allocation returned NULL");
		if ((uintptr_t)p & (align - 1))
			bad++;
		unsigned char *b = p;
		b[0] = (unsigned char)size;
		b[size - 1] = (unsigned char)align;
		w->blk[i] = b;
		digest += size * 31 + align;
	}
	return bench_share_end(&w->s, w->blk, live, digest, bad);
}

int main(int argc, char **argv)
{
	uint64_t threads = 1, ops = 2000000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "allocations in all" },
		{ "live", 0, BENCH_U64, &live, "live blocks per thread" },
		{ "max-align", 0, BENCH_U64, &max_align, "largest alignment (a power of two >= 16)" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "Aligned allocations: 16 B - 4 KiB alignment, 8 B - 8 KiB.", opts);
	if (threads < 1 || threads > 4096 || live < 1 || max_align < 16 ||
	    (max_align & (max_align - 1))) {
		fprintf(stderr, "aligned: bad arguments\n");
		return 2;
	}
	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++) {
		w[i].blk = bench_map(live * sizeof *w[i].blk);
	}

	uint64_t digest, bad;
	double t = bench_run_shares(w, sizeof *w, threads, ops, seed, worker, &digest, &bad);
	/* A misaligned block is the allocator's bug, reported but not fatal, so
	 * that the allocator's time is still measured (Debian 12's mimalloc
	 * 2.0.9 returns 128-byte aligned blocks for aligned_alloc(256, 256)). */
	char extra[48];
	snprintf(extra, sizeof extra, "misaligned=%" PRIu64, bad);
	if (bad)
		fprintf(stderr, "aligned: %" PRIu64 " blocks were not aligned as asked\n", bad);
	bench_result("aligned", threads, ops, t, digest, extra);
	return 0;
}

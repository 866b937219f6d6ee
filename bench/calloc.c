/* calloc - calloc-heavy churn.
 *
 * Each thread keeps a table of --live blocks; a step replaces a random one
 * with calloc(count, elem) of a random total size:
 *
 *     70 %  16 B - 1 KiB     25 %  1 - 64 KiB     5 %  64 - 512 KiB
 *
 * checks that a few words of the new block (first, last, one at random)
 * read as zero, and dirties it as a program would (its first 64 bytes and
 * one byte per 4 KiB page), so that an allocator reusing the block has to
 * clear it again. The blocks above 128 KiB exercise allocators that get
 * zeroed pages straight from the kernel.
 *
 * Fixed work: --ops callocs in all, split between the threads.
 */
#include "bench.h"

struct worker {
	struct bench_share s;	/* first: see bench_run_shares */
	void **blk;
	char pad[64];
};

static uint64_t live = 1000;

static inline size_t pick_size(uint64_t *r)
{
	uint64_t x = bench_below(r, 100);
	if (x < 70)
		return bench_log_range(r, 16, 1024);
	if (x < 95)
		return bench_log_range(r, 1025, 65536);
	return bench_log_range(r, 65537, 512 * 1024);
}

static inline uint64_t word_at(const unsigned char *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, sizeof v);
	return v;
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t digest = 0, bad = 0;
	for (uint64_t s = 0; s < w->s.steps; s++) {
		uint64_t i = bench_below(&w->s.rng, live);
		free(w->blk[i]);
		size_t size = pick_size(&w->s.rng);
		/* element sizes programs use: bytes, ints, pointers, structs */
		static const size_t elems[] = { 1, 4, 8, 16 };
		size_t elem = elems[bench_below(&w->s.rng, 4)];
		size_t count = (size + elem - 1) / elem;
		size = count * elem;
		unsigned char *p = calloc(count, elem);
		if (BENCH_UNLIKELY(!p))
			bench_fail("calloc", "calloc returned NULL");
		size_t mid = bench_below(&w->s.rng, size - 7);
		if (word_at(p, 0) | word_at(p, size - 8) | word_at(p, mid))
			bad++;
		memset(p, 0xa5, size < 64 ? size : 64);
		for (size_t off = 4096; off < size; off += 4096)
			p[off] = 0xa5;
		p[size - 1] = 0xa5;
		w->blk[i] = p;
		digest += size;
	}
	return bench_share_end(&w->s, w->blk, live, digest, bad);
}

int main(int argc, char **argv)
{
	uint64_t threads = 1, ops = 1000000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "callocs in all" },
		{ "live", 0, BENCH_U64, &live, "live blocks per thread" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "calloc-heavy churn: 16 B - 512 KiB, checked and dirtied.", opts);
	if (threads < 1 || threads > 4096 || live < 1) {
		fprintf(stderr, "calloc: bad arguments\n");
		return 2;
	}
	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++) {
		w[i].blk = bench_map(live * sizeof *w[i].blk);
	}

	bench_run_checked("calloc", w, sizeof *w, threads, ops, seed, worker,
			  "calloc returned memory that is not zero");
	return 0;
}

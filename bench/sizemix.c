/* sizemix - random sizes from 8 bytes to 64 KiB with a realistic lifetime
 * distribution, on one thread or many.
 *
 * Each thread repeats a step: allocate one block, then free the blocks
 * whose lifetime (counted in the thread's steps) has run out. Sizes are
 * drawn from a distribution skewed towards small blocks, as programs'
 * are:
 *
 *     45 %  8 - 64 B        25 %  65 - 256 B      15 %  257 B - 1 KiB
 *     10 %  1 - 8 KiB        4 %  8 - 32 KiB       1 %  32 - 64 KiB
 *
 * and lifetimes follow the usual "most objects die young" pattern:
 *
 *     50 %  0 - 15 steps (temporaries)         30 %  16 - 1,023 steps
 *     17 %  1,024 - 16,383 steps                3 %  16,384 - 262,143 steps
 *
 * (the long-lived ones die together at the start of a 16,384-step window,
 * the way a program's phase ends), so a thread's live set settles at about
 * 6,000 blocks (~10 MB). The block is used as a program would: its first
 * 64 bytes are written, and one byte in every 4 KiB page of it; the first
 * word links it into the list of blocks that die in the same step (a
 * timing wheel), so the benchmark's bookkeeping costs O(1) per block and no
 * memory besides the blocks. Whatever is still live at the end is freed
 * inside the timed phase.
 *
 * Fixed work: --ops steps in all, split between the threads (each thread
 * has its own blocks; cross-thread frees are larson's and prodcons' job).
 */
#include "bench.h"

#define NEAR_BITS 14			/* wheel of 16,384 single steps */
#define NEAR (1u << NEAR_BITS)
#define FAR_BITS 4			/* then 16 windows of 16,384 steps */
#define FAR (1u << FAR_BITS)

/* A live block: its first word links it into a list of blocks dying
 * together; blocks of 16 bytes or more also hold their size, and their
 * last byte is the size's low byte (checked when they die). Links are
 * tagged with bit 0 set for blocks under 16 bytes, which have no size. */
struct block {
	uintptr_t next;
	uint32_t size;
};

struct worker {
	struct bench_share s;	/* first: see bench_run_shares */
	uintptr_t *near;	/* blocks dying at step s: near[s % NEAR] */
	uintptr_t *far;		/* long-lived blocks dying when window w starts: far[w % FAR] */
	char pad[64];
};

static inline size_t pick_size(uint64_t *r)
{
	uint64_t x = bench_below(r, 100);
	if (x < 45)
		return bench_range(r, 8, 64);
	if (x < 70)
		return bench_range(r, 65, 256);
	if (x < 85)
		return bench_range(r, 257, 1024);
	if (x < 95)
		return bench_range(r, 1025, 8192);
	if (x < 99)
		return bench_range(r, 8193, 32768);
	return bench_range(r, 32769, 65536);
}

static inline uint64_t pick_life(uint64_t *r)
{
	uint64_t x = bench_below(r, 100);
	if (x < 50)
		return bench_below(r, 16);
	if (x < 80)
		return bench_range(r, 16, 1023);
	if (x < 97)
		return bench_range(r, 1024, NEAR - 1);
	return bench_range(r, NEAR, (uint64_t)NEAR * FAR - 1);
}

/* Use the block as a program would: write its head, one byte in every
 * page, and its last byte. */
static inline uintptr_t use_block(unsigned char *p, size_t size)
{
	memset(p, (int)(size & 0xff), size < 64 ? size : 64);
	for (size_t off = 4096; off < size; off += 4096)
		p[off] = 1;
	p[size - 1] = (unsigned char)size;
	if (size < 16)
		return (uintptr_t)p | 1;
	((struct block *)p)->size = (uint32_t)size;
	return (uintptr_t)p;
}

static inline void push(uintptr_t *list, uintptr_t link)
{
	((struct block *)(link & ~(uintptr_t)1))->next = *list;
	*list = link;
}

static inline void kill_list(struct worker *w, uintptr_t link)
{
	while (link) {
		struct block *b = (struct block *)(link & ~(uintptr_t)1);
		uintptr_t next = b->next;
		if (!(link & 1)) {
			uint32_t size = b->size;
			if (BENCH_UNLIKELY(size < 16 || size > 65536 ||
					   ((unsigned char *)b)[size - 1] != (unsigned char)size))
				w->s.bad++;
		}
		free(b);
		link = next;
	}
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t digest = 0;
	for (uint64_t s = 0; s < w->s.steps; s++) {
		/* A new window: the long-lived blocks due in it die now. */
		if ((s & (NEAR - 1)) == 0) {
			uintptr_t *slot = &w->far[(s >> NEAR_BITS) % FAR];
			kill_list(w, *slot);
			*slot = 0;
		}
		size_t size = pick_size(&w->s.rng);
		uint64_t life = pick_life(&w->s.rng);
		unsigned char *p = malloc(size);
		if (BENCH_UNLIKELY(!p))
			bench_fail("sizemix", "malloc returned NULL");
		uintptr_t link = use_block(p, size);
		digest += size * 131 + life;
		uint64_t die = s + 1 + life;
		if (life < NEAR)
			push(&w->near[die % NEAR], link);
		else
			push(&w->far[(die >> NEAR_BITS) % FAR], link);
		uintptr_t *slot = &w->near[s % NEAR];
		kill_list(w, *slot);
		*slot = 0;
	}
	for (uint32_t i = 0; i < NEAR; i++)
		kill_list(w, w->near[i]);
	for (uint32_t i = 0; i < FAR; i++)
		kill_list(w, w->far[i]);
	w->s.digest = digest;
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t threads = 1, ops = 4000000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "steps (allocations) in all" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv,
		    "Size mix: 8 B - 64 KiB, most blocks small and short-lived, some long-lived.",
		    opts);
	if (threads < 1 || threads > 4096) {
		fprintf(stderr, "sizemix: bad arguments\n");
		return 2;
	}
	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++) {
		w[i].near = bench_map(NEAR * sizeof *w[i].near);
		w[i].far = bench_map(FAR * sizeof *w[i].far);
	}

	bench_run_checked("sizemix", w, sizeof *w, threads, ops, seed, worker,
			  "a block was corrupted while live");
	return 0;
}

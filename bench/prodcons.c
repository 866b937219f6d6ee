/* prodcons - producer/consumer: every block is freed by another thread.
 *
 * T threads (T even) form T/2 pairs. A producer allocates blocks of random
 * size in [min, max], writes a tag into each and hands them to its
 * consumer in batches through a bounded single-producer/single-consumer
 * ring; the consumer checks the tag and frees the block. Only the producer
 * allocates and only the consumer frees, so every free is a cross-thread
 * free, and the ring bounds the blocks in flight, so that memory beyond
 * them is the allocator's (blowup shows up in peak RSS).
 *
 * ops counts blocks (each one malloc and one free); fixed work: --ops
 * blocks in all, split evenly between the producers.
 */
#include "bench.h"

#include <sched.h>
#include <stdatomic.h>

struct slot {
	uint32_t count;
	void **blk;
};

/* Producer-side and consumer-side fields on separate cache lines, so that
 * the benchmark itself shares only the two ring indices. */
struct pair {
	_Alignas(64) _Atomic uint64_t head;	/* batches published by the producer */
	_Alignas(64) _Atomic uint64_t tail;	/* batches freed by the consumer */
	_Alignas(64) struct slot *ring;		/* read-only after set-up */
	uint64_t blocks;	/* to produce */
	_Alignas(64) uint64_t rng;	/* producer: its size stream */
	uint64_t digest;	/* producer: sum of sizes */
	_Alignas(64) uint64_t crng;	/* consumer: the same stream, replayed */
	uint64_t seen;		/* consumer: sum of sizes checked */
	uint64_t bad;
	char pad[64];
};

struct role {
	struct pair *pair;
	bool consumer;
};

static uint64_t min_size = 8, max_size = 512, batch = 256, depth = 8;

static inline void wait_a_little(unsigned *spins)
{
	if (++*spins < 64)
		__builtin_ia32_pause();
	else
		sched_yield();
}

static void *producer(void *arg)
{
	struct pair *p = arg;
	uint64_t left = p->blocks;
	uint64_t head = 0;
	while (left) {
		unsigned spins = 0;
		while (head - atomic_load_explicit(&p->tail, memory_order_acquire) >= depth)
			wait_a_little(&spins);
		struct slot *s = &p->ring[head % depth];
		uint32_t n = (uint32_t)(left < batch ? left : batch);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t len = bench_range(&p->rng, min_size, max_size);
			unsigned char *b = malloc(len);
			if (BENCH_UNLIKELY(!b))
				bench_fail("prodcons", "malloc returned NULL");
			memcpy(b, &len, 8);	/* the tag: the consumer replays the sizes */
			if (len > 8)
				b[len - 1] = 0x5a;
			s->blk[i] = b;
			p->digest += len;
		}
		s->count = n;
		left -= n;
		atomic_store_explicit(&p->head, ++head, memory_order_release);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *p = arg;
	uint64_t tail = 0, want = (p->blocks + batch - 1) / batch;
	while (tail < want) {
		unsigned spins = 0;
		while (atomic_load_explicit(&p->head, memory_order_acquire) == tail)
			wait_a_little(&spins);
		struct slot *s = &p->ring[tail % depth];
		for (uint32_t i = 0; i < s->count; i++) {
			unsigned char *b = s->blk[i];
			uint64_t tag, len = bench_range(&p->crng, min_size, max_size);
			memcpy(&tag, b, 8);
			if (BENCH_UNLIKELY(tag != len || (len > 8 && b[len - 1] != 0x5a)))
				p->bad++;
			p->seen += len;
			free(b);
		}
		atomic_store_explicit(&p->tail, ++tail, memory_order_release);
	}
	return NULL;
}

static void *run(void *arg)
{
	struct role *r = arg;
	return r->consumer ? consumer(r->pair) : producer(r->pair);
}

int main(int argc, char **argv)
{
	uint64_t threads = 2, ops = 10000000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads: T/2 producers, T/2 consumers" },
		{ "ops", 'n', BENCH_U64, &ops, "blocks in all" },
		{ "min", 0, BENCH_U64, &min_size, "smallest request" },
		{ "max", 0, BENCH_U64, &max_size, "largest request" },
		{ "batch", 0, BENCH_U64, &batch, "blocks per hand-over" },
		{ "depth", 0, BENCH_U64, &depth, "batches in flight per pair" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv,
		    "Producer/consumer: producers allocate, consumers free (cross-thread only).",
		    opts);
	if (threads < 2 || threads % 2 || threads > 4096 || min_size < 8 || min_size > max_size ||
	    batch < 1 || batch > UINT32_MAX || depth < 1) {
		fprintf(stderr, "prodcons: bad arguments (threads must be even and >= 2, min >= 8)\n");
		return 2;
	}
	uint64_t pairs = threads / 2;
	struct pair *pr = bench_map(pairs * sizeof *pr);
	for (uint64_t i = 0; i < pairs; i++) {
		pr[i].ring = bench_map(depth * sizeof *pr[i].ring);
		for (uint64_t k = 0; k < depth; k++)
			pr[i].ring[k].blk = bench_map(batch * sizeof(void *));
		pr[i].blocks = ops / pairs + (i < ops % pairs);
		pr[i].rng = pr[i].crng = bench_seed(seed, i);
	}
	struct role *args = bench_map(threads * sizeof *args);
	for (uint64_t i = 0; i < pairs; i++) {
		args[2 * i] = (struct role){ &pr[i], false };
		args[2 * i + 1] = (struct role){ &pr[i], true };
	}

	double t0 = bench_now();
	bench_run_threads(threads, run, args, sizeof *args);
	double t = bench_now() - t0;

	uint64_t digest = 0, seen = 0, bad = 0;
	for (uint64_t i = 0; i < pairs; i++) {
		digest += pr[i].digest;
		seen += pr[i].seen;
		bad += pr[i].bad;
	}
	if (bad || seen != digest)
		bench_fail("prodcons", "a consumer found a corrupt block");
	char extra[64];
	snprintf(extra, sizeof extra, "pairs=%" PRIu64, pairs);
	bench_result("prodcons", threads, ops, t, bench_mix(seed, digest), extra);
	return 0;
}

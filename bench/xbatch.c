/* xbatch - cross-thread batches: every block is freed by another thread.
 *
 * T threads (T >= 2), R rounds. Every round each thread allocates a batch
 * of B blocks of mixed sizes and hands it to another thread, which frees
 * it: round r's batch of thread i goes to thread (i + 1 + r % (T - 1)) % T,
 * so that every thread receives one batch per round, from each of the
 * others in turn. After handing a batch over, a thread frees the batches
 * that have reached it. Nothing is freed by the thread that allocated it,
 * and whole batches of memory move between threads, as in the
 * cross-thread stress tests of other allocators.
 *
 * Sizes: 7 blocks in 8 are uniform in [min, small] with small = 32 x min
 * (16-512 bytes by default), the others log-uniform in (small, max] (up to
 * 64 KiB by default): mostly small blocks, and most of the bytes in large
 * ones. The producer writes a word at the start of each block, a byte in
 * every further 4 KiB page and its last byte; the consumer checks the
 * first and last before freeing it.
 *
 * A thread has at most --depth batches of its own in flight: before
 * reusing its oldest one it waits until the receiver has freed it, and
 * while it waits it frees the batches that reach it (so waits cannot form
 * a cycle). The batch queues (one per thread, a mutex and a condition
 * variable) and the batches' pointer arrays are the benchmark's own
 * memory (mmap), so the allocator under test sees only the blocks.
 *
 * ops counts blocks (each one malloc and one cross-thread free); fixed
 * work: --ops blocks in all, in rounds of T x B blocks (rounded down, at
 * least one round). check is a digest of the sizes each thread allocated,
 * in order, the same under every allocator.
 */
#include "bench.h"

struct batch {
	void **blk;		/* the blocks; B pointers */
	uint32_t count;
	uint32_t owner;		/* the thread that allocated it */
	bool in_flight;		/* under the owner's lock */
};

struct worker {
	/* Shared: under lock. */
	_Alignas(64) pthread_mutex_t lock;
	pthread_cond_t cond;
	struct batch **inbox;	/* ring of batches to free */
	uint64_t head, tail;	/* pushed, popped */
	/* The thread's own. */
	_Alignas(64) uint64_t id;
	uint64_t rng;
	uint64_t digest;	/* of the sizes allocated, in order */
	uint64_t bytes_out;	/* bytes allocated */
	uint64_t bytes_in;	/* bytes freed */
	uint64_t received;	/* batches freed */
	uint64_t bad;
	struct batch *own;	/* depth batches */
	char pad[64];
};

static uint64_t threads = 4, rounds, batch_len = 256, depth = 4;
static uint64_t min_size = 16, max_size = 65536, small_max;
static uint64_t inbox_cap;
static struct worker *workers;

static inline uint64_t pick_size(uint64_t *rng)
{
	if (small_max >= max_size || bench_below(rng, 8))
		return bench_range(rng, min_size, small_max);
	return bench_log_range(rng, small_max + 1, max_size);
}

static inline void *produce(uint64_t len)
{
	unsigned char *p = malloc(len);
	if (BENCH_UNLIKELY(!p))
		bench_fail("xbatch", "malloc returned NULL");
	memcpy(p, &len, 8);
	for (uint64_t off = 4096; off < len; off += 4096)
		p[off] = (unsigned char)off;
	p[len - 1] = (unsigned char)(len ^ 0x5a);
	return p;
}

/* Free a batch that reached w and give it back to its owner. */
static void consume(struct worker *w, struct batch *b)
{
	for (uint32_t k = 0; k < b->count; k++) {
		unsigned char *p = b->blk[k];
		uint64_t len;
		memcpy(&len, p, 8);
		if (BENCH_UNLIKELY(len < min_size || len > max_size ||
				   p[len - 1] != (unsigned char)(len ^ 0x5a)))
			w->bad++;
		else
			w->bytes_in += len;
		free(p);
	}
	w->received++;
	struct worker *o = &workers[b->owner];
	pthread_mutex_lock(&o->lock);
	b->in_flight = false;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

/* Under w->lock: the next batch of the inbox, or NULL. */
static struct batch *pop(struct worker *w)
{
	if (w->tail == w->head)
		return NULL;
	return w->inbox[w->tail++ % inbox_cap];
}

/* Free whatever has reached w. */
static void drain(struct worker *w)
{
	for (;;) {
		pthread_mutex_lock(&w->lock);
		struct batch *b = pop(w);
		pthread_mutex_unlock(&w->lock);
		if (!b)
			return;
		consume(w, b);
	}
}

/* Wait until *cond (read under w->lock) holds, freeing what reaches w
 * meanwhile; cond is NULL: until w has received every batch meant for it. */
static void wait_for(struct worker *w, const bool *busy)
{
	pthread_mutex_lock(&w->lock);
	while (busy ? *busy : w->received < rounds) {
		struct batch *b = pop(w);
		if (b) {
			pthread_mutex_unlock(&w->lock);
			consume(w, b);
			pthread_mutex_lock(&w->lock);
		} else {
			pthread_cond_wait(&w->cond, &w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	for (uint64_t r = 0; r < rounds; r++) {
		struct batch *b = &w->own[r % depth];
		wait_for(w, &b->in_flight);
		for (uint64_t k = 0; k < batch_len; k++) {
			uint64_t len = pick_size(&w->rng);
			b->blk[k] = produce(len);
			w->digest = bench_mix(w->digest, len);
			w->bytes_out += len;
		}
		b->count = (uint32_t)batch_len;
		b->in_flight = true;	/* no other thread sees b until it is pushed */
		struct worker *to = &workers[(w->id + 1 + r % (threads - 1)) % threads];
		pthread_mutex_lock(&to->lock);
		to->inbox[to->head++ % inbox_cap] = b;
		pthread_cond_signal(&to->cond);
		pthread_mutex_unlock(&to->lock);
		drain(w);
	}
	wait_for(w, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t ops = 2000000, seed = 1;
	const struct bench_opt opts[] = {
		{ "threads", 't', BENCH_U64, &threads, "threads (at least 2)" },
		{ "ops", 0, BENCH_U64, &ops, "blocks in all (rounds of threads x batch blocks)" },
		{ "batch", 'b', BENCH_U64, &batch_len, "blocks per batch" },
		{ "depth", 0, BENCH_U64, &depth, "batches in flight per thread" },
		{ "min", 0, BENCH_U64, &min_size, "smallest block (at least 8)" },
		{ "max", 0, BENCH_U64, &max_size, "largest block" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv,
		    "Cross-thread batches: every round each thread allocates a batch of\n"
		    "mixed sizes and hands it to another thread, which frees it.",
		    opts);
	if (threads < 2 || threads > 1024 || batch_len < 1 || batch_len > UINT32_MAX ||
	    depth < 1 || depth > 1024 || min_size < 8 || min_size > max_size ||
	    max_size > ((uint64_t)1 << 40)) {
		fprintf(stderr, "xbatch: bad arguments (see --help)\n");
		return 2;
	}
	small_max = min_size * 32 < max_size ? min_size * 32 : max_size;
	rounds = ops / (threads * batch_len);
	if (rounds < 1)
		rounds = 1;
	/* A thread receives at most depth batches from each other thread. */
	inbox_cap = depth * threads;

	workers = bench_map(threads * sizeof *workers);
	for (uint64_t i = 0; i < threads; i++) {
		struct worker *w = &workers[i];
		pthread_mutex_init(&w->lock, NULL);
		pthread_cond_init(&w->cond, NULL);
		w->inbox = bench_map(inbox_cap * sizeof *w->inbox);
		w->id = i;
		w->rng = bench_seed(seed, i);
		w->own = bench_map(depth * sizeof *w->own);
		for (uint64_t k = 0; k < depth; k++) {
			w->own[k].blk = bench_map(batch_len * sizeof *w->own[k].blk);
			w->own[k].owner = (uint32_t)i;
		}
	}

	double t0 = bench_now();
	bench_run_threads(threads, run, workers, sizeof *workers);
	double t = bench_now() - t0;

	uint64_t digest = 0, bad = 0, out = 0, in = 0;
	for (uint64_t i = 0; i < threads; i++) {
		digest += bench_mix(i, workers[i].digest);
		bad += workers[i].bad;
		out += workers[i].bytes_out;
		in += workers[i].bytes_in;
	}
	if (bad)
		bench_fail("xbatch", "a block was corrupted while it was handed over");
	if (in != out)
		bench_fail("xbatch", "the blocks freed are not the blocks allocated");
	char extra[96];
	snprintf(extra, sizeof extra, "rounds=%" PRIu64 " mib=%.1f", rounds,
		 (double)out / (1024.0 * 1024.0));
	bench_result("xbatch", threads, rounds * threads * batch_len, t, digest, extra);
	return 0;
}

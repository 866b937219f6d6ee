/* realloc - growing blocks with realloc, the two ways programs do it.
 *
 *   --mode string: strings built by appending. --live strings grow side by
 *       side; each step appends 1-32 bytes to a random one with
 *       realloc(s, len + add + 1) (exactly the size needed, as much C code
 *       does). A string that reaches its target length (log-uniform,
 *       64 B - 64 KiB) is checked, freed and replaced by an empty one.
 *       ops counts appends.
 *   --mode vector: vectors doubling their capacity. --live vectors of 8-byte
 *       elements; each step grows a random one to twice its capacity with
 *       realloc and fills the new half. A vector whose capacity reaches
 *       its target (log-uniform, 16 B - 8 MiB) is checked, freed and
 *       replaced by an empty one. ops counts reallocs.
 *
 * The contents are checked as they are freed, so a realloc that loses data
 * fails the run. Threads (-t) each run the same on their own data.
 */
#include "bench.h"

struct item {
	unsigned char *p;
	size_t len;		/* string: bytes used; vector: capacity in bytes */
	size_t target;
	uint64_t sum;		/* string: sum of bytes appended */
};

struct worker {
	struct bench_share s;	/* first: see bench_run_shares */
	struct item *items;
	char pad[64];
};

static uint64_t live = 64;
static bool vector_mode;

static uint64_t sum_bytes(const unsigned char *p, size_t n)
{
	uint64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += p[i];
	return s;
}

static void string_step(struct worker *w, struct item *it)
{
	size_t add = (size_t)bench_range(&w->s.rng, 1, 32);
	unsigned char *p = realloc(it->p, it->len + add + 1);
	if (BENCH_UNLIKELY(!p))
		bench_fail("realloc", "realloc returned NULL");
	unsigned char c = (unsigned char)('a' + it->len % 26);
	memset(p + it->len, c, add);
	p[it->len + add] = 0;
	it->p = p;
	it->len += add;
	it->sum += (uint64_t)c * add;
	if (it->len >= it->target) {
		if (sum_bytes(p, it->len) != it->sum || p[it->len] != 0)
			w->s.bad++;
		w->s.digest += it->len;
		free(p);
		it->p = NULL;
		it->len = 0;
		it->sum = 0;
		it->target = bench_log_range(&w->s.rng, 64, 65536);
	}
}

/* Element i of a vector holds i * 0x9E3779B97F4A7C15 (checked sparsely). */
static void vector_step(struct worker *w, struct item *it)
{
	size_t old = it->len, cap = old ? old * 2 : 16;
	uint64_t *v = realloc(it->p, cap);
	if (BENCH_UNLIKELY(!v))
		bench_fail("realloc", "realloc returned NULL");
	for (size_t i = old / 8; i < cap / 8; i++)
		v[i] = i * 0x9E3779B97F4A7C15ull;
	it->p = (unsigned char *)v;
	it->len = cap;
	if (cap >= it->target) {
		for (size_t i = 0; i < cap / 8; i += 1 + i / 4)
			if (v[i] != i * 0x9E3779B97F4A7C15ull)
				w->s.bad++;
		w->s.digest += cap;
		free(v);
		it->p = NULL;
		it->len = 0;
		it->target = bench_log_range(&w->s.rng, 16, 8u << 20);
	}
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	for (uint64_t i = 0; i < live; i++)
		w->items[i].target = vector_mode ? bench_log_range(&w->s.rng, 16, 8u << 20)
						 : bench_log_range(&w->s.rng, 64, 65536);
	for (uint64_t s = 0; s < w->s.steps; s++) {
		struct item *it = &w->items[bench_below(&w->s.rng, live)];
		if (vector_mode)
			vector_step(w, it);
		else
			string_step(w, it);
	}
	for (uint64_t i = 0; i < live; i++)
		free(w->items[i].p);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t threads = 1, ops = 2000000, seed = 1;
	const char *mode = "string";
	const struct bench_opt opts[] = {
		{ "mode", 'm', BENCH_STR, &mode, "string or vector" },
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "appends (string) or reallocs (vector) in all" },
		{ "live", 0, BENCH_U64, &live, "strings or vectors growing at once, per thread" },
		{ "seed", 0, BENCH_U64, &seed, "random seed" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "realloc growth: appended strings, doubling vectors.", opts);
	if (!strcmp(mode, "string"))
		vector_mode = false;
	else if (!strcmp(mode, "vector"))
		vector_mode = true;
	else {
		fprintf(stderr, "realloc: --mode is string or vector\n");
		return 2;
	}
	if (threads < 1 || threads > 4096 || live < 1) {
		fprintf(stderr, "realloc: bad arguments\n");
		return 2;
	}
	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++) {
		w[i].items = bench_map(live * sizeof *w[i].items);
	}

	uint64_t digest, bad;
	double t = bench_run_shares(w, sizeof *w, threads, ops, seed, worker, &digest, &bad);
	if (bad)
		bench_fail("realloc", "realloc lost data");
	char extra[32];
	snprintf(extra, sizeof extra, "mode=%s", mode);
	bench_result("realloc", threads, ops, t, digest, extra);
	return 0;
}

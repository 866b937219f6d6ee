/* tightloop - the allocator's fast paths, one thread.
 *
 *   --mode pair:   n times { p = malloc(size); free(p); }
 *   --mode batch:  n/100 times { 100 mallocs; the 100 frees, oldest first }
 *
 * Nothing else happens in the loop: no random numbers, no writes into the
 * blocks (an empty asm statement keeps the compiler from deleting the
 * pairs). ops counts malloc+free pairs.
 *
 * --empty runs the same loops with the calls replaced by a pointer to a
 * static object, so that bench/run can subtract the loop's own instructions
 * when it counts instructions per pair under callgrind.
 */
#include "bench.h"

#define BATCH 100

static char dummy[64];

/* noinline: the loops below must look the same with and without --empty,
 * apart from the two calls. */
static __attribute__((noinline)) uint64_t run_pair(uint64_t n, size_t size, bool empty)
{
	uint64_t check = 0;
	if (empty) {
		for (uint64_t i = 0; i < n; i++) {
			void *p = dummy;
			BENCH_OPAQUE(p);
			check += p == NULL;
		}
		return check;
	}
	for (uint64_t i = 0; i < n; i++) {
		void *p = malloc(size);
		BENCH_ESCAPE(p);
		check += p == NULL;
		free(p);
	}
	return check;
}

static __attribute__((noinline)) uint64_t run_batch(uint64_t n, size_t size, bool empty)
{
	void *p[BATCH];
	uint64_t check = 0;
	for (uint64_t r = 0; r < n / BATCH; r++) {
		if (empty) {
			for (int i = 0; i < BATCH; i++) {
				void *q = dummy;
				BENCH_OPAQUE(q);
				p[i] = q;
				check += q == NULL;
			}
			for (int i = 0; i < BATCH; i++)
				BENCH_ESCAPE(p[i]);
			continue;
		}
		for (int i = 0; i < BATCH; i++) {
			p[i] = malloc(size);
			BENCH_ESCAPE(p[i]);
			check += p[i] == NULL;
		}
		for (int i = 0; i < BATCH; i++)
			free(p[i]);
	}
	return check;
}

int main(int argc, char **argv)
{
	uint64_t n = 20000000, size = 64, empty = 0, warmup = 1000;
	const char *mode = "pair";
	const struct bench_opt opts[] = {
		{ "mode", 'm', BENCH_STR, &mode, "pair or batch" },
		{ "ops", 'n', BENCH_U64, &n, "malloc+free pairs" },
		{ "size", 's', BENCH_U64, &size, "request size in bytes" },
		{ "empty", 0, BENCH_U64, &empty, "1: loop without malloc/free (calibration)" },
		{ "warmup", 0, BENCH_U64, &warmup, "untimed pairs first" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "One thread, malloc/free of one size: pairs or batches of 100.", opts);

	bool batch;
	if (!strcmp(mode, "pair"))
		batch = false;
	else if (!strcmp(mode, "batch"))
		batch = true;
	else {
		fprintf(stderr, "tightloop: --mode is pair or batch\n");
		return 2;
	}
	if (batch) {
		n -= n % BATCH;
		warmup += BATCH - warmup % BATCH;
	}

	/* Warm up: the first call sets up the thread's heap in most allocators. */
	uint64_t failed = batch ? run_batch(warmup, size, empty) : run_pair(warmup, size, empty);
	double t0 = bench_now();
	failed += batch ? run_batch(n, size, empty) : run_pair(n, size, empty);
	double t = bench_now() - t0;
	if (failed && !empty)
		bench_fail("tightloop", "malloc returned NULL");

	char extra[96];
	snprintf(extra, sizeof extra, "mode=%s size=%" PRIu64 " ns_per_pair=%.2f", mode, size,
		 n ? t * 1e9 / (double)n : 0.0);
	bench_result("tightloop", 1, n, t, bench_mix(bench_mix(0, n), size), extra);
	return 0;
}

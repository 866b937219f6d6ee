/* false_sharing - small objects written hard by different threads.
 *
 * Each thread repeats: allocate an object of --size bytes, write every byte
 * of it --writes times, free it. If the allocator gives objects on the same
 * cache line to threads running on different cores, the writes bounce the
 * line between the cores and the run slows down by an order of magnitude.
 *
 *   --mode active:  the threads allocate their objects concurrently; an
 *                   allocator that hands neighbouring blocks to different
 *                   threads causes the sharing itself.
 *   --mode passive: the main thread allocates one object per thread, one
 *                   right after the other (so they are likely neighbours),
 *                   and hands them out; each thread writes its object, frees
 *                   it (a cross-thread free) and goes on as above. An
 *                   allocator that gives a freed block to the freeing
 *                   thread hands out the neighbours of the other threads'
 *                   objects.
 *
 * Fixed work: --ops objects in all, split between the threads. ops counts
 * objects (malloc/free pairs), each written size * writes times.
 */
#include "bench.h"

struct worker {
	unsigned char *first;	/* passive mode: the object from the main thread */
	uint64_t objects;
	uint64_t sum;
	char pad[64];
};

static uint64_t size = 8, writes = 500;

static void hammer(volatile unsigned char *p)
{
	for (uint64_t w = 0; w < writes; w++)
		for (uint64_t k = 0; k < size; k++)
			p[k] = (unsigned char)(p[k] + 1);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	uint64_t sum = 0;
	if (w->first) {
		hammer(w->first);
		sum += w->first[0];
		free(w->first);
	}
	for (uint64_t i = 0; i < w->objects; i++) {
		unsigned char *p = malloc(size);
		if (BENCH_UNLIKELY(!p))
			bench_fail("false_sharing", "malloc returned NULL");
		memset(p, 0, size);
		hammer(p);
		sum += p[size - 1];
		free(p);
	}
	w->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t threads = 2, ops = 200000;
	const char *mode = "active";
	const struct bench_opt opts[] = {
		{ "mode", 'm', BENCH_STR, &mode, "active or passive" },
		{ "threads", 't', BENCH_U64, &threads, "threads" },
		{ "ops", 'n', BENCH_U64, &ops, "objects in all" },
		{ "size", 's', BENCH_U64, &size, "object size in bytes" },
		{ "writes", 'w', BENCH_U64, &writes, "times each byte of an object is written" },
		{ NULL, 0, 0, NULL, NULL },
	};
	bench_parse(argc, argv, "False sharing: threads write hard into small objects.", opts);
	bool passive;
	if (!strcmp(mode, "active"))
		passive = false;
	else if (!strcmp(mode, "passive"))
		passive = true;
	else {
		fprintf(stderr, "false_sharing: --mode is active or passive\n");
		return 2;
	}
	if (threads < 1 || threads > 4096 || size < 1) {
		fprintf(stderr, "false_sharing: bad arguments\n");
		return 2;
	}

	struct worker *w = bench_map(threads * sizeof *w);
	for (uint64_t i = 0; i < threads; i++)
		w[i].objects = ops / threads + (i < ops % threads);

	double t0 = bench_now();
	if (passive) {
		for (uint64_t i = 0; i < threads; i++) {
			w[i].first = malloc(size);
			if (!w[i].first)
				bench_fail("false_sharing", "malloc returned NULL");
			memset(w[i].first, 0, size);
		}
	}
	bench_run_threads(threads, worker, w, sizeof *w);
	double t = bench_now() - t0;

	uint64_t sum = 0;
	for (uint64_t i = 0; i < threads; i++)
		sum += w[i].sum;
	/* Every object ends with each byte written `writes` times from 0. */
	uint64_t want = (ops + (passive ? threads : 0)) * (writes & 0xff);
	if (sum != want)
		bench_fail("false_sharing", "an object was written by two threads");
	char extra[64];
	snprintf(extra, sizeof extra, "mode=%s size=%" PRIu64, mode, size);
	bench_result("false_sharing", threads, ops, t, bench_mix(sum, size * writes), extra);
	return 0;
}

/* Memory freed from another thread goes back to the OS.
 *
 * A producer thread allocates 64 MiB of small blocks and hands them to a
 * consumer thread, which frees them all (every free is cross-thread) while
 * the producer stays alive. The producer then allocates once from a size
 * class it never used, which runs its slow path and so processes what the
 * consumer's frees delivered. Every SuperSlab the blocks needed must then
 * be released: this fails if a remote free is not counted when drained
 * (the accounting bug behind the original Larson out-of-memory failure). */
#include "../lib/check.h"

#include <pthread.h>

#define BLOCK 256

static void **blocks;
static size_t nblocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stage;	/* 1: blocks ready, 2: consumer freed them, 3: done */

static void wait_stage(int s)
{
	pthread_mutex_lock(&lock);
	while (stage < s)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
}

static void set_stage(int s)
{
	pthread_mutex_lock(&lock);
	stage = s;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

static void *producer(void *arg)
{
	(void)arg;
	size_t bad = 0;
	for (size_t i = 0; i < nblocks; i++) {
		blocks[i] = malloc(BLOCK);
		if (!blocks[i]) {
			bad++;
			continue;
		}
		hk_fill(blocks[i], BLOCK, i);
	}
	CHECK(bad == 0, "producer allocated %zu blocks of %d bytes", nblocks, BLOCK);
	set_stage(1);
	wait_stage(2);
	/* A class this thread has not used: its first block comes from the
	 * slow path, which takes in the frees delivered to this thread. */
	void *p = malloc(3000);
	CHECK(p != NULL, "producer allocates again after the remote frees");
	free(p);
	/* The emptied slabs are kept for the decay time, then given back
	 * on a slow path of this thread. */
	hk_settle();
	set_stage(3);
	wait_stage(4);
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	wait_stage(1);
	long corrupt = 0;
	for (size_t i = 0; i < nblocks; i++) {
		if (blocks[i] && hk_verify(blocks[i], BLOCK, i) >= 0)
			corrupt++;
		free(blocks[i]);
	}
	CHECK(corrupt == 0, "consumer found every block intact");
	set_stage(2);
	return NULL;
}

int main(void)
{
	size_t bytes = (size_t)hk_scale(64, 8) << 20;
	nblocks = bytes / BLOCK;
	blocks = calloc(nblocks, sizeof *blocks);
	CHECK(blocks != NULL, "block table allocated");
	if (!blocks)
		return hk_done();

	uint64_t live0 = hk_stat_req("stats.superslabs.live");
	uint64_t remote0 = hk_stat_req("stats.frees.remote");
	pthread_t pt, ct;
	pthread_create(&pt, NULL, producer, NULL);
	pthread_create(&ct, NULL, consumer, NULL);
	wait_stage(1);
	uint64_t live_full = hk_stat_req("stats.superslabs.live");
	wait_stage(3);
	uint64_t live_after = hk_stat_req("stats.superslabs.live");
	uint64_t remote = hk_stat_req("stats.frees.remote") - remote0;
	hk_note("superslabs live: %llu before, %llu with %zu MiB allocated, %llu after the remote frees",
		(unsigned long long)live0, (unsigned long long)live_full, bytes >> 20,
		(unsigned long long)live_after);

	CHECK(live_full >= live0 + bytes / (4u << 20),
	      "SuperSlabs were created for the blocks (%llu -> %llu)",
	      (unsigned long long)live0, (unsigned long long)live_full);
	CHECK(remote >= nblocks, "every free was counted as remote (%llu of %zu)",
	      (unsigned long long)remote, nblocks);
	/* The producer keeps one current slab per class it used, the consumer
	 * none, and the pool keeps a small reserve of empty SuperSlabs. */
	CHECK(live_after <= live0 + 4,
	      "SuperSlabs went back to the OS while the producer lives (%llu left, %llu before)",
	      (unsigned long long)live_after, (unsigned long long)live0);

	set_stage(4);
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	free(blocks);
	return hk_done();
}

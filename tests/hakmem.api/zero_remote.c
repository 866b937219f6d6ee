/* Blocks of 32 to 64 bytes freed by another thread are zeroed like those
 * their own thread frees (option zero_on_free_max, 64 by default): the
 * main thread fills blocks, a second thread frees them (each free a
 * remote one, into a slab of a thread that is still running), and the
 * main thread then allocates the same size until it has had the blocks
 * back; past the first 16 bytes (the free list's link and key) each must
 * read as zero. Checks the cross-thread free path (tcache.c,
 * free_remote), which does the zeroing itself; under memcheck every free
 * takes the general slow path. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <pthread.h>

enum { N = 256, TRIES = 20 * N };

struct batch {
	char *blk[N];
};

static void *free_all(void *arg)
{
	struct batch *b = arg;
	for (int i = 0; i < N; i++)
		free(b->blk[i]);
	return NULL;
}

static bool was_freed(const struct batch *b, const char *q)
{
	for (int i = 0; i < N; i++)
		if (b->blk[i] == q)
			return true;
	return false;
}

static void one_size(size_t size)
{
	static struct batch b;
	static char *again[TRIES];
	for (int i = 0; i < N; i++) {
		b.blk[i] = hk_launder(malloc(size));
		if (!b.blk[i]) {
			CHECK(false, "malloc(%zu) for the batch", size);
			return;
		}
		memset(b.blk[i], 0xab, size);
	}
	pthread_t t;
	if (pthread_create(&t, NULL, free_all, &b) != 0) {
		CHECK(false, "pthread_create");
		return;
	}
	pthread_join(t, NULL);
	/* The blocks wait on their slab's remote list; allocations of the
	 * size take them in once the current free list runs out. */
	int back = 0, dirty = 0, n = 0;
	while (n < TRIES && back < N / 2) {
		char *q = hk_launder(malloc(size));
		again[n++] = q;
		if (!q || !was_freed(&b, q))
			continue;
		back++;
		for (size_t k = 16; k < size; k++)
			if (q[k]) {
				dirty++;
				break;
			}
	}
	for (int i = 0; i < n; i++)
		free(again[i]);
	CHECK(back >= N / 2, "malloc(%zu) hands out the blocks freed by another thread again (%d of %d in %d allocations)",
	      size, back, N, n);
	CHECK(dirty == 0, "blocks of %zu bytes freed by another thread read as zero past their first 16 bytes (%d of %d did not)",
	      size, dirty, back);
}

int main(void)
{
	one_size(32);
	one_size(48);
	one_size(64);
	return hk_done();
}

/* free(): free(NULL) is a no-op, and free() never changes errno, for
 * small, large, aligned, calloc'ed and realloc'ed blocks, including frees
 * that release memory to the OS. */
#include "../lib/check.h"

#include <malloc.h>

static int errno_changes;
static int errno_checks;

static void free_keep_errno(void *p, int e, const char *what)
{
	p = hk_launder(p);
	errno = e;
	free(p);
	errno_checks++;
	if (errno != e) {
		if (errno_changes++ < 5)
			hk_note("free(%s) changed errno %d -> %d", what, e,
				errno);
	}
}

int main(void)
{
	static const int values[] = { 0, 12345, EINVAL, ENOMEM, EAGAIN, -7 };

	errno = 4242;
	free(hk_launder(NULL));
	CHECK(errno == 4242, "free(NULL) is a no-op and keeps errno");

	for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
		int e = values[v];
		free_keep_errno(NULL, e, "NULL");
		/* small blocks of many sizes */
		for (size_t n = 1; n <= 128 * 1024; n = n * 2 + 3)
			free_keep_errno(malloc(n), e, "small");
		/* a whole slab's worth of one size, so that freeing it
		 * may empty a slab or SuperSlab */
		void *many[4096];
		for (int i = 0; i < 4096; i++)
			many[i] = malloc(256);
		for (int i = 0; i < 4096; i++)
			free_keep_errno(many[i], e, "256-byte batch");
		/* large blocks: their own mapping, unmapped on free */
		for (size_t n = 128 * 1024 + 1; n <= 32u << 20; n *= 3)
			free_keep_errno(malloc(n), e, "large");
		/* calloc, realloc, aligned */
		free_keep_errno(calloc(10, 10), e, "calloc");
		free_keep_errno(calloc(1, 1 << 20), e, "calloc large");
		free_keep_errno(realloc(malloc(10), 50000), e, "realloc");
		free_keep_errno(aligned_alloc(4096, 4096), e, "aligned_alloc");
		free_keep_errno(memalign(1 << 20, 1000), e, "memalign 1M");
		free_keep_errno(valloc(300000), e, "valloc");
		void *pm = NULL;
		if (posix_memalign(&pm, 256, 100) == 0)
			free_keep_errno(pm, e, "posix_memalign");
	}
	CHECK(errno_changes == 0,
	      "free() preserves errno (%d of %d frees changed it)",
	      errno_changes, errno_checks);

	/* free many NULLs in a row */
	int bad = 0;
	for (int i = 0; i < 100000; i++) {
		errno = i;
		free(hk_launder(NULL));
		bad += errno != i;
	}
	CHECK(bad == 0, "100000 x free(NULL) keep errno");

	/* The freed memory is reusable: same-size malloc after free of
	 * many blocks does not grow RSS. */
	long before = hk_rss_kb();
	for (int round = 0; round < (int)hk_scale(20, 3); round++) {
		void *v[2000];
		for (int i = 0; i < 2000; i++) {
			v[i] = malloc(2048);
			if (v[i])
				memset(v[i], i, 2048);
		}
		for (int i = 0; i < 2000; i++)
			free(v[i]);
	}
	long after = hk_rss_kb();
	hk_note("rss before %ld KiB, after %ld KiB", before, after);
	if (!hk_under_valgrind())
		CHECK(after - before < 16 * 1024,
		      "freed memory is reused (RSS grew %ld KiB over 20 rounds "
		      "of 4 MiB)", after - before);
	return hk_done();
}

/* Detected misuse aborts with a diagnostic: free() of a stack address, of
 * an interior pointer of a small block, and an immediate double free of a
 * small block each print a "hakmem:" line naming the pointer (in hex) on
 * stderr and die of SIGABRT.  The parent also checks that it can keep
 * allocating normally after the children died (nothing shared broke). */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

static char hexbuf[64];

static const char *hex(const void *p)
{
	snprintf(hexbuf, sizeof hexbuf, "%p", p);
	return hexbuf;
}

/* The pointers are computed in the parent before forking, so the expected
 * address is known; the child (a copy) frees exactly that address. */
static void *stack_target;

static void free_it(void *p)
{
	free(hk_launder(p));
}

static void double_free(void *p)
{
	void *first = hk_launder(p);
	free(first);
	free(hk_launder(p));
}

int main(void)
{
	char local[64];

	memset(local, 1, sizeof local);
	stack_target = hk_launder(local + 16);
	hk_expect_abort("free(stack address)", free_it, stack_target,
			hex(stack_target));

	/* A heap-looking stack address: aligned to 16. */
	void *aligned_stack = hk_launder(
		(void *)(((uintptr_t)local + 15) & ~(uintptr_t)15));
	hk_expect_abort("free(16-aligned stack address)", free_it,
			aligned_stack, hex(aligned_stack));

	static const size_t sizes[] = { 64, 256, 4096 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char what[96];
		char *blk = malloc(sizes[i]);
		if (!CHECK(blk != NULL, "malloc(%zu)", sizes[i]))
			continue;
		memset(blk, 2, sizes[i]);
		char *interior = hk_launder(blk + sizes[i] / 2);
		hk_note("interior pointer %p of %zu-byte block %p", interior,
			sizes[i], (void *)blk);
		snprintf(what, sizeof what, "free(middle of a %zu-byte block)",
			 sizes[i]);
		hk_expect_abort(what, free_it, interior, hex(interior));
		interior = hk_launder(blk + 16);
		snprintf(what, sizeof what, "free(%zu-byte block + 16)",
			 sizes[i]);
		hk_expect_abort(what, free_it, interior, hex(interior));

		/* Immediate double free of a small block. */
		char *victim = malloc(sizes[i]);
		snprintf(what, sizeof what, "double free of a %zu-byte block",
			 sizes[i]);
		if (CHECK(victim != NULL, "%s: malloc", what))
			hk_expect_abort(what, double_free, victim, hex(victim));
		free(victim);	/* parent's copy is still live */
		free(blk);
	}

	/* The parent is unaffected. */
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		void *p = malloc((size_t)i + 1);
		if (!p)
			bad++;
		free(p);
	}
	CHECK(bad == 0, "parent still allocates normally");
	return hk_done();
}

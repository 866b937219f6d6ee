/* free_sized() and free_aligned_sized() with a wrong size or alignment.
 *
 * hakmem checks the size where that is cheap and certain: a size larger
 * than the block is an error ("free_sized(): size N is larger than the
 * block 0x... (M bytes)"); a smaller one can be right (realloc keeps a
 * block that shrinks by less than half), so it is accepted.  Cases: small
 * blocks (a size far too big, and one byte too big for the block), a large
 * block, free_aligned_sized() with a size too big and with a pointer that
 * is not aligned as it says.  Each runs in a child with opt.misuse=abort
 * (SIGABRT) and opt.misuse=report (goes on), with one "hakmem:" line naming
 * the function, the size and the address; in report mode the call does
 * nothing (hakmem(3): "the call does nothing and the program goes on"), so
 * the block is still live and intact afterwards and can be freed normally.
 *
 * Legitimate calls give no message: the exact size, a smaller size after
 * realloc shrank the block in place, size 0 for malloc(0), NULL, and
 * free_aligned_sized() of an aligned_alloc() block. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <malloc.h>

/* glibc 2.36 does not declare them; hakmem exports them. */
void free_sized(void *, size_t);
void free_aligned_sized(void *, size_t, size_t);

struct scase {
	const char *what;
	void *p;
	size_t alloc, size, align;	/* align 0: free_sized */
};

static void wrong(void *arg)
{
	struct scase *s = arg;
	size_t check = s->alloc < 4096 ? s->alloc : 4096;

	hk_fill(s->p, check, 9);
	if (s->align)
		free_aligned_sized(hk_launder(s->p), s->align, s->size);
	else
		free_sized(hk_launder(s->p), s->size);
	/* report mode: the block is untouched and still live */
	CHECK(hk_verify(s->p, check, 9) < 0, "%s: the block is intact",
	      s->what);
	CHECK(malloc_usable_size(s->p) >= s->alloc,
	      "%s: the block is still live", s->what);
	free(s->p);	/* must be quiet: checked by the line count */
}

static void run(struct scase *s, const char *detail)
{
	char size[48];
	snprintf(size, sizeof size, "size %zu ", s->size);
	hk_expect_misuse(s->what, wrong, s, detail ? detail : size,
			 hk_hex(s->p));
}

/* --- legitimate calls ------------------------------------------------- */

static void exact(void *arg)
{
	(void)arg;
	static const size_t sizes[] = { 1, 16, 100, 1000, 20000, 131072,
					131073, 1 << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		void *p = malloc(sizes[i]);
		if (p)
			free_sized(p, sizes[i]);
	}
}

static void shrunk(void *arg)
{
	(void)arg;
	char *p = malloc(1000);
	char *q = realloc(p, 700);	/* kept in place: 700 > 1024 / 2 */
	if (q)
		free_sized(q, 700);
	p = malloc(1 << 20);
	q = realloc(p, 700 << 10);
	if (q)
		free_sized(q, 700 << 10);
}

static void zero_and_null(void *arg)
{
	(void)arg;
	free_sized(malloc(0), 0);
	free_sized(NULL, 0);
	free_sized(NULL, 12345);
	free_aligned_sized(NULL, 64, 100);
}

static void aligned_ok(void *arg)
{
	(void)arg;
	static const size_t al[] = { 16, 64, 256, 4096, 65536, 1 << 20 };
	for (size_t i = 0; i < sizeof al / sizeof al[0]; i++) {
		void *p = aligned_alloc(al[i], al[i] * 3);
		if (p)
			free_aligned_sized(p, al[i], al[i] * 3);
	}
}

int main(void)
{
	struct scase s;

	s = (struct scase){ "free_sized(64-byte block, 1000)", malloc(64), 64,
			    1000, 0 };
	if (CHECK(s.p != NULL, "malloc(64)"))
		run(&s, NULL);
	free(s.p);

	/* one byte more than the block holds */
	void *p = malloc(100);
	size_t us = p ? malloc_usable_size(p) : 0;
	s = (struct scase){ "free_sized(100-byte block, usable size + 1)", p,
			    100, us + 1, 0 };
	if (CHECK(p != NULL && us >= 100, "malloc(100)"))
		run(&s, NULL);
	free(p);

	p = malloc(1 << 20);
	us = p ? malloc_usable_size(p) : 0;
	s = (struct scase){ "free_sized(1 MiB block, usable size + 4096)", p,
			    1 << 20, us + 4096, 0 };
	if (CHECK(p != NULL, "malloc(1 MiB)"))
		run(&s, NULL);
	free(p);

	p = aligned_alloc(256, 512);
	s = (struct scase){ "free_aligned_sized(256-aligned 512-byte block, "
			    "alignment 256, 5000)", p, 512, 5000, 256 };
	if (CHECK(p != NULL, "aligned_alloc(256, 512)"))
		run(&s, NULL);
	free(p);

	/* a pointer that is not aligned as the call says: of two consecutive
	 * 48-byte blocks, at most one is 4096-aligned */
	void *p1 = malloc(48), *p2 = malloc(48);
	p = p1 && ((uintptr_t)p1 & 4095) ? p1 : p2;
	s = (struct scase){ "free_aligned_sized(block not aligned to 4096, "
			    "4096, 48)", p, 48, 48, 4096 };
	if (CHECK(p != NULL && ((uintptr_t)p & 4095) != 0,
		  "malloc(48) gives a block not aligned to 4096"))
		run(&s, "not aligned to 4096");
	free(p1);
	free(p2);

	hk_expect_quiet("free_sized() with the exact size", exact, NULL);
	hk_expect_quiet("free_sized() with the size after realloc shrank the "
			"block in place", shrunk, NULL);
	hk_expect_quiet("free_sized() of malloc(0) with 0, and of NULL",
			zero_and_null, NULL);
	hk_expect_quiet("free_aligned_sized() of aligned_alloc() blocks",
			aligned_ok, NULL);
	return hk_done();
}

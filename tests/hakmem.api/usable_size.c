/* malloc_usable_size(): NULL gives 0; for every block the usable size is at
 * least the requested size, and the whole usable size is writable without
 * touching any other live block (checked by filling every block's full
 * usable size with its own pattern and verifying all of them afterwards). */
#include "../lib/check.h"

#include <malloc.h>

struct blk {
	void *p;
	size_t req, usable;
};

enum { N = 3000 };
static struct blk b[N];

static void *alloc_kind(int kind, size_t n)
{
	void *p = NULL;
	switch (kind) {
	case 0:
		return malloc(n);
	case 1:
		return calloc(1, n);
	case 2:
		return realloc(NULL, n);
	case 3:
		return aligned_alloc(64, n);
	case 4:
		return memalign(4096, n);
	case 5:
		if (posix_memalign(&p, 32768, n) != 0)
			return NULL;
		return p;
	case 6: {
		/* realloc of an existing block */
		void *q = malloc(n / 2 + 1);
		if (!q)
			return NULL;
		p = realloc(hk_launder(q), n);
		if (!p)
			free(q);
		return p;
	}
	default:
		return valloc(n);
	}
}

static const char *kind_name[] = { "malloc",	    "calloc",
				   "realloc(NULL)", "aligned_alloc(64)",
				   "memalign(4096)", "posix_memalign(32K)",
				   "realloc(grow)", "valloc" };

int main(void)
{
	hk_rng r;
	int nulls = 0, too_small[8] = { 0 }, corrupt = 0;

	CHECK(malloc_usable_size(hk_launder(NULL)) == 0,
	      "malloc_usable_size(NULL) == 0");

	hk_rng_seed(&r, 11);
	for (int i = 0; i < N; i++) {
		int kind = i % 8;
		size_t n;
		if (i < 1024)
			n = (size_t)i;	/* every size 0..1023 */
		else if (i % 50 == 0)
			n = hk_rng_range(&r, 128 * 1024, 2 << 20);
		else
			n = hk_rng_logsize(&r, 1, 128 * 1024);
		b[i].req = n;
		b[i].p = hk_launder(alloc_kind(kind, n));
		if (!b[i].p) {
			nulls++;
			continue;
		}
		b[i].usable = malloc_usable_size(b[i].p);
		if (b[i].usable < n && too_small[kind]++ < 3)
			hk_note("%s(%zu): usable size %zu", kind_name[kind], n,
				b[i].usable);
		/* write the whole usable area */
		hk_fill(b[i].p, b[i].usable, 21);
	}
	CHECK(nulls == 0, "all %d allocations succeed (%d NULL)", N, nulls);
	for (int k = 0; k < 8; k++)
		CHECK(too_small[k] == 0,
		      "malloc_usable_size >= requested size for %s blocks "
		      "(%d too small)", kind_name[k], too_small[k]);

	/* Usable size must be stable for a live block. */
	int unstable = 0;
	for (int i = 0; i < N; i++)
		if (b[i].p && malloc_usable_size(b[i].p) != b[i].usable)
			unstable++;
	CHECK(unstable == 0,
	      "malloc_usable_size is stable for live blocks (%d changed)",
	      unstable);

	for (int i = 0; i < N; i++) {
		if (!b[i].p)
			continue;
		long off = hk_verify(b[i].p, b[i].usable, 21);
		if (off >= 0 && corrupt++ < 5)
			hk_note("block %p req %zu usable %zu: byte %ld was "
				"overwritten by a neighbour", b[i].p, b[i].req,
				b[i].usable, off);
	}
	CHECK(corrupt == 0,
	      "the whole usable size of every block is private to it (%d "
	      "blocks overwritten)", corrupt);

	/* Usable size is not absurdly large for small blocks either: the
	 * allocator would be wasting memory (more than 2x + 64 bytes). */
	int wasteful = 0;
	for (int i = 0; i < N; i++)
		if (b[i].p && i % 8 == 0 && b[i].req <= 128 * 1024 &&
		    b[i].usable > 2 * b[i].req + 64 && wasteful++ < 3)
			hk_note("malloc(%zu): usable size %zu", b[i].req,
				b[i].usable);
	CHECK(wasteful == 0,
	      "malloc usable size is at most 2 x request + 64 for small sizes "
	      "(%d wasteful)", wasteful);

	for (int i = 0; i < N; i++)
		free(b[i].p);
	return hk_done();
}

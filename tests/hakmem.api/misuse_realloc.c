/* realloc() of a block that was already freed (a use after free the
 * allocator can see): small blocks freed just before or a while before,
 * to a larger and to a smaller size, large blocks kept in the large-block
 * cache and large blocks already unmapped, through reallocarray too, and
 * realloc of a pointer that was never a block (stack, interior).  Also
 * malloc_usable_size() of a freed block, and realloc(p, 0) of a freed
 * block (which frees, so it is a double free).
 *
 * Each case runs in a child with opt.misuse=abort (SIGABRT) and
 * opt.misuse=report (goes on); both times one "hakmem:" line names the
 * function and the address.  In report mode the call returns NULL (0 for
 * malloc_usable_size), realloc and reallocarray with errno EINVAL, and
 * changes nothing: the freed block is handed out at most once afterwards,
 * and the large-block statistics are unchanged. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <malloc.h>

enum op { REALLOC_UP, REALLOC_DOWN, REALLOCARRAY, USABLE, REALLOC_ZERO };

struct rcase {
	const char *what;
	void *p;		/* freed (in the child) before the call */
	size_t size;		/* its size */
	bool free_first;	/* free p in the child first */
	bool churn;		/* other work between the free and the call */
	enum op op;
};

static void handed_out_once(const char *what, size_t size, void *p)
{
	void *v[200];
	int seen = 0, n = size > 65536 ? 8 : 200;
	for (int i = 0; i < n; i++) {
		v[i] = hk_launder(malloc(size));
		seen += v[i] == p;
	}
	for (int i = 0; i < n; i++)
		free(v[i]);
	CHECK(seen <= 1, "%s: the block is handed out at most once afterwards "
			 "(%d)", what, seen);
}

static void bad_realloc(void *arg)
{
	struct rcase *r = arg;
	uint64_t live0 = 0, live1 = 0;

	if (r->free_first)
		free(r->p);
	if (r->churn) {
		for (int i = 0; i < 1000; i++) {
			void *q = hk_launder(malloc(r->size > 4096 ? 100 : 20000));
			free(q);
		}
		hk_sleep_ms(10);
	}
	hk_stat("stats.large.live", &live0);
	void *q = (void *)1;
	size_t us = 1;
	errno = 0;
	switch (r->op) {
	case REALLOC_UP:
		q = realloc(hk_launder(r->p), r->size * 2 + 100);
		break;
	case REALLOC_DOWN:
		q = realloc(hk_launder(r->p), r->size / 2 + 1);
		break;
	case REALLOCARRAY:
		q = reallocarray(hk_launder(r->p), 3, r->size);
		break;
	case USABLE:
		us = malloc_usable_size(hk_launder(r->p));
		q = NULL;
		break;
	case REALLOC_ZERO:
		q = realloc(hk_launder(r->p), 0);
		break;
	}
	int err = errno;
	hk_stat("stats.large.live", &live1);
	/* report mode from here on */
	CHECK(q == NULL, "%s: the call returns NULL", r->what);
	if (r->op == USABLE)
		CHECK(us == 0, "%s: returns 0 (%zu)", r->what, us);
	else if (r->op == REALLOC_ZERO)
		hk_note("%s: errno after the call: %d (%s)", r->what, err,
			strerror(err));
	else
		CHECK(err == EINVAL, "%s: errno is EINVAL (%d: %s)", r->what,
		      err, strerror(err));
	CHECK(live1 == live0, "%s: no large block made or lost (%" PRIu64
	      " -> %" PRIu64 ")", r->what, live0, live1);
	if (r->free_first)
		handed_out_once(r->what, r->size, r->p);
}

static void run(struct rcase *r, const char *text)
{
	hk_expect_misuse(r->what, bad_realloc, r, text, hk_hex(r->p));
}

int main(void)
{
	struct rcase r;
	static const size_t sizes[] = { 24, 1000, 60000, 300000, 4 << 20 };

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		char w[6][96];
		void *p = malloc(n);
		if (!CHECK(p != NULL, "malloc(%zu)", n))
			continue;
		memset(p, 0x3c, n < 4096 ? n : 4096);
		snprintf(w[0], 96, "realloc(freed %zu-byte block, larger)", n);
		snprintf(w[1], 96, "realloc(freed %zu-byte block, smaller)", n);
		snprintf(w[2], 96,
			 "realloc(%zu-byte block freed a while before)", n);
		snprintf(w[3], 96, "reallocarray(freed %zu-byte block)", n);
		snprintf(w[4], 96, "malloc_usable_size(freed %zu-byte block)", n);
		snprintf(w[5], 96, "realloc(freed %zu-byte block, 0)", n);

		r = (struct rcase){ w[0], p, n, true, false, REALLOC_UP };
		run(&r, "realloc(): ");
		r = (struct rcase){ w[1], p, n, true, false, REALLOC_DOWN };
		run(&r, "realloc(): ");
		r = (struct rcase){ w[2], p, n, true, true, REALLOC_UP };
		run(&r, "realloc(): ");
		r = (struct rcase){ w[3], p, n, true, false, REALLOCARRAY };
		run(&r, "realloc");
		r = (struct rcase){ w[4], p, n, true, false, USABLE };
		run(&r, "malloc_usable_size(): ");
		/* realloc(p, 0) frees p: a double free, reported as such (small
		 * blocks) or as a pointer not returned by malloc (large). */
		r = (struct rcase){ w[5], p, n, true, false, REALLOC_ZERO };
		run(&r, n <= 131072 ? "double free" : "was not returned by malloc");
		free(p);
	}

	/* A large block whose mapping is already gone (no cache). */
	if (CHECK(hk_set_u64("opt.large_cache", 0) == 0,
		  "large_cache set to 0")) {
		void *p = malloc(1 << 20);
		if (CHECK(p != NULL, "malloc(1 MiB)")) {
			r = (struct rcase){ "realloc(freed and unmapped 1 MiB "
					    "block)", p, 1 << 20, true, false,
					    REALLOC_UP };
			run(&r, "realloc(): ");
			free(p);
		}
		hk_set_u64("opt.large_cache", 64 << 20);
	}

	/* Pointers that never were blocks. */
	char local[128];
	memset(local, 1, sizeof local);
	r = (struct rcase){ "realloc(stack address)", local + 32, 64, false,
			    false, REALLOC_UP };
	run(&r, "realloc(): ");
	char *blk = malloc(512);
	if (CHECK(blk != NULL, "malloc(512)")) {
		r = (struct rcase){ "realloc(interior of a 512-byte block)",
				    blk + 64, 256, false, false, REALLOC_UP };
		run(&r, "realloc(): ");
		free(blk);
	}
	return hk_done();
}

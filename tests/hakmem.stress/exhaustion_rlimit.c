/* Address-space exhaustion under RLIMIT_AS at several levels, through
 * every public allocating function.
 *
 * For each level (the current virtual size + 0, 8, 64 and 256 MiB) a child
 * process (stderr to a pipe) warms hakmem up, trims, notes the baseline
 * (stats.mapped, stats.mappings), sets RLIMIT_AS, and then, for each
 * function of tests/lib/allocfns.h (malloc, calloc, realloc from NULL and
 * from a live block, reallocarray, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc and the hakmem_ names):
 *   - allocates blocks of mixed sizes (16 B to 512 KiB) until 40 calls in
 *     a row have failed: every failure is NULL with errno ENOMEM (ENOMEM
 *     returned, *memptr untouched, for posix_memalign), a failed realloc
 *     leaves its block intact, and every success is a usable block;
 *   - at that point, a live large block cannot grow by 64 MiB (NULL,
 *     ENOMEM, intact), and hakmem_ctl still answers;
 *   - frees everything and trims: stats.mapped and stats.mappings are back
 *     to the baseline (nothing leaked; a little slack for the address
 *     registry, which grows with the address range used);
 *   - then blocks of the sizes that fitted before fit again (the first
 *     small and the first large size that succeeded).
 * The child must exit 0 (no crash) and its stderr must hold exactly one
 * line naming vm.max_map_count, although memory ran out many times. */
/* hakmem-test: no-valgrind */
/* hakmem-test: timeout 240 */
#include "../lib/check.h"
#include "../lib/allocfns.h"

#define MiB ((size_t)1 << 20)

struct node {
	struct node *next;	/* first: see hk_free_chain() */
	size_t n;
};

static size_t budget;		/* this child's level */

static bool exhaust_one(const struct hk_fn *fn, hk_rng *r, uint64_t base,
			uint64_t base_maps)
{
	struct node *head = NULL;
	long ok = 0, failed = 0, bad_err = 0, invalid = 0, row = 0;
	int last_err = 0;
	size_t got = 0, small_ok = 0, large_ok = 0;
	bool ok_all = true;

	while (row < 40) {
		size_t n = hk_rng_logsize(r, 16, 512 << 10);
		int err = 0;
		struct node *b = fn->call(n, &err);
		if (!b) {
			failed++;
			row++;
			if (err != ENOMEM) {
				bad_err++;
				last_err = err;
			}
			continue;
		}
		row = 0;
		ok++;
		if (n <= 128 << 10 && !small_ok)
			small_ok = n;
		if (n > 128 << 10 && !large_ok)
			large_ok = n;
		if (!hk_fn_valid(fn, b, n))
			invalid++;
		b->next = head;
		b->n = n;
		head = b;
		got += n;
		if (got > budget + 512 * MiB) {	/* the limit does nothing */
			FAILED("%s: allocations stop within the limit", fn->name);
			break;
		}
	}

	/* At the exhaustion point: a large block cannot grow, and survives. */
	struct node *big = NULL;
	for (struct node *b = head; b; b = b->next)
		if (b->n > 128 << 10) {
			big = b;
			break;
		}
	if (big) {
		unsigned char *bb = (unsigned char *)big;
		size_t n = big->n;
		errno = 0;
		void *q = realloc(hk_launder(big), n + 64 * MiB);
		if (q) {
			/* possible if mremap grew it in place within the limit */
			hk_note("%s: realloc(+64 MiB) succeeded at exhaustion",
				fn->name);
			((struct node *)q)->n = n + 64 * MiB;
			/* put it back in the list in place of big */
			struct node **pp = &head;
			while (*pp != big)
				pp = &(*pp)->next;
			*pp = q;
		} else {
			ok_all &= CHECK(errno == ENOMEM && bb[n - 1] == 2 &&
					big->n == n,
					"%s: at exhaustion, realloc of a large "
					"block to +64 MiB fails with ENOMEM and "
					"leaves it intact (errno %d)", fn->name,
					errno);
		}
	}
	uint64_t mapped_now = 0;
	ok_all &= CHECK(hk_stat("stats.mapped", &mapped_now),
			"%s: hakmem_ctl answers at exhaustion", fn->name);

	hk_free_chain(head);
	hk_action("trim");
	uint64_t mapped = hk_stat_req("stats.mapped");
	uint64_t maps = hk_stat_req("stats.mappings");

	hk_note("budget %zu MiB, %s: %ld blocks (%zu MiB), %ld failed calls; "
		"mapped at exhaustion %" PRIu64 " MiB, after free+trim %" PRIu64
		" KiB (baseline %" PRIu64 " KiB)", budget / MiB, fn->name, ok,
		got / MiB, failed, mapped_now >> 20, mapped >> 10, base >> 10);
	ok_all &= CHECK(bad_err == 0,
			"%s: every failure is NULL with ENOMEM (%ld others, "
			"last %d)", fn->name, bad_err, last_err);
	ok_all &= CHECK(invalid == 0, "%s: every block returned is usable "
			"(%ld bad)", fn->name, invalid);
	ok_all &= CHECK(mapped <= base + MiB && maps <= base_maps + 4,
			"%s: after freeing all and a trim, mapped bytes and "
			"mappings are back to the baseline (%" PRIu64 " -> %"
			PRIu64 " KiB, %" PRIu64 " -> %" PRIu64 " mappings)",
			fn->name, base >> 10, mapped >> 10, base_maps, maps);

	/* Service resumes: what fitted before fits again. */
	if (small_ok || large_ok) {
		int e1 = 0, e2 = 0;
		void *a = small_ok ? fn->call(small_ok, &e1) : NULL;
		void *b = large_ok ? fn->call(large_ok, &e2) : NULL;
		ok_all &= CHECK((a || !small_ok) && (b || !large_ok),
				"%s: after memory was freed, blocks of the sizes "
				"that fitted before fit again (%zu: errno %d, %zu: "
				"errno %d)", fn->name, small_ok, e1, large_ok, e2);
		free(a);
		free(b);
	} else {
		hk_note("%s: nothing fitted under this limit", fn->name);
	}
	return ok_all;
}

static void child(void *arg)
{
	hk_rng r;
	(void)arg;

	/* Warm up; the large-block cache would hide mappings from the
	 * baseline comparison, so it is emptied by every trim. */
	for (int i = 0; i < 100; i++)
		free(hk_launder(malloc((size_t)i * 100 + 1)));
	free(hk_launder(malloc(MiB)));
	hk_action("trim");
	uint64_t base = hk_stat_req("stats.mapped");
	uint64_t base_maps = hk_stat_req("stats.mappings");
	long long vs = hk_vsize_bytes();
	struct rlimit rl = { (rlim_t)vs + budget, (rlim_t)vs + budget };
	if (!CHECK(vs > 0 && setrlimit(RLIMIT_AS, &rl) == 0,
		   "setrlimit(RLIMIT_AS, virtual size + %zu MiB)",
		   budget / MiB))
		return;
	hk_rng_seed(&r, 1000 + budget);

	int fns_ok = 0;
	for (size_t i = 0; i < HK_NFNS; i++) {
		fns_ok += exhaust_one(&hk_fns[i], &r, base, base_maps);
	}
	hk_note("budget %zu MiB: %d of %zu functions behaved", budget / MiB,
		fns_ok, HK_NFNS);
}

int main(void)
{
	static const size_t levels[] = { 0, 8 * MiB, 64 * MiB, 256 * MiB };

	for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
		struct hk_child c;
		char how[96];
		int match = 0;

		budget = levels[l];
		hk_run_child(child, NULL, 100, &c);
		CHECK(hk_child_exited0(&c),
		      "RLIMIT_AS at +%zu MiB: no crash, every check passed (%s)",
		      budget / MiB, hk_child_how(&c, how, sizeof how));
		int lines = hk_hakmem_lines(c.err, &match, "vm.max_map_count",
					    (const char *)NULL);
		if (match != 1 || lines != 1)
			hk_show_stderr("exhaustion", &c);
		else
			hk_note("+%zu MiB: %.300s", budget / MiB, c.err);
		CHECK(match == 1 && lines == 1,
		      "RLIMIT_AS at +%zu MiB: stderr has exactly one line, "
		      "naming vm.max_map_count, although memory ran out many "
		      "times (%d lines, %d naming it)", budget / MiB, lines,
		      match);
	}
	return hk_done();
}

/* Fault injection: opt.fail_mmap_every = N makes every Nth request hakmem
 * makes to the kernel for memory fail as if the kernel had refused it.
 *
 * In a child (stderr to a pipe), with the large-block cache off (so that
 * every large block needs a mapping of its own), for N = 1, 2, 3, 5 and 8
 * and each public allocating function (tests/lib/allocfns.h):
 *   - 40 calls for large blocks (each one a new mapping): every result is
 *     a usable block or NULL with ENOMEM (posix_memalign: ENOMEM returned,
 *     *memptr untouched; realloc: the old block intact);
 *   - failures really happen, at about the rate asked for: at least 40/(2N)
 *     of the 40 calls fail (every call with N = 1);
 *   - then small blocks of 64 KiB (a new SuperSlab every 24 of them) until
 *     10 have failed: same conditions;
 *   - with the injection off again, after freeing everything and a trim,
 *     stats.mapped and stats.mappings are back to the baseline (but for
 *     metadata chunks, which are kept for good), and the function works
 *     again.
 * The child must exit 0, and its stderr must hold exactly one line (naming
 * vm.max_map_count) although many requests failed. */
/* hakmem-test: timeout 180 */
#include "../lib/check.h"
#include "../lib/allocfns.h"

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

static uint64_t every;
static uint64_t base, base_maps, base_meta;

struct node {
	struct node *next;	/* first: see hk_free_chain() */
};

struct tally {
	long ok, failed, bad_err, invalid;
	int last_err;
};

static void *attempt(const struct hk_fn *fn, size_t n, struct tally *t,
		     struct node **head)
{
	int err = 0;
	struct node *b = fn->call(n, &err);
	if (!b) {
		t->failed++;
		if (err != ENOMEM) {
			t->bad_err++;
			t->last_err = err;
		}
		return NULL;
	}
	t->ok++;
	if (!hk_fn_valid(fn, b, n))
		t->invalid++;
	b->next = *head;
	*head = b;
	return b;
}

static bool one_function(const struct hk_fn *fn, int calls)
{
	struct node *head = NULL;
	struct tally large = { 0 }, small = { 0 };
	bool ok = true;

	hk_set_u64("opt.fail_mmap_every", every);
	for (int i = 0; i < calls; i++)
		attempt(fn, 200 * KiB + (size_t)i * 4096, &large, &head);
	/* small blocks: until 10 failures (or plenty of blocks) */
	for (int i = 0; i < 4000 && small.failed < 10; i++)
		attempt(fn, 60 * KiB, &small, &head);
	hk_set_u64("opt.fail_mmap_every", 0);

	hk_free_chain(head);
	hk_action("trim");
	hk_set_u64("epoch", 1);
	/* Metadata is never given back: a SuperSlab in a new GiB of address
	 * space takes a registry leaf, and with it perhaps a new chunk (one
	 * mapping). Where the kernel puts mappings decides that, so it is
	 * not counted as a leak. */
	uint64_t meta = hk_stat_req("stats.metadata") - base_meta;
	uint64_t mapped = hk_stat_req("stats.mapped") - meta;
	uint64_t maps = hk_stat_req("stats.mappings") - (meta + MiB - 1) / MiB;

	long want = (long)calls / (2 * (long)every);
	ok &= CHECK(large.bad_err == 0 && small.bad_err == 0,
		    "fail_mmap_every=%" PRIu64 ", %s: every failure is NULL "
		    "with ENOMEM (%ld, %ld others; last %d, %d)", every,
		    fn->name, large.bad_err, small.bad_err, large.last_err,
		    small.last_err);
	ok &= CHECK(large.invalid == 0 && small.invalid == 0,
		    "fail_mmap_every=%" PRIu64 ", %s: every block returned is "
		    "usable (%ld, %ld bad)", every, fn->name, large.invalid,
		    small.invalid);
	ok &= CHECK(large.failed >= want && large.failed <= calls,
		    "fail_mmap_every=%" PRIu64 ", %s: about 1 in %" PRIu64
		    " large allocations fails (%ld of %d failed; at least %ld "
		    "expected)", every, fn->name, every, large.failed, calls,
		    want);
	ok &= CHECK(small.failed > 0,
		    "fail_mmap_every=%" PRIu64 ", %s: small allocations fail "
		    "when a new SuperSlab cannot be mapped (%ld of %ld failed)",
		    every, fn->name, small.failed, small.ok + small.failed);
	ok &= CHECK(mapped <= base + 512 * KiB && maps <= base_maps + 2,
		    "fail_mmap_every=%" PRIu64 ", %s: nothing leaked: mapped "
		    "bytes and mappings back to the baseline after free+trim "
		    "(%" PRIu64 " -> %" PRIu64 " KiB, %" PRIu64 " -> %" PRIu64
		    ")", every, fn->name, base >> 10, mapped >> 10, base_maps,
		    maps);
	int e1 = 0, e2 = 0;
	void *a = fn->call(100, &e1), *b = fn->call(500 * KiB, &e2);
	ok &= CHECK(a && b, "fail_mmap_every=%" PRIu64 ", %s: works again with "
		    "the injection off (errors %d, %d)", every, fn->name, e1,
		    e2);
	free(a);
	free(b);
	return ok;
}

static void child(void *arg)
{
	static const uint64_t ns[] = { 1, 2, 3, 5, 8 };
	size_t nn = hk_quick() ? 2 : sizeof ns / sizeof ns[0];
	int calls = hk_quick() ? 16 : 40;
	(void)arg;

	if (!CHECK(hk_set_u64("opt.large_cache", 0) == 0,
		   "opt.large_cache set to 0"))
		return;
	for (int i = 0; i < 100; i++)
		free(hk_launder(malloc((size_t)i * 100 + 1)));
	free(hk_launder(malloc(1 << 20)));
	hk_action("trim");
	hk_set_u64("epoch", 1);
	base = hk_stat_req("stats.mapped");
	base_maps = hk_stat_req("stats.mappings");
	base_meta = hk_stat_req("stats.metadata");
	hk_note("baseline after warm-up and trim: %" PRIu64 " KiB mapped, %"
		PRIu64 " mappings, %" PRIu64 " SuperSlabs", base >> 10,
		base_maps, hk_stat_req("stats.superslabs.live"));

	for (size_t k = 0; k < nn; k++) {
		int good = 0;
		every = ns[k];
		for (size_t i = 0; i < HK_NFNS; i++)
			good += one_function(&hk_fns[i], calls);
		hk_note("fail_mmap_every=%" PRIu64 ": %d of %zu functions "
			"behaved", every, good, HK_NFNS);
	}
}

int main(void)
{
	struct hk_child c;
	char how[96];
	int match = 0;

	hk_run_child(child, NULL, hk_under_valgrind() ? 600 : 150, &c);
	CHECK(hk_child_exited0(&c),
	      "fault injection: no crash, every check passed (%s)",
	      hk_child_how(&c, how, sizeof how));
	int lines = hk_hakmem_lines(c.err, &match, "vm.max_map_count",
				    (const char *)NULL);
	if (match != 1 || lines != 1)
		hk_show_stderr("fault injection", &c);
	CHECK(match == 1 && lines == 1,
	      "stderr has exactly one line, naming vm.max_map_count, although "
	      "many requests failed (%d lines, %d naming it)", lines, match);
	return hk_done();
}

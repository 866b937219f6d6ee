/* The kernel's limit on mappings (vm.max_map_count), reached for real.
 *
 * Lowering the limit would need root and would change it for the whole
 * machine, so a child process (stderr to a pipe) fills its own map count
 * instead: it reserves an address range with PROT_NONE and makes every
 * other page readable until mprotect() fails with ENOMEM, which leaves the
 * process at the limit.  Before that it holds hakmem memory of both kinds:
 * large blocks (whose mappings the kernel merges with their neighbours)
 * and a few MiB of small blocks (several SuperSlabs).  At the limit:
 *   - every allocating function that needs a new mapping returns NULL with
 *     ENOMEM (malloc of large and of small blocks until the SuperSlabs in
 *     hand are full, calloc, realloc, posix_memalign, aligned_alloc);
 *   - freeing works and does not crash: a large block with the large-block
 *     cache off (its mapping is unmapped, which splits a merged kernel
 *     mapping and so needs one more mapping), all the small blocks (their
 *     SuperSlabs are released), and a trim;
 *   - once the filler is gone, allocation works again, and after freeing
 *     everything and a trim the mapped bytes are back to the baseline.
 * The parent checks that the child exited 0 and that its stderr holds
 * exactly one line, naming vm.max_map_count. */
/* hakmem-test: no-valgrind */
/* hakmem-test: timeout 120 */
#include "../lib/check.h"

#include <sys/mman.h>

#define KiB ((size_t)1 << 10)

static long read_max_map_count(void)
{
	char buf[64];
	if (hk_read_small("/proc/sys/vm/max_map_count", buf, sizeof buf) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

struct node {
	struct node *next;	/* first: see hk_free_chain() */
};

static void child(void *arg)
{
	long max = *(long *)arg;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	enum { NLARGE = 8 };
	void *large[NLARGE];
	struct node *small = NULL;
	long nsmall = 0;

	/* Hold memory of both kinds. */
	free(hk_launder(malloc(100)));
	hk_action("trim");
	uint64_t base = hk_stat_req("stats.mapped");
	long long vs0 = hk_vsize_bytes();
	for (int i = 0; i < NLARGE; i++) {
		large[i] = malloc(300 * KiB);
		if (!CHECK(large[i] != NULL, "large block %d allocated", i))
			return;
		memset(large[i], i, 300 * KiB);
	}
	for (long i = 0; i < 60000; i++) {
		struct node *b = malloc(100);
		if (!b)
			break;
		b->next = small;
		small = b;
		nsmall++;
	}
	uint64_t ss = hk_stat_req("stats.superslabs.live");
	hk_note("holding %d large blocks and %ld small ones (%" PRIu64
		" SuperSlabs); %ld mappings in the process", NLARGE, nsmall, ss,
		hk_maps_count());

	/* Fill the map count. */
	size_t pages = 2 * (size_t)max + 1024;
	char *res = mmap(NULL, pages * page, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (!CHECK(res != MAP_FAILED, "reserve %zu pages", pages))
		return;
	size_t split = 0;
	int err = 0;
	for (size_t i = 1; i + 1 < pages; i += 2) {
		if (mprotect(res + i * page, page, PROT_READ) != 0) {
			err = errno;
			break;
		}
		split++;
	}
	/* Splitting stops at max mappings, but mmap refuses only above max
	 * (and a mapping that merges with a neighbour adds none): add single
	 * pages that merge with nothing until mmap refuses too. */
	enum { NEXTRA = 16 };
	void *extra[NEXTRA];
	int nextra = 0;
	while (nextra < NEXTRA) {
		void *x = mmap(NULL, page, nextra % 2 ? PROT_READ : PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (x == MAP_FAILED)
			break;
		extra[nextra++] = x;
	}
	long at_limit = hk_maps_count();
	if (!CHECK(err == ENOMEM && nextra < NEXTRA,
		   "the map count reaches the limit (mprotect failed with %d "
		   "after %zu splits, then %d more pages; %ld mappings, limit "
		   "%ld)", err, split, nextra, at_limit, max))
		goto out;

	/* At the limit: allocations that need a mapping fail cleanly. */
	errno = 0;
	void *p = malloc(300 * KiB);
	CHECK(!p && errno == ENOMEM, "at the limit, malloc(300 KiB) is NULL "
	      "with ENOMEM (errno %d)", errno);
	free(p);
	errno = 0;
	p = calloc(1, 1 << 20);
	CHECK(!p && errno == ENOMEM, "at the limit, calloc(1 MiB) is NULL "
	      "with ENOMEM");
	free(p);
	errno = 0;
	p = aligned_alloc(1 << 20, 1 << 20);
	CHECK(!p && errno == ENOMEM, "at the limit, aligned_alloc(1 MiB) is "
	      "NULL with ENOMEM");
	free(p);
	p = (void *)1;
	int rc = posix_memalign(&p, 4096, 500 * KiB);
	CHECK(rc == ENOMEM && p == (void *)1, "at the limit, posix_memalign "
	      "returns ENOMEM (%d)", rc);
	errno = 0;
	p = realloc(large[0], 4 << 20);
	CHECK(!p && errno == ENOMEM &&
	      ((unsigned char *)large[0])[300 * KiB - 1] == 0,
	      "at the limit, realloc(300 KiB block, 4 MiB) fails with ENOMEM "
	      "and the block is intact");
	if (p)
		large[0] = p;
	/* small blocks: the SuperSlabs in hand fill up, then NULL (within
	 * 64 MiB: they hold at most a few dozen MiB) */
	long more = 0;
	int serr = 0;
	for (;;) {
		struct node *b = malloc(2000);
		if (!b) {
			serr = errno;
			break;
		}
		b->next = small;
		small = b;
		if (++more > 32768)
			break;
	}
	CHECK(serr == ENOMEM, "at the limit, small allocations end with NULL "
	      "and ENOMEM within 64 MiB (%ld succeeded first, errno %d)", more,
	      serr);
	/* maps also lists [vsyscall], which the kernel does not count */
	CHECK(hk_maps_count() <= max + 2, "the process did not go over the "
	      "limit (%ld lines in maps, limit %ld)", hk_maps_count(), max);

	/* Freeing at the limit must not crash. */
	hk_set_u64("opt.large_cache", 0);
	free(large[3]);
	large[3] = NULL;
	CHECK(1, "at the limit, free() of a large block (cache off) returns");
	hk_free_chain(small);
	small = NULL;
	CHECK(1, "at the limit, free() of all small blocks returns");
	hk_action("trim");
	CHECK(1, "at the limit, trim returns");

out:
	munmap(res, pages * page);
	for (int i = 0; i < nextra; i++)
		munmap(extra[i], page);
	/* Service resumes. */
	void *a = malloc(300 * KiB), *b = malloc(100), *c = malloc(5000);
	CHECK(a && b && c, "after the filler is unmapped, allocation works "
	      "again");
	free(a);
	free(b);
	free(c);
	for (int i = 0; i < NLARGE; i++)
		free(large[i]);
	hk_free_chain(small);
	hk_action("trim");
	uint64_t mapped = hk_stat_req("stats.mapped");
	CHECK(mapped <= base + 512 * KiB, "after freeing everything and a "
	      "trim, mapped bytes are back to the baseline (%" PRIu64 " -> %"
	      PRIu64 " KiB)", base >> 10, mapped >> 10);
	/* Ranges whose munmap failed at the limit stay mapped (their pages
	 * given back with madvise): address space, not memory. */
	hk_note("virtual size %lld KiB before, %lld KiB after; resident %ld KiB",
		vs0 >> 10, hk_vsize_bytes() >> 10, hk_rss_kb());
}

int main(void)
{
	long max = read_max_map_count();
	if (!CHECK(max > 0, "read /proc/sys/vm/max_map_count (%ld)", max))
		return hk_done();
	if (max > 4000000) {
		hk_note("vm.max_map_count is %ld: too high to fill in a test; "
			"skipped", max);
		CHECK(1, "skipped: vm.max_map_count too high to fill");
		return hk_done();
	}

	struct hk_child c;
	char how[96];
	int match = 0;
	hk_run_child(child, &max, 90, &c);
	CHECK(hk_child_exited0(&c),
	      "at the mapping limit: no crash, every check passed (%s)",
	      hk_child_how(&c, how, sizeof how));
	int lines = hk_hakmem_lines(c.err, &match, "vm.max_map_count",
				    (const char *)NULL);
	if (match != 1 || lines != 1)
		hk_show_stderr("map limit", &c);
	else
		hk_note("stderr: %.400s", c.err);
	CHECK(match == 1 && lines == 1,
	      "stderr has exactly one line, naming vm.max_map_count (%d "
	      "lines, %d naming it)", lines, match);
	return hk_done();
}

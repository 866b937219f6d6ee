/* Requests that no mapping could ever satisfy fail silently, as in glibc:
 * NULL with errno ENOMEM and no "hakmem:" line on stderr (the message
 * about vm.max_map_count is for memory that really ran out). In a child
 * (stderr to a pipe):
 *   - malloc, calloc, aligned_alloc and realloc (from NULL and of a live
 *     large block, which stays intact) of sizes larger than the address
 *     space: 842 PB (what CPython's test_decimal asks for) and 2^47 + 1 MiB;
 *   - unless the kernel always overcommits, malloc of more than RAM and
 *     swap together;
 *   - with RLIMIT_AS set 256 MiB above the current size (not under
 *     Valgrind, whose own mappings count against it), malloc and realloc
 *     of more than the limit.
 * Then the child writes a marker line to stderr, and makes a mapping fail
 * that could have succeeded (fault injection, opt.fail_mmap_every = 1).
 * The parent checks that the child exited 0, that its stderr has no
 * "hakmem:" line before the marker, and exactly one after it, naming
 * vm.max_map_count: the silent failures neither printed the message nor
 * used up its one report. */
/* hakmem-test: timeout 60 */
#include "../lib/check.h"

#include <sys/resource.h>
#include <sys/sysinfo.h>

#define MiB ((size_t)1 << 20)
#define MARKER "enomem_quiet: now a failure that is not impossible"

static void expect_enomem(void *p, int err, const char *what)
{
	CHECK(p == NULL && err == ENOMEM, "%s returns NULL/ENOMEM (got %p, "
	      "errno %d)", what, p, err);
	free(p);
}

static void impossible(size_t n, const char *name, char *large)
{
	char what[96];
	void *p;

	errno = 0;
	p = hk_launder(malloc(hk_size(n)));
	snprintf(what, sizeof what, "malloc(%s)", name);
	expect_enomem(p, errno, what);
	errno = 0;
	p = hk_launder(calloc(1, hk_size(n)));
	snprintf(what, sizeof what, "calloc(1, %s)", name);
	expect_enomem(p, errno, what);
	errno = 0;
	p = hk_launder(aligned_alloc(hk_size(1 << 20), hk_size(n)));
	snprintf(what, sizeof what, "aligned_alloc(1 MiB, %s)", name);
	expect_enomem(p, errno, what);
	errno = 0;
	p = hk_launder(realloc(NULL, hk_size(n)));
	snprintf(what, sizeof what, "realloc(NULL, %s)", name);
	expect_enomem(p, errno, what);
	errno = 0;
	p = hk_launder(realloc(hk_launder(large), hk_size(n)));
	int e = errno;
	CHECK(p == NULL && e == ENOMEM && hk_verify(large, MiB, 7) < 0,
	      "realloc(1 MiB block, %s) returns NULL/ENOMEM, block intact "
	      "(got %p, errno %d)", name, p, e);
}

static long overcommit_mode(void)
{
	char buf[32];
	if (hk_read_small("/proc/sys/vm/overcommit_memory", buf, sizeof buf) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

static void child(void *arg)
{
	(void)arg;
	char *large = malloc(MiB);
	if (!CHECK(large != NULL, "setup: a 1 MiB block"))
		return;
	hk_fill(large, MiB, 7);

	impossible((size_t)842 * 1000 * 1000 * 1000 * 1000 * 1000, "842 PB",
		   large);
	impossible(((size_t)1 << 47) + MiB, "2^47 + 1 MiB", large);

	struct sysinfo si;
	if (overcommit_mode() != 1 && sysinfo(&si) == 0) {
		uint64_t total = ((uint64_t)si.totalram + si.totalswap) *
				 (si.mem_unit ? si.mem_unit : 1);
		if (total + 1024 * MiB < ((uint64_t)1 << 47)) {
			errno = 0;
			void *p = hk_launder(malloc(hk_size(total + 1024 * MiB)));
			expect_enomem(p, errno, "malloc(RAM + swap + 1 GiB)");
		}
	} else {
		hk_note("the kernel always overcommits: no RAM + swap case");
	}

	if (!hk_under_valgrind()) {
		struct rlimit old, rl;
		getrlimit(RLIMIT_AS, &old);
		rl = old;
		rl.rlim_cur = (rlim_t)hk_vsize_bytes() + 256 * MiB;
		if (CHECK(setrlimit(RLIMIT_AS, &rl) == 0, "RLIMIT_AS set to "
			  "the current size + 256 MiB")) {
			errno = 0;
			void *p = hk_launder(malloc(hk_size(rl.rlim_cur + MiB)));
			expect_enomem(p, errno, "malloc(RLIMIT_AS + 1 MiB)");
			errno = 0;
			p = hk_launder(realloc(hk_launder(large),
					       hk_size(rl.rlim_cur + MiB)));
			int e = errno;
			CHECK(p == NULL && e == ENOMEM &&
			      hk_verify(large, MiB, 7) < 0,
			      "realloc(1 MiB block, RLIMIT_AS + 1 MiB) returns "
			      "NULL/ENOMEM, block intact (errno %d)", e);
			setrlimit(RLIMIT_AS, &old);
		}
	}

	void *ok = malloc(100), *ok2 = malloc(3 * MiB);
	CHECK(ok && ok2, "malloc works after the failed requests");
	free(ok);
	free(ok2);

	/* A failure that could have gone otherwise is still reported. */
	hk_write_all(STDERR_FILENO, MARKER "\n", sizeof MARKER);
	hk_set_u64("opt.large_cache", 0);
	hk_action("trim");	/* no cached mapping to reuse */
	hk_set_u64("opt.fail_mmap_every", 1);
	errno = 0;
	void *p = hk_launder(malloc(hk_size(4 * MiB)));
	int e = errno;
	hk_set_u64("opt.fail_mmap_every", 0);
	expect_enomem(p, e, "malloc(4 MiB) with every mapping failing");
	free(large);
}

int main(void)
{
	struct hk_child c;
	char how[96];
	int match = 0;

	hk_run_child(child, NULL, hk_under_valgrind() ? 200 : 50, &c);
	CHECK(hk_child_exited0(&c),
	      "impossible requests: no crash, every check passed (%s)",
	      hk_child_how(&c, how, sizeof how));
	char *after = strstr(c.err, MARKER);
	if (!CHECK(after != NULL, "the child got to the last failure"))
		return hk_done();
	int lines = hk_hakmem_lines(after, &match, "vm.max_map_count",
				    (const char *)NULL);
	*after = '\0';
	int before = hk_hakmem_lines(c.err, NULL, (const char *)NULL);
	*after = MARKER[0];
	if (before || match != 1 || lines != 1)
		hk_show_stderr("impossible requests", &c);
	CHECK(before == 0, "no \"hakmem:\" line for the impossible requests "
	      "(%d lines)", before);
	CHECK(match == 1 && lines == 1,
	      "then one line, naming vm.max_map_count, for the failure that "
	      "was not impossible (%d lines, %d naming it)", lines, match);
	return hk_done();
}

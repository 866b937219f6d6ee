/* opt.large_hugepages: a new mapping for a large block of 2 MiB or more is
 * aligned to 2 MiB and marked for transparent huge pages (VmFlags "hg" in
 * /proc/self/smaps) when the option is on (the default), and not when it
 * is off; smaller large blocks are never marked. */
#include "../lib/check.h"

#include <stdio.h>

static bool set_bool(const char *name, bool v)
{
	return hk_ctl()(name, NULL, NULL, &v, sizeof v) == 0;
}

int main(void)
{
	free(hk_launder(malloc(1)));
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	/* Fresh mappings only: no cached block is reused. */
	uint64_t off = 0;
	CHECK(hk_ctl()("opt.large_cache", NULL, NULL, &off, sizeof off) == 0, "opt.large_cache = 0");

	bool on;
	size_t len = sizeof on;
	CHECK(hk_ctl()("opt.large_hugepages", &on, &len, NULL, 0) == 0 && on,
	      "opt.large_hugepages is on by default");

	/* Without THP in the kernel, madvise(MADV_HUGEPAGE) fails and marks
	 * nothing: only the alignment is checked then. */
	bool thp = access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) == 0;
	if (!thp)
		hk_note("no transparent huge pages in this kernel: VmFlags not checked");
	size_t big = (size_t)4 << 20;
	char *p = malloc(big);
	if (!CHECK(p != NULL, "malloc(4 MiB)"))
		return hk_done();
	memset(p, 1, big);
	int hg = hk_vm_flag(p, "hg");
	if (thp)
		CHECK(hg == 1, "4 MiB block, option on: its mapping is marked MADV_HUGEPAGE (%d)", hg);
	CHECK(((uintptr_t)p & (((uintptr_t)2 << 20) - 1)) < 4096,
	      "4 MiB block, option on: the mapping starts on a 2 MiB boundary (%p)", (void *)p);

	char *s = malloc((size_t)1 << 20);
	if (CHECK(s != NULL, "malloc(1 MiB)")) {
		hg = hk_vm_flag(s, "hg");
		CHECK(hg == 0, "1 MiB block: not marked (%d)", hg);
	}
	free(s);
	free(p);

	CHECK(set_bool("opt.large_hugepages", false), "opt.large_hugepages = false");
	p = malloc(big);
	if (CHECK(p != NULL, "malloc(4 MiB)")) {
		hg = hk_vm_flag(p, "hg");
		CHECK(hg == 0, "4 MiB block, option off: not marked (%d)", hg);
	}
	free(p);
	return hk_done();
}

/* opt.thp: each new SuperSlab is left to the system's transparent huge
 * page setting (default: neither "hg" nor "nh" in its VmFlags in
 * /proc/self/smaps), marked MADV_NOHUGEPAGE ("nh", never) or
 * MADV_HUGEPAGE ("hg", always). */
#include "../lib/check.h"

#include <stdio.h>

/* A block from a SuperSlab mapped for it: allocates blocks of a 64 KiB
 * class until one makes the count of SuperSlabs created go up (the slab
 * for that block is the first of the new SuperSlab). The blocks are kept
 * in kept[], *n of them. */
static void *block_in_new_superslab(void **kept, size_t *n, size_t max)
{
	uint64_t before = hk_stat_req("stats.superslabs.created");
	while (*n < max) {
		void *p = malloc(65536);
		if (!p)
			return NULL;
		kept[(*n)++] = p;
		if (hk_stat_req("stats.superslabs.created") != before)
			return p;
	}
	return NULL;
}

int main(void)
{
	static void *kept[4096];
	size_t n = 0;
	free(hk_launder(malloc(1)));
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	const char *cur = NULL;
	size_t len = sizeof cur;
	CHECK(hk_ctl()("opt.thp", &cur, &len, NULL, 0) == 0 && cur && strcmp(cur, "default") == 0,
	      "opt.thp is \"default\" by default (%s)", cur ? cur : "?");
	CHECK(hk_set_str("opt.thp", "sometimes") == EINVAL, "opt.thp = sometimes: EINVAL");

	/* Without THP in the kernel, madvise marks nothing. */
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) {
		hk_note("no transparent huge pages in this kernel: VmFlags not checked");
		return hk_done();
	}
	static const struct {
		const char *value;
		int hg, nh;
	} cases[] = { { "default", 0, 0 }, { "never", 0, 1 }, { "always", 1, 0 } };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK(hk_set_str("opt.thp", cases[i].value) == 0, "opt.thp = %s", cases[i].value);
		void *p = block_in_new_superslab(kept, &n, sizeof kept / sizeof kept[0]);
		if (!CHECK(p != NULL, "thp=%s: a new SuperSlab was mapped", cases[i].value))
			continue;
		int hg = hk_vm_flag(p, "hg"), nh = hk_vm_flag(p, "nh");
		CHECK(hg == cases[i].hg && nh == cases[i].nh,
		      "thp=%s: its VmFlags have hg %d (want %d), nh %d (want %d)", cases[i].value,
		      hg, cases[i].hg, nh, cases[i].nh);
	}
	while (n)
		free(kept[--n]);
	return hk_done();
}

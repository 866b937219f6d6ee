/* The checks of doc/hardening.md an operator switches: canary = medium
 * (canaries on the blocks above 1 KiB) and large_protect (cached large
 * mappings are inaccessible), off by default for their cost, and
 * large_hold (no large block is handed out where the one freed last was),
 * on. Each is checked as it is by default (hakmem_ctl reads it so, and the
 * misuse goes unnoticed or is caught), then switched, by the environment
 * or by hakmem_ctl before the first allocation, where the misuse must be
 * caught or, large_hold off, go unnoticed again; and the cache still
 * serves large blocks, whose contents survive realloc. tests/hakmem.misuse
 * has the misuse programs; this one checks the options. Each case runs in
 * a child (/proc/self/exe) with its own environment. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <malloc.h>
#include <stdbool.h>
#include <sys/wait.h>

#define KiB ((size_t)1 << 10)

/* Addresses kept where the compiler does not follow them, so that using
 * one after free() is the test's intent, not a warning. */
static volatile uintptr_t kept;

static void *again(void)
{
	return (void *)kept;
}

/* Switch the three from their defaults with hakmem_ctl, before the first
 * allocation fixes them; "ctl-failed" on stdout if one is refused. */
static void ctl_switch(void)
{
	hk_ctl_fn ctl = hk_ctl();
	const char *medium = "medium";
	bool on = true, off = false;
	if (!ctl || ctl("opt.canary", NULL, NULL, &medium, sizeof medium) != 0 ||
	    ctl("opt.large_hold", NULL, NULL, &off, sizeof off) != 0 ||
	    ctl("opt.large_protect", NULL, NULL, &on, sizeof on) != 0) {
		printf("ctl-failed\n");
		fflush(stdout);
	}
}

static int child(const char *mode)
{
	if (!strncmp(mode, "ctl-", 4)) {
		ctl_switch();
		mode += 4;
	}
	if (!strcmp(mode, "defaults")) {
		/* The options as in force once the program has allocated. */
		free(hk_launder(malloc(64)));
		hk_ctl_fn ctl = hk_ctl();
		const char *canary = "?";
		bool hold = true, protect = true;
		size_t l = sizeof canary;
		if (ctl)
			ctl("opt.canary", &canary, &l, NULL, 0);
		l = sizeof hold;
		if (ctl)
			ctl("opt.large_hold", &hold, &l, NULL, 0);
		l = sizeof protect;
		if (ctl)
			ctl("opt.large_protect", &protect, &l, NULL, 0);
		printf("canary=%s large_hold=%d large_protect=%d\n", canary, hold, protect);
	} else if (!strcmp(mode, "medium-overflow")) {
		/* Past the usable size: the request's end with canary =
		 * medium, the trailer with the default one. */
		char *p = hk_launder(malloc(8000));
		((volatile char *)p)[malloc_usable_size(p)] ^= 1;
		free(p);
	} else if (!strcmp(mode, "medium-underflow")) {
		char *p = hk_launder(malloc(8000));
		((volatile char *)p)[-1] ^= 1;
		free(p);
	} else if (!strcmp(mode, "usable")) {
		void *s = hk_launder(malloc(24)), *m = hk_launder(malloc(8000));
		printf("small=%zu medium=%zu\n", malloc_usable_size(s), malloc_usable_size(m));
		free(s);
		free(m);
	} else if (!strcmp(mode, "medium-realloc")) {
		/* In place (it still fits its class), the canary moves with the
		 * size; moved, the contents come along; no report. */
		char *p = hk_launder(malloc(8000));
		hk_fill_seed(p, 8000, 11);
		char *q = realloc(p, 7000);
		bool same = q == p && hk_verify_seed(q, 7000, 11) < 0;
		size_t usable = malloc_usable_size(q);
		char *r = realloc(q, 20000);
		bool kept_data = r && hk_verify_seed(r, 7000, 11) < 0;
		free(r);
		printf("in-place=%d usable=%zu moved-data=%d\n", same, usable, kept_data);
	} else if (!strcmp(mode, "large-reuse")) {
		/* near: from the same cached mapping (the block a page
		 * further in, with large_hold). */
		kept = (uintptr_t)malloc(256 * KiB);
		free(again());
		uintptr_t q = (uintptr_t)hk_launder(malloc(256 * KiB));
		uintptr_t dist = q > kept ? q - kept : kept - q;
		printf("same=%d near=%d\n", q == kept, dist < 64 * KiB);
		free((void *)q);
	} else if (!strcmp(mode, "large-read-after-free")) {
		kept = (uintptr_t)malloc(256 * KiB);
		memset(again(), 7, 256 * KiB);
		free(again());
		printf("read=%d\n", ((volatile char *)again())[100 * KiB]);
	} else if (!strcmp(mode, "large-cache")) {
		/* a freed, then a smaller block taken from its mapping and
		 * freed (with large_hold, a page further in than a): the next
		 * request of a's size gets a back, accessible; its contents
		 * survive realloc up and down. */
		char *a = hk_launder(malloc(1024 * KiB));
		memset(a, 1, 1024 * KiB);
		kept = (uintptr_t)a;
		free(a);
		free(hk_launder(malloc(300 * KiB)));
		char *c = hk_launder(malloc(1024 * KiB));
		bool reused = (uintptr_t)c == kept;
		hk_fill_seed(c, 1024 * KiB, 5);
		char *d = realloc(c, 3000 * KiB);
		bool ok = d && hk_verify_seed(d, 1024 * KiB, 5) < 0;
		if (d)
			hk_fill_seed(d, 3000 * KiB, 6);
		char *e = d ? realloc(d, 600 * KiB) : NULL;
		ok = ok && e && hk_verify_seed(e, 600 * KiB, 6) < 0;
		free(e);
		printf("reused=%d realloc-data=%d\n", reused, ok);
	}
	fflush(stdout);
	return 0;
}

/* Run this program's case mode with no settings but the ones given
 * ("NAME=VALUE"; NULL for none). */
static void run2(struct hk_exec *r, const char *exe, const char *mode, const char *setting,
		 const char *setting2)
{
	const char *const env[] = { "HAKMEM_CONF=/nonexistent", setting, setting2, NULL };
	hk_exec_capture(r, exe, mode, env, 0);
}

static void run(struct hk_exec *r, const char *exe, const char *mode, const char *setting)
{
	run2(r, exe, mode, setting, NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child(argv[1]);
	char exe[256];
	hk_self_exe(exe, sizeof exe);
	struct hk_exec r;

	/* The defaults: large_hold on, large_protect off. */
	if (CHECK(hk_have_ctl(), "hakmem_ctl available")) {
		run(&r, exe, "defaults", NULL);
		CHECK(hk_exec_clean(&r) && strstr(r.out, "canary=large large_hold=1 large_protect=0\n"),
		      "default: canary = large, large_hold on, large_protect off (status %d, %s)\n%s",
		      r.status, r.out, r.err);
		run(&r, exe, "ctl-defaults", NULL);
		CHECK(hk_exec_clean(&r) && strstr(r.out, "canary=medium large_hold=0 large_protect=1\n") &&
			      !strstr(r.out, "ctl-failed"),
		      "hakmem_ctl before the first allocation switches the three (status %d, "
		      "%s)\n%s",
		      r.status, r.out, r.err);
	}

	/* canary = medium */
	run(&r, exe, "medium-overflow", "HAKMEM_TRAILER=0");
	CHECK(hk_exec_clean(&r), "trailer = 0: a one-byte overflow of an 8000-byte block goes unnoticed "
			 "(status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "medium-overflow", NULL);
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): heap overflow: block 0x"),
	      "default (trailer): the same overflow is caught (status %d)\n%s", r.status, r.err);
	run(&r, exe, "medium-overflow", "HAKMEM_CANARY=medium");
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): heap overflow: block 0x"),
	      "canary = medium: the same overflow is caught (status %d)\n%s", r.status, r.err);
	run(&r, exe, "ctl-medium-overflow", NULL);
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): heap overflow: block 0x") &&
		      !strstr(r.out, "ctl-failed"),
	      "canary = medium by hakmem_ctl: the same overflow is caught (status %d, %s)\n%s",
	      r.status, r.out, r.err);
	run(&r, exe, "medium-underflow", NULL);
	CHECK(hk_exec_clean(&r), "default: a one-byte underflow of an 8000-byte block goes unnoticed "
			 "(status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "medium-underflow", "HAKMEM_CANARY=medium");
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): heap underflow"),
	      "canary = medium: the same underflow is caught (status %d)\n%s", r.status, r.err);
	run(&r, exe, "usable", "HAKMEM_TRAILER=0");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "small=32 medium=8192\n"),
	      "trailer = 0: malloc_usable_size is the class's block size (%s)", r.out);
	run(&r, exe, "usable", NULL);
	CHECK(hk_exec_clean(&r) && strstr(r.out, "small=32 medium=8184\n"),
	      "default (trailer): malloc_usable_size above 1 KiB is the class's block size but "
	      "the trailer (%s)",
	      r.out);
	run(&r, exe, "usable", "HAKMEM_CANARY=medium");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "small=32 medium=8000\n"),
	      "canary = medium: malloc_usable_size is the request above 1 KiB, the class below "
	      "(%s)",
	      r.out);
	run(&r, exe, "medium-realloc", "HAKMEM_CANARY=medium");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "in-place=1 usable=7000 moved-data=1\n"),
	      "canary = medium: realloc of an 8000-byte block shrinks in place, recording its "
	      "new size, and grows with its contents (status %d, %s)\n%s",
	      r.status, r.out, r.err);

	/* large_hold */
	run(&r, exe, "large-reuse", NULL);
	CHECK(hk_exec_clean(&r) && strstr(r.out, "same=0 near=1\n"),
	      "default: malloc does not return the large block just freed, but takes its "
	      "cached mapping (%s)",
	      r.out);
	run(&r, exe, "large-reuse", "HAKMEM_LARGE_HOLD=0");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "same=1 near=1\n"),
	      "large_hold = 0: malloc returns the large block just freed, from the cache (%s)",
	      r.out);
	run(&r, exe, "ctl-large-reuse", NULL);
	CHECK(hk_exec_clean(&r) && strstr(r.out, "same=1 near=1\n") && !strstr(r.out, "ctl-failed"),
	      "large_hold off by hakmem_ctl: the same (%s)", r.out);

	/* large_protect */
	run(&r, exe, "large-read-after-free", NULL);
	CHECK(hk_exec_clean(&r) && strstr(r.out, "read=7\n"),
	      "default: a read of a freed large block reads the old data (status %d, %s)",
	      r.status, r.out);
	run(&r, exe, "large-read-after-free", "HAKMEM_LARGE_PROTECT=1");
	CHECK(hk_exec_faulted(&r), "large_protect = 1: it faults (status %d)", r.status);
	run(&r, exe, "ctl-large-read-after-free", NULL);
	CHECK(hk_exec_faulted(&r) && !strstr(r.out, "ctl-failed"),
	      "large_protect by hakmem_ctl: it faults (status %d, %s)", r.status, r.out);

	/* the cache still serves, and realloc keeps the contents */
	run(&r, exe, "large-cache", "HAKMEM_LARGE_PROTECT=1");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "reused=1 realloc-data=1\n"),
	      "large_hold and large_protect: a cached large mapping is handed out again, "
	      "accessible, once another block was freed after it, and realloc keeps its "
	      "contents (status %d, %s)\n%s",
	      r.status, r.out, r.err);
	run(&r, exe, "large-cache", NULL);
	CHECK(hk_exec_clean(&r) && strstr(r.out, "reused=1 realloc-data=1\n"),
	      "large_hold alone: the same (status %d, %s)\n%s", r.status, r.out, r.err);
	run2(&r, exe, "large-cache", "HAKMEM_LARGE_HOLD=0", "HAKMEM_LARGE_PROTECT=1");
	CHECK(hk_exec_clean(&r) && strstr(r.out, "realloc-data=1\n"),
	      "large_protect alone: cached mappings are handed out accessible, and realloc "
	      "keeps the contents (status %d, %s)\n%s",
	      r.status, r.out, r.err);
	return hk_done();
}

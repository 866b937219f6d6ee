/* The checks of the default mode that each have an option to turn them
 * off (doc/hardening.md): canary = medium (canaries on the blocks above
 * 1 KiB), large_hold (the large mapping freed last is not handed out
 * again at once) and large_protect (cached large mappings are
 * inaccessible). Each is checked on, then off, where the old behaviour
 * must come back; and the cache still serves large blocks, whose contents
 * survive realloc. tests/hakmem.misuse has the misuse programs; this one
 * checks the options. Each case runs in a child (/proc/self/exe) with its
 * own environment. */
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

static int child(const char *mode)
{
	if (!strcmp(mode, "medium-overflow")) {
		char *p = hk_launder(malloc(8000));
		((volatile char *)p)[8000] ^= 1;
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
		kept = (uintptr_t)malloc(256 * KiB);
		free(again());
		void *q = hk_launder(malloc(256 * KiB));
		printf("same=%d\n", (uintptr_t)q == kept);
		free(q);
	} else if (!strcmp(mode, "large-read-after-free")) {
		kept = (uintptr_t)malloc(256 * KiB);
		memset(again(), 7, 256 * KiB);
		free(again());
		printf("read=%d\n", ((volatile char *)again())[100 * KiB]);
	} else if (!strcmp(mode, "large-cache")) {
		/* a freed, then b freed: a leaves the hold for the cache, and
		 * the next request of its size gets it back, accessible; its
		 * contents survive realloc up and down. */
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

/* Run this program's case mode with no settings but the one given
 * ("NAME=VALUE", or NULL for none). */
static void run(struct hk_exec *r, const char *exe, const char *mode, const char *setting)
{
	const char *const env[] = { "HAKMEM_CONF=/nonexistent", setting, NULL };
	hk_exec_capture(r, exe, mode, env, 0);
}

static bool aborted(const struct hk_exec *r)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

static bool clean(const struct hk_exec *r)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 && !strstr(r->err, "hakmem:");
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return child(argv[1]);
	char exe[256];
	hk_self_exe(exe, sizeof exe);
	struct hk_exec r;

	/* canary = medium */
	run(&r, exe, "medium-overflow", NULL);
	CHECK(aborted(&r) && strstr(r.err, "hakmem: free(): heap overflow: block 0x"),
	      "default: a one-byte overflow of an 8000-byte block is caught (status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "medium-overflow", "HAKMEM_CANARY=large");
	CHECK(clean(&r), "canary = large: the same overflow goes unnoticed (status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "medium-underflow", NULL);
	CHECK(aborted(&r) && strstr(r.err, "hakmem: free(): heap underflow"),
	      "default: a one-byte underflow of an 8000-byte block is caught (status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "medium-underflow", "HAKMEM_CANARY=large");
	CHECK(clean(&r), "canary = large: the same underflow goes unnoticed (status %d)\n%s",
	      r.status, r.err);
	run(&r, exe, "usable", NULL);
	CHECK(clean(&r) && strstr(r.out, "small=32 medium=8000\n"),
	      "default: malloc_usable_size is the request above 1 KiB, the class below (%s)",
	      r.out);
	run(&r, exe, "usable", "HAKMEM_CANARY=large");
	CHECK(clean(&r) && strstr(r.out, "small=32 medium=8192\n"),
	      "canary = large: malloc_usable_size is the class's block size (%s)", r.out);
	run(&r, exe, "medium-realloc", NULL);
	CHECK(clean(&r) && strstr(r.out, "in-place=1 usable=7000 moved-data=1\n"),
	      "default: realloc of an 8000-byte block shrinks in place, recording its new size, "
	      "and grows with its contents (status %d, %s)\n%s",
	      r.status, r.out, r.err);

	/* large_hold */
	run(&r, exe, "large-reuse", NULL);
	CHECK(clean(&r) && strstr(r.out, "same=0\n"),
	      "default: malloc does not return the large block just freed (%s)", r.out);
	run(&r, exe, "large-reuse", "HAKMEM_LARGE_HOLD=0");
	CHECK(clean(&r) && strstr(r.out, "same=1\n"),
	      "large_hold = 0: it does, from the cache (%s)", r.out);

	/* large_protect */
	run(&r, exe, "large-read-after-free", NULL);
	CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV,
	      "default: a read of a freed large block faults (status %d)", r.status);
	run(&r, exe, "large-read-after-free", "HAKMEM_LARGE_PROTECT=0");
	CHECK(clean(&r) && strstr(r.out, "read=7\n"),
	      "large_protect = 0: it reads the old data (status %d, %s)", r.status, r.out);

	/* the cache still serves, and realloc keeps the contents */
	run(&r, exe, "large-cache", NULL);
	CHECK(clean(&r) && strstr(r.out, "reused=1 realloc-data=1\n"),
	      "default: a cached large mapping is handed out again, accessible, once another "
	      "was freed after it, and realloc keeps its contents (status %d, %s)\n%s",
	      r.status, r.out, r.err);
	run(&r, exe, "large-cache", "HAKMEM_LARGE_PROTECT=0");
	CHECK(clean(&r) && strstr(r.out, "reused=1 realloc-data=1\n"),
	      "large_protect = 0: the same (status %d, %s)\n%s", r.status, r.out, r.err);
	return hk_done();
}

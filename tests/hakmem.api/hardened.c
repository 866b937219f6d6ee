/* Hardened mode (HAKMEM_HARDENED=1): freed blocks wait before reuse, so a
 * double free after other allocations is still caught, and a write to a
 * freed block is reported at the next allocation (tests/hakmem.misuse
 * has a program per kind of misuse; this one checks the mode itself). The same
 * programs in the default mode show what only the hardened mode catches.
 * Each case runs in a child (/proc/self/exe) with its own environment. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <stdbool.h>
#include <sys/wait.h>

#include "hakmem.h"

/* The address of a block, kept where the compiler does not follow it, so
 * that using it after free() is the test's intent, not a warning. */
static volatile uintptr_t kept;

static void *again(void)
{
	return (void *)kept;
}

static int child(const char *mode)
{
	if (!strcmp(mode, "late-double-free")) {
		kept = (uintptr_t)malloc(64);
		free(again());
		char *q = hk_launder(malloc(64));	/* reuses the block in the default mode */
		free(again());
		free((uintptr_t)q == kept ? NULL : q);
	} else if (!strcmp(mode, "write-after-free")) {
		kept = (uintptr_t)malloc(100);
		free(again());
		((volatile char *)again())[40] = 1;
		for (int i = 0; i < 1000; i++)
			free(hk_launder(malloc(100)));
	} else if (!strcmp(mode, "overflow-after-prof")) {
		/* The profiler, switched on and off again, must leave the
		 * thread on the checked paths that canary = all wants. */
		bool on = true, off = false;
		hakmem_ctl("opt.prof", NULL, NULL, &on, sizeof on);
		free(hk_launder(malloc(24)));
		hakmem_ctl("opt.prof", NULL, NULL, &off, sizeof off);
		for (int i = 0; i < 100; i++)
			free(hk_launder(malloc(24)));
		char *p = hk_launder(malloc(24));
		((volatile char *)p)[24] = 1;	/* not a dead store before free() */
		free(p);
	} else if (!strcmp(mode, "overflow-each")) {
		/* One-byte overflows in report mode, of every value below 128
		 * over 8 blocks that follow each other (a block's mask, and
		 * so its stored trailer, depends on its address): all 1,024
		 * are reported, since the trailer's first bytes are never
		 * stored below 128. The reports go to a file, counted here
		 * (an unchanged trailer would be reported, if at all, as an
		 * underflow of the block after it). */
		char path[] = "/tmp/hakmem-hardened-XXXXXX";
		int fd = mkstemp(path);
		if (fd < 0 || hk_set_str("opt.misuse", "report") != 0)
			return 2;
		unlink(path);
		dup2(fd, 2);
		for (int v = 0; v < 128; v++) {
			char *q[8];
			for (int k = 0; k < 8; k++) {
				q[k] = hk_launder(malloc(24));
				((volatile char *)q[k])[24] = (char)v;
			}
			for (int k = 0; k < 8; k++)
				free(q[k]);
		}
		static char buf[1 << 18];
		ssize_t n, got = 0;
		long reports = 0;
		lseek(fd, 0, SEEK_SET);
		while (got < (ssize_t)sizeof buf - 1 &&
		       (n = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
			got += n;
		buf[got] = '\0';
		for (char *s = buf; (s = strstr(s, "heap overflow: the trailer after")); s++)
			reports++;
		printf("reports=%ld\n", reports);
	} else if (!strcmp(mode, "work")) {
		void *v[1000];
		for (int round = 0; round < 50; round++) {
			for (int i = 0; i < 1000; i++) {
				v[i] = malloc((size_t)(i % 300) + 1);
				memset(v[i], i, (size_t)(i % 300) + 1);
			}
			for (int i = 0; i < 1000; i++)
				free(v[i]);
		}
		bool on = false;
		size_t len = sizeof on;
		hakmem_ctl("opt.hardened", &on, &len, NULL, 0);
		printf("hardened=%d\n", on);
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

int main(int argc, char **argv)
{
	if (argc > 1)
		return child(argv[1]);
	char exe[256];
	hk_self_exe(exe, sizeof exe);
	struct hk_exec r;

	run(&r, exe, "late-double-free", NULL);
	CHECK(WIFEXITED(r.status) && !strstr(r.err, "hakmem:"),
	      "default mode: a double free after the block was reused goes unnoticed (a known limit)");
	run(&r, exe, "late-double-free", "HAKMEM_HARDENED=1");
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): double free of 0x"),
	      "hardened mode: the same double free is caught (status %d)\n%s", r.status, r.err);

	run(&r, exe, "write-after-free", NULL);
	CHECK(WIFEXITED(r.status) && !strstr(r.err, "hakmem:"),
	      "default mode: a write after free goes unnoticed (a known limit)");
	run(&r, exe, "write-after-free", "HAKMEM_HARDENED=1");
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: malloc(): use after free: block 0x") &&
		      strstr(r.err, "at offset 40"),
	      "hardened mode: the write after free is reported with its offset (status %d)\n%s",
	      r.status, r.err);

	run(&r, exe, "overflow-after-prof", "HAKMEM_CANARY=all");
	CHECK(hk_exec_aborted(&r) && strstr(r.err, "hakmem: free(): heap overflow"),
	      "canary = all: an overflow is caught after the profiler was switched on and off "
	      "(status %d)\n%s",
	      r.status, r.err);

	run(&r, exe, "overflow-each", "HAKMEM_CANARY=all");
	CHECK(WIFEXITED(r.status) && strstr(r.out, "reports=1024\n"),
	      "canary = all: a one-byte overflow of any value below 128 is reported, over blocks "
	      "at 8 addresses (status %d, %s)",
	      r.status, r.out);

	run(&r, exe, "work", "HAKMEM_HARDENED=1");
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.out, "hardened=1") &&
		      r.err[0] == '\0',
	      "hardened mode: a correct program runs cleanly (status %d)\n%s", r.status, r.err);

	bool on = true;
	free(hk_launder(malloc(10)));
	CHECK(hakmem_ctl("opt.hardened", NULL, NULL, &on, sizeof on) == EAGAIN,
	      "opt.hardened cannot change after the first allocation (EAGAIN)");
	return hk_done();
}

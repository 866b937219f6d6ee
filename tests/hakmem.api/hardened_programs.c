/* Real programs run unchanged in hardened mode: python3, perl and sort
 * (on every Debian machine) on allocation-heavy work, with hakmem
 * preloaded, hardened and with canary = all alone, their output compared
 * with a run on glibc's malloc. The python3 and perl work is bench/run's
 * (bench/programs/alloc_heavy.*, seeded: the same digest on every
 * allocator) at a small scale. A program that is not installed is
 * UNSUPPORTED. */
/* hakmem-test: no-valgrind */
/* hakmem-test: timeout 600 */
#include "../lib/check.h"

#include <sys/wait.h>

#if !defined(HK_LIB_PATH) || !defined(HK_BENCH_PROGRAMS)
#error "HK_LIB_PATH, HK_BENCH_PROGRAMS: the built libhakmem.so.1 and bench/programs (tests/programs.am defines them)"
#endif

static const struct {
	const char *name, *script;
} programs[] = {
	{ "python3", "python3 '" HK_BENCH_PROGRAMS "/alloc_heavy.py' 0.3" },
	{ "perl", "perl '" HK_BENCH_PROGRAMS "/alloc_heavy.pl' 0.3" },
	{ "sort", "seq 200000 | sort -R --random-source=/dev/zero | sort -n | cksum" },
};

/* Run script with sh, hakmem preloaded with env (NULL: not preloaded);
 * its output (up to size - 1 bytes) in out. Returns the wait status. */
static int run(const char *script, const char *env, char *out, size_t size)
{
	int fd[2];
	if (pipe(fd))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		if (env) {
			setenv("LD_PRELOAD", HK_LIB_PATH, 1);
			putenv((char *)env);
		}
		execl("/bin/sh", "sh", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	while (n < size - 1 && (r = read(fd[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd[0]);
	int status = -1;
	waitpid(pid, &status, 0);
	return status;
}

int main(void)
{
	static const char *const modes[] = { "HAKMEM_HARDENED=1", "HAKMEM_CANARY=all" };
	for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
		char cmd[64], want[256], got[256];
		snprintf(cmd, sizeof cmd, "command -v %s >/dev/null", programs[i].name);
		if (system(cmd) != 0) {
			printf("UNSUPPORTED: %s is not installed\n", programs[i].name);
			continue;
		}
		int st = run(programs[i].script, NULL, want, sizeof want);
		if (!CHECK(st == 0 && want[0], "%s runs on glibc's malloc (status %d)",
			   programs[i].name, st))
			continue;
		for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
			st = run(programs[i].script, modes[m], got, sizeof got);
			CHECK(st == 0 && !strcmp(got, want), "%s with %s: same output (status %d: %s)",
			      programs[i].name, modes[m], st, got);
		}
	}
	return hk_done();
}

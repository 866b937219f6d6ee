/* Container memory limits (cgroup v2): hakmem reads memory.max and
 * memory.high at start-up (ctl cgroup.memory_limit: the lower), caps the
 * large-block cache at an eighth of the limit, and purges every free
 * dirty slot while the cgroup uses more than 7/8 of it.
 *
 * The program runs itself again (it reads the limit at start-up) with
 * HAKMEM_TEST_CGROUP naming a directory of files it wrote, and, where
 * the machine lets it make a cgroup with the memory controller (as root:
 * CI), inside a real child cgroup with a limit of its own (v2 memory.max,
 * or v1 memory.limit_in_bytes on hybrid systems, which hakmem reads
 * too). */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MiB ((uint64_t)1 << 20)

static char self[512];

static bool put(const char *dir, const char *name, const char *text)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

/* Run this program again as "self MODE" with env (NULL: none added), in
 * the cgroup directory cg if not NULL; true if it exited 0. */
static bool run_self(const char *mode, const char *env, const char *cg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		if (cg && !put(cg, "cgroup.procs", "0\n"))
			_exit(3);
		if (env)
			putenv((char *)env);
		execl(self, self, mode, (char *)NULL);
		_exit(4);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* In a child whose limit is 64 MiB. */
static int child_limited(uint64_t want, bool pressed)
{
	uint64_t lim = hk_stat_req("cgroup.memory_limit");
	CHECK(lim == want, "cgroup.memory_limit is %llu (want %llu)", (unsigned long long)lim,
	      (unsigned long long)want);
	if (want == 64 * MiB) {
		/* 64 MiB of large blocks in use, one 16 MiB block freed: the
		 * cache's budget (an eighth of the limit, 8 MiB) cannot keep it. */
		void *big[4];
		for (int i = 0; i < 4; i++)
			big[i] = malloc(16 * MiB);
		free(big[0]);
		uint64_t cached = hk_stat_req("stats.large.cached");
		CHECK(cached <= 8 * MiB, "freed 16 MiB block not cached beyond 8 MiB (%llu cached)",
		      (unsigned long long)cached);
		for (int i = 1; i < 4; i++)
			free(big[i]);
	}
	if (pressed) {
		/* 8 MiB of small blocks, all freed: near the limit, no free slot
		 * stays resident. */
		static void *p[8192];
		for (int i = 0; i < 8192; i++)
			p[i] = malloc(1024);
		for (int i = 0; i < 8192; i++)
			free(p[i]);
		uint64_t dirty = hk_stat_req("stats.dirty");
		CHECK(dirty == 0, "near the limit, freed slots are all purged (%llu bytes dirty)",
		      (unsigned long long)dirty);
	}
	return hk_done();
}

/* Where to make a child cgroup with a memory limit, and the limit's file:
 * under the root of a cgroup v2 hierarchy that gives its children the
 * memory controller, or else under the process's own cgroup of a v1
 * memory hierarchy (hybrid systems). False if neither is mounted. */
static bool cgroup_parent(char *dir, size_t size, const char **file)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[1024], v2[512] = "", v1[512] = "", own[512] = "";
	while (f && fgets(line, sizeof line, f)) {
		char root[512], mnt[512];
		if (sscanf(line, "%*s %*s %*s %511s %511s", root, mnt) != 2 || strcmp(root, "/") != 0)
			continue;
		if (strstr(line, " - cgroup2 "))
			snprintf(v2, sizeof v2, "%s", mnt);
		else if (strstr(line, " - cgroup ") && strstr(line, "memory\n"))
			snprintf(v1, sizeof v1, "%s", mnt);
	}
	if (f)
		fclose(f);
	char ctl[256] = "";
	snprintf(line, sizeof line, "%s/cgroup.subtree_control", v2);
	if (v2[0] && (f = fopen(line, "r"))) {
		if (!fgets(ctl, sizeof ctl, f))
			ctl[0] = '\0';
		fclose(f);
	}
	if (strstr(ctl, "memory")) {
		snprintf(dir, size, "%s", v2);
		*file = "memory.max";
		return true;
	}
	if (!v1[0] || !(f = fopen("/proc/self/cgroup", "r")))
		return false;
	while (fgets(line, sizeof line, f)) {
		char *p = strstr(line, ":memory:");
		if (p) {
			p[strcspn(p, "\n")] = '\0';
			snprintf(own, sizeof own, "%s", p + 8);
		}
	}
	fclose(f);
	snprintf(dir, size, "%s%s", v1, own);
	*file = "memory.limit_in_bytes";
	return own[0] != '\0';
}

static void real_cgroup(void)
{
	char parent[1024], dir[1100];
	const char *file;
	if (!cgroup_parent(parent, sizeof parent, &file)) {
		hk_note("no cgroup hierarchy with the memory controller: real cgroup not tested");
		return;
	}
	snprintf(dir, sizeof dir, "%s/hakmem-test-%ld", parent, (long)getpid());
	if (mkdir(dir, 0755) != 0) {
		hk_note("cannot create %s: real cgroup not tested", dir);
		return;
	}
	if (CHECK(put(dir, file, "268435456\n"), "%s/%s = 256 MiB", dir, file))
		CHECK(run_self("real", NULL, dir), "in a real cgroup with %s = 256 MiB", file);
	if (rmdir(dir) != 0)
		hk_note("could not remove %s", dir);
}

int main(int argc, char **argv)
{
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	if (argc > 1 && strcmp(argv[1], "limited") == 0)
		return child_limited(64 * MiB, true);
	if (argc > 1 && strcmp(argv[1], "high") == 0)
		return child_limited(32 * MiB, false);
	if (argc > 1 && strcmp(argv[1], "real") == 0)
		return child_limited(256 * MiB, false);

	hk_self_exe(self, sizeof self);
	char dir[] = "/tmp/hakmem-cgroup-XXXXXX";
	if (!CHECK(mkdtemp(dir) != NULL, "mkdtemp"))
		return hk_done();
	static char env[600];
	snprintf(env, sizeof env, "HAKMEM_TEST_CGROUP=%s", dir);

	/* memory.max 64 MiB, usage at 63 MiB (over 7/8). */
	CHECK(put(dir, "memory.max", "67108864\n") && put(dir, "memory.high", "max\n") &&
		      put(dir, "memory.current", "66060288\n"),
	      "cgroup files written");
	CHECK(run_self("limited", env, NULL), "memory.max 64 MiB: limit, cache cap, purge");
	/* memory.high below memory.max: the lower counts. */
	CHECK(put(dir, "memory.max", "max\n") && put(dir, "memory.high", "33554432\n") &&
		      put(dir, "memory.current", "0\n"),
	      "cgroup files rewritten");
	CHECK(run_self("high", env, NULL), "memory.high 32 MiB: the limit");

	real_cgroup();

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		hk_note("could not remove %s", dir);
	return hk_done();
}

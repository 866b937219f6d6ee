/* The heap profiler (opt.prof): a program with a known leak site (small
 * blocks), a known large-block leak site and a known hot site (blocks
 * allocated and freed at once) writes a profile with ctl "prof.dump";
 * google-pprof --text must put the two leak sites on top of the in-use
 * view and the hot site on top of the allocation view, each within 20 %
 * of the bytes the program really allocated. With prof_interval_ms,
 * periodic profiles appear (kind i). A child that exits with the profiler
 * on leaves its final profile (<prefix>.<pid>.<seq>.f.heap), and so does
 * a program run with HAKMEM_PROF=1, which samples from its start.
 * UNSUPPORTED when google-pprof (Debian's google-perftools) is missing. */
/* hakmem-test: no-valgrind */
/* hakmem-test: timeout 300 */
#include "../lib/check.h"

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/wait.h>

#define SMALL 1024			/* a size class: sampled with its own size */
#define SMALL_N 16384			/* 16 MiB leaked at leak_small */
#define BIG ((size_t)256 << 10)
#define BIG_N 40			/* 10 MiB leaked at leak_big */
#define HOT 256
#define HOT_N 400000			/* 100 MiB allocated (and freed) at hot_site */
#define RATE 16384			/* mean bytes between samples: ~2000 samples per site */

static void *kept[SMALL_N + BIG_N];

__attribute__((noinline)) static void leak_small(void **out)
{
	for (int i = 0; i < SMALL_N; i++)
		out[i] = malloc(SMALL);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void leak_big(void **out)
{
	for (int i = 0; i < BIG_N; i++)
		out[i] = malloc(BIG);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static unsigned long hot_site(void)
{
	unsigned long sum = 0;
	for (int i = 0; i < HOT_N; i++) {
		unsigned char *p = hk_launder(malloc(HOT));
		p[0] = (unsigned char)i;
		sum += p[0];
		free(p);
	}
	return sum;
}

/* The byte count google-pprof --text --show_bytes gives FN (its flat
 * column), and whether FN is among the first two entries; -1 if absent. */
static long long pprof_bytes(const char *exe, const char *profile, const char *view,
			     const char *fn, int *rank)
{
	char cmd[1024], line[1024];
	snprintf(cmd, sizeof cmd, "google-pprof --text --show_bytes --%s '%s' '%s' 2>/dev/null",
		 view, exe, profile);
	FILE *f = popen(cmd, "r");
	long long found = -1;
	int entry = 0;
	*rank = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		long long flat;
		char pct1[32], pct2[32], name[512];
		long long cum;
		char pct3[32];
		if (sscanf(line, "%lld %31s %31s %lld %31s %511s", &flat, pct1, pct2, &cum, pct3,
			   name) != 6)
			continue;
		entry++;
		hk_note("%s: %s", view, line);
		/* GCC may name a clone "leak_small.constprop.0". */
		size_t len = strlen(fn);
		if (strncmp(name, fn, len) == 0 && (!name[len] || name[len] == '.') && found < 0) {
			found = flat;
			*rank = entry;
		}
	}
	pclose(f);
	return found;
}

static bool within(long long got, double truth)
{
	return got >= 0 && got >= truth * 0.8 && got <= truth * 1.2;
}

static char *find_profile(const char *dir, long pid, char kind, char *out, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char want[64];
	snprintf(want, sizeof want, "p.%ld.", pid);
	out[0] = '\0';
	while (d && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, want, strlen(want)) == 0 && n > 7 &&
		    e->d_name[n - 6] == kind && strcmp(e->d_name + n - 5, ".heap") == 0)
			snprintf(out, size, "%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
	return out[0] ? out : NULL;
}

/* Run with HAKMEM_PROF=1 from the start (see main). */
static int env_child(void)
{
	bool on = false;
	size_t len = sizeof on;
	CHECK(hk_ctl()("opt.prof", &on, &len, NULL, 0) == 0 && on, "HAKMEM_PROF=1: opt.prof is on");
	leak_small(kept);
	CHECK(hk_stat_req("prof.samples") > 0, "HAKMEM_PROF=1: blocks sampled from the start");
	return hk_done();
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "env-child") == 0)
		return env_child();
	if (system("google-pprof --version >/dev/null 2>&1") != 0) {
		printf("UNSUPPORTED: google-pprof not installed (Debian package google-perftools)\n");
		return 0;
	}
	if (!CHECK(hk_have_ctl(), "hakmem_ctl available"))
		return hk_done();
	char dir[] = "/tmp/hakmem-prof-XXXXXX", prefix[64], exe[512], path[600];
	if (!CHECK(mkdtemp(dir) != NULL, "mkdtemp"))
		return hk_done();
	snprintf(prefix, sizeof prefix, "%s/p", dir);
	hk_self_exe(exe, sizeof exe);

	CHECK(hk_action("prof.dump") == EAGAIN, "prof.dump with the profiler off: EAGAIN");
	CHECK(hk_set_str("opt.prof_prefix", prefix) == 0, "opt.prof_prefix = %s", prefix);
	CHECK(hk_set_u64("opt.prof_sample", RATE) == 0, "opt.prof_sample = %d", RATE);
	bool on = true;
	CHECK(hk_ctl()("opt.prof", NULL, NULL, &on, sizeof on) == 0, "opt.prof = true");

	void *probe = malloc(SMALL);
	CHECK(malloc_usable_size(probe) == (size_t)SMALL, "the small size is a size class");
	free(probe);

	leak_small(kept);
	leak_big(kept + SMALL_N);
	CHECK(hot_site() > 0, "hot loop ran");
	uint64_t samples = hk_stat_req("prof.samples");
	CHECK(samples > 0, "prof.samples: %llu blocks tracked", (unsigned long long)samples);
	CHECK(hk_action("prof.dump") == 0, "prof.dump");

	char bad[128];
	snprintf(bad, sizeof bad, "%s/no-such-dir/p", dir);
	CHECK(hk_set_str("opt.prof_prefix", bad) == 0 && hk_action("prof.dump") == ENOENT,
	      "prof.dump into a missing directory: ENOENT");
	CHECK(hk_set_str("opt.prof_prefix", prefix) == 0, "opt.prof_prefix restored");

	char *profile = find_profile(dir, (long)getpid(), 'u', path, sizeof path);
	if (!CHECK(profile != NULL, "profile written in %s", dir))
		return hk_done();
	int rank;
	long long small = pprof_bytes(exe, profile, "inuse_space", "leak_small", &rank);
	CHECK(rank == 1 || rank == 2, "in use: leak_small among the top two (rank %d)", rank);
	CHECK(within(small, (double)SMALL * SMALL_N), "in use: leak_small %lld bytes, truth %d",
	      small, SMALL * SMALL_N);
	long long big = pprof_bytes(exe, profile, "inuse_space", "leak_big", &rank);
	CHECK(rank == 1 || rank == 2, "in use: leak_big among the top two (rank %d)", rank);
	CHECK(within(big, (double)BIG * BIG_N), "in use: leak_big %lld bytes, truth %zu", big,
	      BIG * BIG_N);
	long long hot = pprof_bytes(exe, profile, "alloc_space", "hot_site", &rank);
	CHECK(rank == 1, "allocated: hot_site on top (rank %d)", rank);
	CHECK(within(hot, (double)HOT * HOT_N), "allocated: hot_site %lld bytes, truth %d", hot,
	      HOT * HOT_N);
	long long hot_live = pprof_bytes(exe, profile, "inuse_space", "hot_site", &rank);
	CHECK(hot_live < (long long)HOT * HOT_N / 100,
	      "in use: hot_site's freed blocks are not counted (%lld bytes)", hot_live);

	/* Periodic profiles: written when a sample is taken once the interval
	 * has passed, so keep sampling until one appears. */
	CHECK(hk_set_u64("opt.prof_interval_ms", 1) == 0, "opt.prof_interval_ms = 1");
	char ipath[600];
	bool periodic = false;
	for (int i = 0; i < 200000 && !periodic; i++) {
		free(hk_launder(malloc(65536)));
		if (i % 64 == 63)
			periodic = find_profile(dir, (long)getpid(), 'i', ipath, sizeof ipath) != NULL;
	}
	CHECK(periodic, "periodic profile (kind i) written");
	CHECK(hk_set_u64("opt.prof_interval_ms", 0) == 0, "opt.prof_interval_ms = 0");

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		free(hk_launder(malloc(100)));
		exit(0);
	}
	int status = -1;
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "child exited");
	char fpath[600];
	CHECK(find_profile(dir, (long)pid, 'f', fpath, sizeof fpath) != NULL,
	      "a process that exits with the profiler on writes its final profile");

	/* Switched on by the environment, at start-up. */
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char env[128];
		snprintf(env, sizeof env, "HAKMEM_PROF_PREFIX=%s", prefix);
		putenv(env);
		putenv((char *)"HAKMEM_PROF=1");
		execl(exe, exe, "env-child", (char *)NULL);
		_exit(4);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      WEXITSTATUS(status) == 0,
	      "a program run with HAKMEM_PROF=1 works");
	CHECK(find_profile(dir, (long)pid, 'f', fpath, sizeof fpath) != NULL,
	      "... and writes its final profile");

	for (int i = 0; i < SMALL_N + BIG_N; i++)
		free(kept[i]);
	CHECK(hk_stat_req("prof.samples") == 0, "every sampled block freed: prof.samples is 0");
	on = false;
	CHECK(hk_ctl()("opt.prof", NULL, NULL, &on, sizeof on) == 0, "opt.prof = false");

	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		hk_note("could not remove %s", dir);
	return hk_done();
}

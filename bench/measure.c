/* measure - run one command and measure it from the outside.
 *
 *   measure [--preload LIB] [--out FILE] [--sample-ms N --samples FILE]
 *           [--timeout SECONDS] -- command [args...]
 *
 * Runs the command as a child (with LD_PRELOAD=LIB when --preload is given
 * and not empty; with LD_PRELOAD removed otherwise), waits for it with
 * wait4() and writes one line of key=value pairs to FILE (default: stderr):
 *
 *   measure: status=0 wall=1.234567 user=1.100 sys=0.050 maxrss_kb=12345
 *            minflt=123 majflt=0 nvcsw=1 nivcsw=2 hwm_kb=12400
 *            [max_sample_rss_kb=... max_maps=...]
 *
 * status is the exit code, 128+N for a death by signal N, or "timeout".
 * maxrss_kb is the peak resident set of the command and of the children it
 * waited for, as wait4() (and so /usr/bin/time) reports it, measured the
 * same way whatever the allocator. This program is small, so the copy of
 * it that fork() makes and exec() replaces does not raise the peak (a
 * large parent, such as a Python runner, would).
 *
 * hwm_kb is the command's own peak (VmHWM of /proc/PID/status), read when
 * it exits, with its memory still mapped: the child is traced (ptrace,
 * stopping only at its exit), -1 where tracing is not allowed or the
 * process did not stop there (killed). It is exact, where maxrss_kb is
 * not: Linux keeps a process's resident-page count per CPU and wait4()
 * reports the sum without the per-CPU remainders, up to 32 pages a CPU
 * (2-180 KiB below VmHWM in runs of bench/tightloop here); for programs of
 * a few MiB that is several per cent. Children of the command are not
 * traced: their peak is only in maxrss_kb.
 *
 * With --sample-ms, the command's resident set (VmRSS) and number of
 * mappings (lines of /proc/PID/maps) are sampled every N ms and written to
 * the samples file, one "seconds rss_kb maps" line each.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The value in KiB of the field name ("VmRSS:") of /proc/PID/status. */
static long status_kb(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strstr(buf, name);
	return p ? strtol(p + strlen(name), NULL, 10) : -1;
}

static volatile sig_atomic_t timed_out;
static pid_t child;

static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(child, SIGKILL);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: measure [--preload LIB] [--out FILE] [--sample-ms N --samples FILE]\n"
		   "               [--timeout SECONDS] -- command [args...]\n");
}

int main(int argc, char **argv)
{
	const char *preload = NULL, *out = NULL, *samples = NULL;
	long sample_ms = 0;
	double timeout = 0;
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc)
			goto bad;
		if (!strcmp(a, "--preload"))
			preload = argv[++i];
		else if (!strcmp(a, "--out"))
			out = argv[++i];
		else if (!strcmp(a, "--samples"))
			samples = argv[++i];
		else if (!strcmp(a, "--sample-ms"))
			sample_ms = strtol(argv[++i], NULL, 10);
		else if (!strcmp(a, "--timeout"))
			timeout = strtod(argv[++i], NULL);
		else
			goto bad;
	}
	if (i >= argc || (sample_ms > 0) != (samples != NULL) || sample_ms < 0)
		goto bad;

	FILE *sf = NULL;
	if (samples && !(sf = fopen(samples, "w"))) {
		perror(samples);
		return 125;
	}
	FILE *of = stderr;
	if (out && !(of = fopen(out, "w"))) {
		perror(out);
		return 125;
	}

	double t0 = bench_now();
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 125;
	}
	if (pid == 0) {
		/* Until measure has attached (or given up). */
		raise(SIGSTOP);
		if (preload && *preload)
			setenv("LD_PRELOAD", preload, 1);
		else
			unsetenv("LD_PRELOAD");
		execvp(argv[i], argv + i);
		fprintf(stderr, "measure: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	/* A ^C reaches the child too: end only once it has exited. */
	signal(SIGINT, SIG_IGN);
	child = pid;
	int status = 0;
	if (waitpid(pid, &status, WUNTRACED) != pid || !WIFSTOPPED(status)) {
		perror("measure: waitpid");
		return 125;
	}
	/* Stops at the child's exit only (and at signals, passed on); the
	 * child dies with measure. */
	bool traced = ptrace(PTRACE_SEIZE, pid, NULL,
			     (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) == 0;
	kill(pid, SIGCONT);
	t0 = bench_now();
	if (timeout > 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		struct itimerval it = { { 0, 0 }, { (time_t)timeout,
						    (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6) } };
		setitimer(ITIMER_REAL, &it, NULL);
	}

	struct rusage ru;
	long max_rss = -1, max_maps = -1, hwm = -1;
	char maps_path[64];
	snprintf(maps_path, sizeof maps_path, "/proc/%d/maps", (int)pid);
	double next_sample = t0;
	for (;;) {
		pid_t r = wait4(pid, &status, sample_ms ? WNOHANG : 0, &ru);
		if (r == pid && traced && WIFSTOPPED(status)) {
			int event = status >> 16;
			if (event == PTRACE_EVENT_EXIT) {
				hwm = status_kb(pid, "\nVmHWM:");
				ptrace(PTRACE_CONT, pid, NULL, NULL);
			} else if (event == PTRACE_EVENT_STOP) {
				/* A stop (the one before exec too): a measured
				 * command runs on. */
				ptrace(PTRACE_CONT, pid, NULL, NULL);
			} else {
				ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status));
			}
			continue;
		}
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR) {
			perror("measure: wait4");
			return 125;
		}
		if (!sample_ms)
			continue;	/* EINTR */
		double t = bench_now();
		if (t >= next_sample) {
			long rss = status_kb(pid, "\nVmRSS:"), maps = hk_count_lines(maps_path);
			if (rss >= 0 && maps >= 0) {
				fprintf(sf, "%.3f %ld %ld\n", t - t0, rss, maps);
				fflush(sf);
				if (rss > max_rss)
					max_rss = rss;
				if (maps > max_maps)
					max_maps = maps;
			}
			next_sample += (double)sample_ms / 1000.0;
		}
		struct timespec nap = { 0, 10 * 1000 * 1000 };	/* 10 ms */
		nanosleep(&nap, NULL);
	}
	double wall = bench_now() - t0;
	if (sf)
		fclose(sf);

	char st[32];
	if (timed_out)
		snprintf(st, sizeof st, "timeout");
	else if (WIFEXITED(status))
		snprintf(st, sizeof st, "%d", WEXITSTATUS(status));
	else
		snprintf(st, sizeof st, "%d", 128 + WTERMSIG(status));
	fprintf(of,
		"measure: status=%s wall=%.6f user=%.3f sys=%.3f maxrss_kb=%ld minflt=%ld "
		"majflt=%ld nvcsw=%ld nivcsw=%ld hwm_kb=%ld",
		st, wall, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss,
		ru.ru_minflt, ru.ru_majflt, ru.ru_nvcsw, ru.ru_nivcsw, hwm);
	if (sample_ms)
		fprintf(of, " max_sample_rss_kb=%ld max_maps=%ld", max_rss, max_maps);
	fprintf(of, "\n");
	if (of != stderr)
		fclose(of);
	if (timed_out)
		return 124;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

bad:
	usage(stderr);
	return 125;
}

/* hakmem-stat: the allocator statistics of a running process that uses
 * hakmem, read from its statistics page (src/statpage.h) without stopping
 * or tracing it. See hakmem-stat(1). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "statpage.h"

#define EXIT_USAGE 2

static const char *prog = "hakmem-stat";
static long pid;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--json] [-i SECONDS [-n COUNT]] [-w MILLISECONDS] PID\n"
		"Print the allocator statistics of process PID, which runs on hakmem.\n"
		"  -j, --json          one JSON object (one per line with -i)\n"
		"  -i, --interval S    print again every S seconds (decimals allowed)\n"
		"  -n, --count N       with -i: stop after N reports\n"
		"  -w, --wait MS       how long the process has to answer (default 500;\n"
		"                      0: do not ask, print the figures it last wrote)\n"
		"  -h, --help          this text\n"
		"  -V, --version       the version\n",
		prog);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool is_page_link(const char *target)
{
	static const char name[] = "/memfd:" HK_STATPAGE_NAME " ";
	return strncmp(target, name, sizeof name - 1) == 0;
}

static void refuse(void)
{
	fprintf(stderr,
		"%s: process %ld: permission denied (only its owner and root may read its "
		"statistics)\n",
		prog, pid);
	exit(EXIT_FAILURE);
}

/* The page's descriptor in /proc/PID/fd (open to the owner and root), or
 * the mapping in /proc/PID/map_files (open to root only: the process may
 * have closed the descriptor). Sets *writable. */
static int open_page(bool *writable)
{
	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	DIR *d = opendir(path);
	if (!d) {
		if (errno == EACCES || errno == EPERM)
			refuse();
		if (errno == ENOENT) {
			fprintf(stderr, "%s: no process %ld\n", prog, pid);
			exit(EXIT_FAILURE);
		}
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		exit(EXIT_FAILURE);
	}
	int fd = -1;
	struct dirent *e;
	while (fd < 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/%ld/fd/%s", pid, e->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!is_page_link(target))
			continue;
		*writable = true;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			*writable = false;
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	closedir(d);
	if (fd >= 0)
		return fd;

	snprintf(path, sizeof path, "/proc/%ld/maps", pid);
	FILE *maps = fopen(path, "re");
	if (!maps)
		return -1;
	char line[512];
	while (fd < 0 && fgets(line, sizeof line, maps)) {
		char *name = strchr(line, '/');
		char *dash = strchr(line, '-'), *space = strchr(line, ' ');
		if (!name || !dash || !space || space < dash || !is_page_link(name))
			continue;
		*space = '\0';
		snprintf(path, sizeof path, "/proc/%ld/map_files/%.64s", pid, line);
		*writable = true;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			*writable = false;
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	fclose(maps);
	return fd;
}

/* The figures, copied while no write is under way. */
static bool snapshot(const struct hk_statpage *p, struct hk_statpage *out)
{
	for (int tries = 0; tries < 10000; tries++) {
		uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (seq & 1) {
			sched_yield();
			continue;
		}
		memcpy(out, p, sizeof *out);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == seq)
			return true;
	}
	return false;
}

/* "Threads:" and "VmRSS:" (in kB) of /proc/PID/status. */
static void process_status(long *threads, long *rss_kb)
{
	char path[64], line[256];
	*threads = *rss_kb = -1;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "Threads:", 8) == 0)
			*threads = strtol(line + 8, NULL, 10);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
}

#define U(x) ((unsigned long long)(x))

static void print_json(const struct hk_statpage *s, bool fresh, uint64_t age, long threads,
		       long rss_kb)
{
	const struct hk_figures *f = &s->f;
	printf("{\"version\":\"%.*s\",\"pid\":%ld,\"fresh\":%s,\"age_ms\":%llu,"
	       "\"threads\":%ld,\"process_rss\":%lld,\"epoch\":%llu",
	       (int)sizeof s->version_string, s->version_string, pid, fresh ? "true" : "false",
	       U(age), threads, rss_kb < 0 ? -1LL : (long long)rss_kb * 1024, U(f->epoch));
	printf(",\"allocated\":%llu,\"resident\":%llu,\"metadata\":%llu", U(f->allocated),
	       U(f->resident), U(f->metadata));
	printf(",\"mapped\":%llu,\"mappings\":%llu", U(f->mapped), U(f->mappings));
	printf(",\"superslabs\":{\"live\":%llu,\"created\":%llu,\"released\":%llu}",
	       U(f->superslabs_live), U(f->superslabs_created), U(f->superslabs_released));
	printf(",\"dirty\":%llu,\"purged\":%llu", U(f->dirty), U(f->purged));
	printf(",\"large\":{\"live\":%llu,\"bytes\":%llu,\"cached\":%llu}", U(f->large_live),
	       U(f->large_bytes), U(f->large_cached));
	printf(",\"frees\":{\"local\":%llu,\"remote\":%llu}", U(f->frees_local),
	       U(f->frees_remote));
	printf(",\"remote_pending\":%llu,\"classes\":[", U(f->remote_pending));
	for (unsigned c = 0; c < f->nclasses && c < HK_STATPAGE_MAX_CLASSES; c++)
		printf("%s{\"size\":%llu,\"blocks\":%llu,\"slabs\":%llu}", c ? "," : "",
		       U(f->classes[c].size), U(f->classes[c].blocks), U(f->classes[c].slabs));
	printf("]}\n");
}

static void print_text(const struct hk_statpage *s, bool fresh, uint64_t age, long threads,
		       long rss_kb)
{
	const struct hk_figures *f = &s->f;
	printf("process %ld (hakmem %.*s), epoch %llu, ", pid, (int)sizeof s->version_string,
	       s->version_string, U(f->epoch));
	if (!s->publications)
		printf("no figures yet (the process made no allocation slow path)\n");
	else
		printf("figures %s %llu.%03llu s old\n",
		       fresh ? "fresh," : "NOT fresh (the process made no allocation slow path):",
		       U(age / 1000), U(age % 1000));
	printf("  threads            %12ld\n", threads);
	printf("  process RSS        %12lld bytes\n", rss_kb < 0 ? -1LL : (long long)rss_kb * 1024);
	printf("  allocated          %12llu bytes in blocks in use\n", U(f->allocated));
	printf("  resident           %12llu bytes at most, %llu of them metadata\n",
	       U(f->resident), U(f->metadata));
	printf("  mapped             %12llu bytes in %llu mappings\n", U(f->mapped),
	       U(f->mappings));
	printf("  superslabs         %12llu live, %llu created, %llu released\n",
	       U(f->superslabs_live), U(f->superslabs_created), U(f->superslabs_released));
	printf("  free slots         %12llu bytes resident, %llu decommitted so far\n",
	       U(f->dirty), U(f->purged));
	printf("  large blocks       %12llu live, %llu bytes, %llu bytes cached\n",
	       U(f->large_live), U(f->large_bytes), U(f->large_cached));
	printf("  frees              %12llu local, %llu remote\n", U(f->frees_local),
	       U(f->frees_remote));
	printf("  remote pending     %12llu slabs with remote frees not yet drained\n",
	       U(f->remote_pending));
	printf("  class  block size  blocks in use  slabs\n");
	for (unsigned c = 0; c < f->nclasses && c < HK_STATPAGE_MAX_CLASSES; c++)
		if (f->classes[c].slabs)
			printf("  %5u  %10llu  %13llu  %5llu\n", c, U(f->classes[c].size),
			       U(f->classes[c].blocks), U(f->classes[c].slabs));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	double interval = 0;
	long count = -1, wait = 500;
	char *end;
	int c;
	while ((c = getopt_long(argc, argv, "ji:n:w:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval > 0) || interval > 86400) {
				fprintf(stderr, "%s: bad interval '%s'\n", prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'n':
			count = strtol(optarg, &end, 10);
			if (*end || count < 1) {
				fprintf(stderr, "%s: bad count '%s'\n", prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			wait = strtol(optarg, &end, 10);
			if (*end || wait < 0 || wait > 600000) {
				fprintf(stderr, "%s: bad wait '%s'\n", prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("%s %s\n", prog, PACKAGE_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	pid = strtol(argv[optind], &end, 10);
	if (*end || pid <= 0) {
		fprintf(stderr, "%s: bad process id '%s'\n", prog, argv[optind]);
		return EXIT_USAGE;
	}

	bool writable = false;
	int fd = open_page(&writable);
	if (fd < 0) {
		fprintf(stderr,
			"%s: process %ld has no hakmem statistics page (it does not run on "
			"hakmem, or runs with stats_page off)\n",
			prog, pid);
		return EXIT_FAILURE;
	}
	struct hk_statpage *p = mmap(NULL, HK_STATPAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0),
				     MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: process %ld: cannot map its statistics page: %s\n", prog, pid,
			strerror(errno));
		return EXIT_FAILURE;
	}
	if (p->magic != HK_STATPAGE_MAGIC || p->version != HK_STATPAGE_VERSION ||
	    p->header != offsetof(struct hk_statpage, f)) {
		fprintf(stderr, "%s: process %ld: statistics page of another version of hakmem\n",
			prog, pid);
		return EXIT_FAILURE;
	}
	if (!writable && wait > 0)
		fprintf(stderr, "%s: process %ld: page read-only, showing the last figures\n", prog,
			pid);

	bool tty = isatty(STDOUT_FILENO);
	for (long n = 0; count < 0 || n < count; n++) {
		bool fresh = false;
		if (writable && wait > 0) {
			uint64_t want = __atomic_add_fetch(&p->request, 1, __ATOMIC_RELAXED);
			for (uint64_t start = now_ms(); now_ms() - start <= (uint64_t)wait;
			     sleep_ms(5)) {
				if ((int64_t)(__atomic_load_n(&p->served, __ATOMIC_ACQUIRE) - want) >= 0) {
					fresh = true;
					break;
				}
			}
		}
		struct hk_statpage s;
		if (!snapshot(p, &s)) {
			fprintf(stderr, "%s: process %ld: the page is being written too often\n",
				prog, pid);
			return EXIT_FAILURE;
		}
		if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
			fprintf(stderr, "%s: process %ld has exited\n", prog, pid);
			return EXIT_FAILURE;
		}
		uint64_t now = now_ms();
		uint64_t age = s.publications && now > s.time_ms ? now - s.time_ms : 0;
		long threads, rss_kb;
		process_status(&threads, &rss_kb);
		if (json) {
			print_json(&s, fresh, age, threads, rss_kb);
		} else {
			if (interval > 0 && tty)
				fputs("\033[H\033[2J", stdout);
			print_text(&s, fresh, age, threads, rss_kb);
		}
		fflush(stdout);
		if (interval <= 0 || (count > 0 && n + 1 == count))
			break;
		sleep_ms((uint64_t)(interval * 1000));
	}
	return EXIT_SUCCESS;
}

/* The observation names of hakmem_ctl(): stats.json (the protocol of a
 * text name: the length, EINVAL and the length needed for a short buffer,
 * EPERM for a write; the figures are those of the other stats.* names),
 * stats.resident and stats.metadata (bounded by what they count), and
 * the options stats_file (a text option), stats_format,
 * stats_interval_ms and stats_page (the page's descriptor comes and goes
 * in /proc/self/fd). The JSON itself is parsed by tests/hakmem.stat. */
#include "../lib/check.h"

#include <dirent.h>

#include "hakmem.h"

static uint64_t get(const char *name)
{
	return hk_stat_req(name);
}

static char *get_str(const char *name)
{
	const char *s = NULL;
	size_t len = sizeof s;
	int rc = hakmem_ctl(name, &s, &len, NULL, 0);
	return rc == 0 && s ? strdup(s) : strdup("(unreadable)");
}

/* "key":NUMBER in the JSON text j (the first occurrence), or UINT64_MAX. */
static uint64_t json_u64(const char *j, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(j, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : UINT64_MAX;
}

/* The descriptor of the statistics page in /proc/self/fd, or -1. */
static int page_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	int found = -1;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], target[300];
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "/memfd:hakmem-stats ", 20) == 0)
			found = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return found;
}

static void check_json(void)
{
	static void *keep[1000];
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc((size_t)(16 + i * 37));
	void *big = malloc(300000);
	CHECK(hk_set_u64("epoch", 1) == 0, "epoch written");

	size_t need = 0;
	int rc = hakmem_ctl("stats.json", NULL, &need, NULL, 0);
	CHECK(rc == 0 && need > 100, "stats.json without a buffer gives its length (rc %d, %zu)",
	      rc, need);

	char small[16];
	size_t len = sizeof small;
	errno = 4321;
	rc = hakmem_ctl("stats.json", small, &len, NULL, 0);
	CHECK(rc == EINVAL && errno == 4321 && len == need && small[sizeof small - 1] == '\0',
	      "a short buffer: EINVAL, the length needed, NUL-terminated (rc %d, %zu)", rc, len);

	char *buf = malloc(need + 256);
	len = need + 256;
	rc = hakmem_ctl("stats.json", buf, &len, NULL, 0);
	CHECK(rc == 0 && len == strlen(buf) + 1,
	      "stats.json read: the length includes the NUL (rc %d, %zu, strlen %zu)", rc, len,
	      strlen(buf));
	CHECK(buf[0] == '{' && buf[strlen(buf) - 1] == '}' && !strchr(buf, '\n'),
	      "stats.json is one object on one line");

	static const char *const same[] = { "allocated", "resident", "metadata", "mapped",
					    "mappings", "dirty", "purged", "remote_pending" };
	CHECK(json_u64(buf, "epoch") == get("epoch"), "stats.json: the latest epoch (%llu, %llu)",
	      (unsigned long long)json_u64(buf, "epoch"), (unsigned long long)get("epoch"));
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "stats.%s", same[i]);
		uint64_t a = json_u64(buf, same[i]), b = get(name);
		CHECK(a == b, "stats.json's %s is %s (%llu, %llu)", same[i], name,
		      (unsigned long long)a, (unsigned long long)b);
	}
	/* The first "size" is class 0's, the first "live" superslabs'. */
	CHECK(json_u64(buf, "size") == get("stats.classes.0.size") &&
		      json_u64(buf, "live") == get("stats.superslabs.live"),
	      "stats.json: nested figures");
	CHECK(hakmem_ctl("stats.json", NULL, NULL, "x", 1) == EPERM, "stats.json is read-only");

	uint64_t alloc = get("stats.allocated"), res = get("stats.resident"),
		 meta = get("stats.metadata"), mapped = get("stats.mapped");
	CHECK(alloc >= 1000 * 16 + 300000 && alloc <= res && meta > 0 && meta <= res &&
		      res <= mapped,
	      "allocated <= resident, 0 < metadata <= resident <= mapped (%llu %llu %llu %llu)",
	      (unsigned long long)alloc, (unsigned long long)res, (unsigned long long)meta,
	      (unsigned long long)mapped);
	free(buf);
	for (int i = 0; i < 1000; i++)
		free(keep[i]);
	free(big);
}

static void check_options(void)
{
	CHECK(hk_set_str("opt.stats_file", "/tmp/hakmem.%p.json") == 0, "stats_file set");
	char *s = get_str("opt.stats_file");
	CHECK(strcmp(s, "/tmp/hakmem.%p.json") == 0, "stats_file reads back (%s)", s);
	free(s);
	char longer[400];
	memset(longer, 'a', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	CHECK(hk_set_str("opt.stats_file", longer) == EINVAL, "stats_file: too long is EINVAL");
	s = get_str("opt.stats_file");
	CHECK(strcmp(s, "/tmp/hakmem.%p.json") == 0, "stats_file unchanged by a refused value");
	free(s);
	CHECK(hk_set_str("opt.stats_file", "") == 0, "stats_file back to stderr");

	CHECK(hk_set_str("opt.stats_format", "json") == 0, "stats_format json");
	s = get_str("opt.stats_format");
	CHECK(strcmp(s, "json") == 0, "stats_format reads json (%s)", s);
	free(s);
	CHECK(hk_set_str("opt.stats_format", "xml") == EINVAL, "stats_format xml is EINVAL");
	CHECK(hk_set_str("opt.stats_format", "text") == 0, "stats_format text");

	CHECK(hk_set_u64("opt.stats_interval_ms", 250) == 0 &&
		      get("opt.stats_interval_ms") == 250,
	      "stats_interval_ms set");
	CHECK(hk_set_u64("opt.stats_interval_ms", 86400001) == EINVAL,
	      "stats_interval_ms over a day is EINVAL");
	CHECK(hk_set_u64("opt.stats_interval_ms", 0) == 0, "stats_interval_ms off");

	int fd = page_fd();
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	CHECK(fd >= 0 && (rl.rlim_cur <= 48 || fd >= 48),
	      "the statistics page is open, at descriptor 48 or above (%d)", fd);
	bool off = false, on = true;
	CHECK(hakmem_ctl("opt.stats_page", NULL, NULL, &off, sizeof off) == 0 && page_fd() < 0,
	      "stats_page off: the descriptor is closed");
	CHECK(hakmem_ctl("opt.stats_page", NULL, NULL, &on, sizeof on) == 0 && page_fd() >= 0,
	      "stats_page on again: a descriptor again");
	CHECK(hk_set_u64("epoch", 1) == 0, "publishing after the page came back");
}

static bool is_devnull(int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	return n > 0 && (target[n] = '\0', strcmp(target, "/dev/null") == 0);
}

/* A program that closes the page's descriptor and reuses its number: the
 * library must leave that descriptor alone, in a fork child too. */
static void check_reused_fd(void)
{
	int fd = page_fd();
	if (fd < 0) {
		FAILED("the page's descriptor is there to be closed");
		return;
	}
	close(fd);
	int null = open("/dev/null", O_RDONLY);
	CHECK(null >= 0 && dup2(null, fd) == fd, "the page's number reused for /dev/null");
	close(null);
	pid_t pid = fork();
	if (pid == 0) {
		void *p = malloc(100); /* the child uses its heap */
		free(p);
		_exit(is_devnull(fd) ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "fork: the child's descriptor %d is still the program's", fd);
	CHECK(is_devnull(fd), "fork: the parent's descriptor %d is still the program's", fd);
	bool off = false, on = true;
	hakmem_ctl("opt.stats_page", NULL, NULL, &off, sizeof off);
	CHECK(is_devnull(fd), "stats_page off does not close the program's descriptor %d", fd);
	hakmem_ctl("opt.stats_page", NULL, NULL, &on, sizeof on);
	CHECK(page_fd() >= 0 && page_fd() != fd, "stats_page on: a page again, elsewhere");
	close(fd);
}

static void check_names(void)
{
	size_t len = 0;
	hakmem_ctl("ctl.names", NULL, &len, NULL, 0);
	char *names = malloc(len);
	hakmem_ctl("ctl.names", names, &len, NULL, 0);
	static const char *const want[] = {
		"stats.resident\tu64\tro\n",	   "stats.metadata\tu64\tro\n",
		"stats.remote_pending\tu64\tro\n", "stats.json\ttext\tro\n",
		"opt.stats_format\tstr\trw\n",	   "opt.stats_file\tstr\trw\n",
		"opt.stats_interval_ms\tu64\trw\n", "opt.stats_page\tbool\trw\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		CHECK(strstr(names, want[i]) != NULL, "ctl.names lists %.*s", (int)strcspn(want[i], "\t"),
		      want[i]);
	free(names);
}

int main(void)
{
	check_json();
	check_options();
	check_reused_fd();
	check_names();
	return hk_done();
}

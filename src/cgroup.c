#define _GNU_SOURCE
#include "cgroup.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "log.h"

/* Paths of cgroups and mount points are followed up to this length (the
 * kernel allows longer ones; services' and containers' cgroups are far
 * shorter); a longer one counts as no cgroup. Short, so that the reads at
 * start-up need a few KiB of stack, not tens. */
#define CG_PATH 1024

static uint64_t limit;
static char limit_dir[CG_PATH];	/* the cgroup whose file set the limit */

/* Whether a path of length n was written whole into a buffer of size. */
static bool fits(size_t n, size_t size)
{
	return n + 1 < size;
}

/* Read up to size - 1 bytes of path into buf, NUL-terminated; length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The number in dir/name (memory.max: a byte count or "max"); 0 for "max",
 * a missing file or anything else. */
static uint64_t read_bytes(const char *dir, const char *name)
{
	char path[CG_PATH + 32], buf[32];
	if (!fits(hk_fmt(path, sizeof path, "%s/%s", dir, name), sizeof path) ||
	    read_small(path, buf, sizeof buf) <= 0 || buf[0] < '0' || buf[0] > '9')
		return 0;
	uint64_t v = 0;
	for (const char *p = buf; *p >= '0' && *p <= '9' && v < UINT64_MAX / 10; p++)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

/* The files of a cgroup version: its limits and its current usage. */
struct files {
	const char *limits[2];	/* NULL when absent */
	const char *current;
};
static const struct files v2 = { { "memory.max", "memory.high" }, "memory.current" };
/* v1 has no memory.high (its soft limit only guides reclaim); "no limit"
 * is a huge number there. */
static const struct files v1_files = { { "memory.limit_in_bytes", NULL }, "memory.usage_in_bytes" };
static const struct files *files = &v2;

static void consider(const char *dir)
{
	for (unsigned i = 0; i < 2 && files->limits[i]; i++) {
		uint64_t v = read_bytes(dir, files->limits[i]);
		if (v >= (uint64_t)1 << 62)
			v = 0;
		if (v && (!limit || v < limit)) {
			limit = v;
			hk_fmt(limit_dir, sizeof limit_dir, "%s", dir);
		}
	}
}

/* Call fn(line, arg) on each line of path (lines longer than 1 KiB are
 * skipped); stops when fn returns true. */
static void each_line(const char *path, bool (*fn)(char *line, void *arg), void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	char buf[4096];
	size_t len = 0;
	bool skipping = false;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *start = buf, *nl;
		while ((nl = memchr(start, '\n', (size_t)(buf + len - start)))) {
			*nl = '\0';
			if (!skipping && fn(start, arg)) {
				close(fd);
				return;
			}
			skipping = false;
			start = nl + 1;
		}
		len = (size_t)(buf + len - start);
		memmove(buf, start, len);
		if (len > 1024) {
			skipping = true;
			len = 0;
		}
	}
	close(fd);
}

struct found {
	char path[CG_PATH];
	bool v1;		/* look for the v1 memory controller instead */
};

/* /proc/self/cgroup: "0::/path" is the v2 cgroup, "N:...,memory,...:/path"
 * the v1 memory controller's. */
static bool cgroup_line(char *line, void *arg)
{
	struct found *f = arg;
	char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2)
		return false;
	*c2 = '\0';
	bool want;
	if (f->v1) {
		want = false;
		for (char *w = c1 + 1; w && !want; w = strchr(w, ',')) {
			w += *w == ',';
			want = strncmp(w, "memory", 6) == 0 && (w[6] == ',' || !w[6]);
		}
	} else {
		want = c1 == line + 1 && line[0] == '0' && c2 == c1 + 1;
	}
	if (want && !fits(hk_fmt(f->path, sizeof f->path, "%s", c2 + 1), sizeof f->path))
		f->path[0] = '\0';
	return want;
}

/* /proc/self/mountinfo: "id parent dev root mountpoint opts ... - type
 * source superopts": where the hierarchy is mounted (v2: /sys/fs/cgroup,
 * or /sys/fs/cgroup/unified on hybrid systems; v1: the "cgroup" mount
 * whose options name memory), and which of its cgroups is the mount's
 * root. f->path receives "mountpoint\troot". */
static bool mount_line(char *line, void *arg)
{
	struct found *f = arg;
	char *sep = strstr(line, f->v1 ? " - cgroup " : " - cgroup2 ");
	if (!sep)
		return false;
	if (f->v1) {
		const char *super = strrchr(sep, ' ');
		const char *m = super ? strstr(super, "memory") : NULL;
		if (!m || (m[-1] != ',' && m[-1] != ' ') || (m[6] != ',' && m[6]))
			return false;
	}
	*sep = '\0';
	char *field[5];
	char *p = line;
	for (int i = 0; i < 5; i++) {
		field[i] = p;
		p = strchr(p, ' ');
		if (!p && i < 4)
			return false;
		if (p)
			*p++ = '\0';
	}
	if (!fits(hk_fmt(f->path, sizeof f->path, "%s\t%s", field[4], field[3]), sizeof f->path))
		f->path[0] = '\0';
	return true;
}

/* Read the limits of the process's cgroup in one version; false if the
 * process is in no such hierarchy. */
static bool read_version(bool v1)
{
	struct found cg = { "", v1 }, mnt = { "", v1 };
	each_line("/proc/self/cgroup", cgroup_line, &cg);
	each_line("/proc/self/mountinfo", mount_line, &mnt);
	char *tab = strchr(mnt.path, '\t');
	if (!cg.path[0] || !tab)
		return false;
	*tab = '\0';
	files = v1 ? &v1_files : &v2;
	const char *root = tab + 1, *rel = cg.path;
	size_t rl = strlen(root);
	/* A mount of part of the hierarchy (a container's) shows the cgroups
	 * below its root. */
	if (strcmp(root, "/") != 0 && strncmp(rel, root, rl) == 0)
		rel += rl;
	char dir[CG_PATH];
	size_t base = hk_fmt(dir, sizeof dir, "%s", mnt.path);
	if (!fits(base + hk_fmt(dir + base, sizeof dir - base, "%s", rel), sizeof dir))
		return false;
	/* Limits of the ancestors apply too: walk up to the mount point. */
	for (;;) {
		consider(dir);
		char *slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < base)
			break;
		*slash = '\0';
	}
	return true;
}

void hk_cgroup_init(void)
{
	const char *test = getauxval(AT_SECURE) ? NULL : getenv("HAKMEM_TEST_CGROUP");
	if (test && *test) {
		consider(test);
		return;
	}
	/* v2 first; on a hybrid system the memory controller may be v1's. */
	if (!read_version(false) || !limit)
		read_version(true);
}

uint64_t hk_cgroup_limit(void)
{
	return limit;
}

bool hk_cgroup_pressed(void)
{
	if (!limit)
		return false;
	uint64_t cur = read_bytes(limit_dir, files->current);
	return cur > limit - limit / 8;
}

/* count_lines.h - the number of lines of a file, e.g. of the mappings in
 * /proc/PID/maps.  Shared by the helpers of the test programs
 * (tests/lib/check.h) and of the benchmark workloads (bench/bench.h),
 * which count mappings the same way.  Needs <errno.h>, <fcntl.h> and
 * <unistd.h>. */
#ifndef HAKMEM_COUNT_LINES_H
#define HAKMEM_COUNT_LINES_H

/* -1 if the file cannot be opened. */
static inline long hk_count_lines(const char *path)
{
	char buf[16384];
	long lines = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines += buf[i] == '\n';
	}
	close(fd);
	return lines;
}

#endif

#define _GNU_SOURCE
#include "foreign.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* glibc's own entry points (exported by libc.so.6 since 2.2.5). */
extern void __libc_free(void *);

/* glibc's chunk header precedes the block: prev_size, then size with three
 * flag bits. */
#define PREV_INUSE 1u
#define IS_MMAPPED 2u
#define NON_MAIN_ARENA 4u
#define ARENA_HEAP_ALIGN ((uintptr_t)64 << 20) /* HEAP_MAX_SIZE on 64-bit */

struct mapping {
	uintptr_t start, end;
	bool writable, anonymous, heap;
};

/* Find the mapping holding addr in /proc/self/maps, reading it through a
 * stack buffer. */
static bool find_mapping(uintptr_t addr, struct mapping *m)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	char buf[4096];
	size_t have = 0;
	bool found = false;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		char *line = buf, *end = buf + have, *nl;
		while ((nl = memchr(line, '\n', (size_t)(end - line)))) {
			uintptr_t lo = 0, hi = 0;
			char *q = line;
			for (; *q != '-'; q++)
				lo = lo * 16 + (uintptr_t)(*q <= '9' ? *q - '0' : *q - 'a' + 10);
			for (q++; *q != ' '; q++)
				hi = hi * 16 + (uintptr_t)(*q <= '9' ? *q - '0' : *q - 'a' + 10);
			if (addr >= lo && addr < hi) {
				/* "rw-p offset dev inode   name" */
				const char *perm = q + 1;
				const char *name = perm;
				for (int field = 0; field < 4 && name < nl; name++)
					if (*name == ' ' && name[1] != ' ')
						field++;
				m->start = lo;
				m->end = hi;
				m->writable = perm[0] == 'r' && perm[1] == 'w';
				m->anonymous = name >= nl;
				m->heap = (size_t)(nl - name) == 6 && memcmp(name, "[heap]", 6) == 0;
				found = true;
				goto out;
			}
			line = nl + 1;
		}
		have = (size_t)(end - line);
		memmove(buf, line, have);
	}
out:
	close(fd);
	return found;
}

size_t hk_foreign_usable(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	struct mapping m;
	if ((a & 15) || !find_mapping(a, &m) || !m.writable || a - m.start < 16)
		return 0;
	const size_t *hdr = (const size_t *)(a - 16);
	size_t prev = hdr[0], size = hdr[1] & ~(size_t)7, flags = hdr[1] & 7;
	uintptr_t chunk = a - 16;
	if (size < 32)
		return 0;
	if (m.heap && !(flags & (IS_MMAPPED | NON_MAIN_ARENA)) && chunk + size <= m.end)
		return size - 8;
	/* A chunk with its own mapping (which the kernel may have merged with
	 * its neighbours): whole pages from its start to its end. */
	if (m.anonymous && (flags & IS_MMAPPED) && prev < chunk - m.start + 1 &&
	    ((chunk - prev) & (HK_PAGE_SIZE - 1)) == 0 && ((prev + size) & (HK_PAGE_SIZE - 1)) == 0 &&
	    chunk + size <= m.end)
		return size - 16;
	if (m.anonymous && (flags & NON_MAIN_ARENA) && !(flags & IS_MMAPPED) &&
	    m.start % ARENA_HEAP_ALIGN == 0 && chunk + size <= m.end)
		return size - 8;
	return 0;
}

bool hk_foreign_free(void *p)
{
	static atomic_bool said;
	if (!hk_foreign_usable(p))
		return false;
	if (!atomic_exchange(&said, true))
		hk_message("free(): %p comes from the C library's malloc (a library calling it "
			   "directly, e.g. loaded with RTLD_DEEPBIND); handed back to it",
			   p);
	__libc_free(p);
	return true;
}

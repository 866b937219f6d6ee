/* count_allocs - a preload library that counts a program's allocations.
 *
 * bench/run compiles it (cc -shared -fPIC) and preloads it once, with
 * glibc's malloc underneath, into each real program of the suite (python,
 * perl, sqlite, gcc), so that their page faults can be given per million
 * allocations like the micro-benchmarks' per million operations.
 *
 * It counts calls of malloc, calloc, realloc, posix_memalign,
 * aligned_alloc and memalign, and passes them on to glibc's own entry
 * points (__libc_malloc and friends); free is not wrapped. At exit each
 * process appends its count, one number and a newline, to the file named
 * by COUNT_ALLOCS_OUT (processes that exec or _exit write nothing; the
 * runner adds up the lines).
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
void *__libc_memalign(size_t align, size_t size);

static atomic_ulong count;

static inline void counted(void)
{
	atomic_fetch_add_explicit(&count, 1, memory_order_relaxed);
}

void *malloc(size_t size)
{
	counted();
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	counted();
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	counted();
	return __libc_realloc(p, size);
}

void *memalign(size_t align, size_t size)
{
	counted();
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	counted();
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	counted();
	void *p = __libc_memalign(align, size);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

__attribute__((destructor)) static void report(void)
{
	const char *path = getenv("COUNT_ALLOCS_OUT");
	if (!path || !*path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[32];
	int n = snprintf(line, sizeof line, "%lu\n",
			 atomic_load_explicit(&count, memory_order_relaxed));
	if (n > 0 && write(fd, line, (size_t)n) < 0)
		n = 0;
	close(fd);
}

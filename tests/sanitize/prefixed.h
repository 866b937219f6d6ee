/* prefixed.h: run a test program's allocations through hakmem's prefixed
 * API, for builds under a sanitizer (tools/check-sanitizers).
 *
 * The program is compiled with -include prefixed.h and linked with the
 * engine built with -DHAKMEM_PREFIX_ONLY, which defines only hakmem_*: the
 * sanitizer keeps its own malloc for the C library and itself, and the
 * program's own calls of the malloc family go to hakmem.
 *
 * How: this header first includes every system header the tests use (so
 * their declarations of malloc and friends are read as they are, and a
 * later #include of them by the program does nothing), then defines the
 * names of the malloc family as macros for wrappers that count the calls
 * and call hakmem_*. At exit a destructor prints, as a "note:" line, how
 * many calls went to hakmem and hakmem's SuperSlab statistics;
 * tools/check-sanitizers requires both to be non-zero, which shows that the
 * program's memory really came from hakmem.
 *
 * Only the program's direct calls are routed: a block that the C library
 * allocates (strdup, getline, ...) must not be passed to free(); the test
 * programs built this way do not do that.
 */
#ifndef HAKMEM_TEST_PREFIXED_H
#define HAKMEM_TEST_PREFIXED_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "hakmem.h"

static unsigned long hk_prefixed_calls;

#define HK_PREFIXED_COUNT() __atomic_add_fetch(&hk_prefixed_calls, 1, __ATOMIC_RELAXED)

static inline void *hk_prefixed_malloc(size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_malloc(n);
}

static inline void *hk_prefixed_calloc(size_t n, size_t m)
{
	HK_PREFIXED_COUNT();
	return hakmem_calloc(n, m);
}

static inline void *hk_prefixed_realloc(void *p, size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_realloc(p, n);
}

static inline void *hk_prefixed_reallocarray(void *p, size_t n, size_t m)
{
	HK_PREFIXED_COUNT();
	return hakmem_reallocarray(p, n, m);
}

static inline int hk_prefixed_posix_memalign(void **out, size_t a, size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_posix_memalign(out, a, n);
}

static inline void *hk_prefixed_aligned_alloc(size_t a, size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_aligned_alloc(a, n);
}

static inline void *hk_prefixed_memalign(size_t a, size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_memalign(a, n);
}

static inline void *hk_prefixed_valloc(size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_valloc(n);
}

static inline void *hk_prefixed_pvalloc(size_t n)
{
	HK_PREFIXED_COUNT();
	return hakmem_pvalloc(n);
}

static inline void hk_prefixed_free(void *p)
{
	HK_PREFIXED_COUNT();
	hakmem_free(p);
}

static inline void hk_prefixed_free_sized(void *p, size_t n)
{
	HK_PREFIXED_COUNT();
	hakmem_free_sized(p, n);
}

static inline void hk_prefixed_free_aligned_sized(void *p, size_t a, size_t n)
{
	HK_PREFIXED_COUNT();
	hakmem_free_aligned_sized(p, a, n);
}

static inline size_t hk_prefixed_malloc_usable_size(void *p)
{
	return hakmem_malloc_usable_size(p);
}

/* Read a hakmem statistic (0 if it cannot be read). */
static inline unsigned long long hk_prefixed_stat(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	if (hakmem_ctl(name, &v, &len, NULL, 0) != 0)
		return 0;
	return (unsigned long long)v;
}

__attribute__((destructor)) static void hk_prefixed_report(void)
{
	char line[256];
	int n = snprintf(line, sizeof line,
			 "note: prefixed: %lu malloc-family calls went to hakmem; "
			 "stats.superslabs.created=%llu stats.mappings=%llu\n",
			 __atomic_load_n(&hk_prefixed_calls, __ATOMIC_RELAXED),
			 hk_prefixed_stat("stats.superslabs.created"),
			 hk_prefixed_stat("stats.mappings"));
	if (n > 0)
		(void)!write(STDOUT_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

#define malloc hk_prefixed_malloc
#define calloc hk_prefixed_calloc
#define realloc hk_prefixed_realloc
#define reallocarray hk_prefixed_reallocarray
#define posix_memalign hk_prefixed_posix_memalign
#define aligned_alloc hk_prefixed_aligned_alloc
#define memalign hk_prefixed_memalign
#define valloc hk_prefixed_valloc
#define pvalloc hk_prefixed_pvalloc
#define free hk_prefixed_free
#define free_sized hk_prefixed_free_sized
#define free_aligned_sized hk_prefixed_free_aligned_sized
#define malloc_usable_size hk_prefixed_malloc_usable_size

#endif

#define _GNU_SOURCE
#include "os.h"

#include "cgroup.h"
#include "log.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

/* Installed guidance on vm.max_map_count (configure sets the path). */
#ifndef HAKMEM_MAPPINGS_DOC
#define HAKMEM_MAPPINGS_DOC "max_map_count.md in hakmem's documentation"
#endif

static _Atomic uint64_t os_mappings;
static _Atomic uint64_t os_mapped;
static atomic_bool os_enomem_reported;
/* Where the last aligned mapping ended: asking there first usually gives
 * an aligned address with no surplus to trim. */
static _Atomic uintptr_t os_hint;

uint64_t hk_os_mappings(void)
{
	return atomic_load_explicit(&os_mappings, memory_order_relaxed);
}

uint64_t hk_os_mapped_bytes(void)
{
	return atomic_load_explicit(&os_mapped, memory_order_relaxed);
}

static void account(long maps, long long bytes)
{
	atomic_fetch_add_explicit(&os_mappings, (uint64_t)maps, memory_order_relaxed);
	atomic_fetch_add_explicit(&os_mapped, (uint64_t)bytes, memory_order_relaxed);
}

static long read_proc_long(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[32];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	long v = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}

/* Whether no state of the process or the machine could ever grant a
 * mapping of request bytes: more than the user address space (x86-64 has
 * 2^47 bytes; a mapping above that needs a hint, and hakmem gives none),
 * more than RLIMIT_AS, or, unless the kernel overcommits always, more than
 * RAM (or the cgroup's memory limit, if lower) and swap together. Raising
 * vm.max_map_count or freeing memory would not help, so such a failure is
 * not reported (glibc says nothing too). */
static bool never_fits(size_t request)
{
	if (request > (size_t)1 << 47)
		return true;
	struct rlimit rl;
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    request > rl.rlim_cur)
		return true;
	struct sysinfo si;
	if (read_proc_long("/proc/sys/vm/overcommit_memory") == 1 || sysinfo(&si) != 0)
		return false;
	uint64_t unit = si.mem_unit ? si.mem_unit : 1, ram = si.totalram;
	uint64_t limit = hk_cgroup_limit() / unit;
	if (limit && limit < ram)
		ram = limit;
	return request / unit > ram + si.totalswap;
}

void hk_os_report_enomem(size_t request)
{
	int saved = errno;
	if (never_fits(request) || atomic_exchange(&os_enomem_reported, true)) {
		errno = saved;
		return;
	}
	hk_message("out of memory: the kernel refused a mapping of %zu bytes; "
		   "hakmem holds %llu mappings (%llu MiB); vm.max_map_count is %ld "
		   "(raise it with sysctl -w vm.max_map_count=N if mappings are near it, see %s); "
		   "allocations return NULL with ENOMEM until memory is freed",
		   request, (unsigned long long)hk_os_mappings(),
		   (unsigned long long)(hk_os_mapped_bytes() >> 20),
		   read_proc_long("/proc/sys/vm/max_map_count"),
		   HAKMEM_MAPPINGS_DOC);
	errno = saved;
}

/* Fault injection for tests (option fail_mmap_every): every Nth request
 * for a new mapping (hk_os_map, hk_os_try_map) fails as if the kernel had
 * refused it. */
static bool injected_failure(void)
{
	static _Atomic uint64_t calls;
	uint64_t every = HK_OPT(fail_mmap_every);
	return every && atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) % every == every - 1;
}

static void *raw_map(void *hint, size_t size)
{
	void *p = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void *map(size_t size, size_t align, bool report)
{
	if (HK_UNLIKELY(injected_failure())) {
		if (report)
			hk_os_report_enomem(size);
		errno = ENOMEM;
		return NULL;
	}
	int saved = errno;
	uintptr_t hint = atomic_load_explicit(&os_hint, memory_order_relaxed);
	void *p = raw_map(hint ? (void *)hk_align_up(hint, align) : NULL, size);
	if (p && ((uintptr_t)p & (align - 1)) == 0)
		goto done;
	if (p)
		munmap(p, size);
	/* Over-map by the alignment and cut off both ends. */
	size_t over = size + align - HK_PAGE_SIZE;
	if (over < size) {
		errno = ENOMEM;
		return NULL;
	}
	char *raw = raw_map(NULL, over);
	if (!raw) {
		if (report)
			hk_os_report_enomem(size);
		errno = ENOMEM;
		return NULL;
	}
	char *aligned = (char *)hk_align_up((uintptr_t)raw, align);
	if (aligned > raw)
		munmap(raw, (size_t)(aligned - raw));
	char *end = raw + over;
	if (aligned + size < end)
		munmap(aligned + size, (size_t)(end - (aligned + size)));
	p = aligned;
done:
	atomic_store_explicit(&os_hint, (uintptr_t)p + size, memory_order_relaxed);
	account(1, (long long)size);
	errno = saved;
	HK_DEBUG(HK_LOG_OS, "map %p %zu", p, size);
	return p;
}

void *hk_os_map(size_t size, size_t align)
{
	return map(size, align, true);
}

void *hk_os_try_map(size_t size, size_t align)
{
	return map(size, align, false);
}

void hk_os_unmap(void *p, size_t size)
{
	int saved = errno;
	if (munmap(p, size) != 0) {
		/* Unmapping part of a mapping the kernel merged with its
		 * neighbours splits it; at vm.max_map_count that fails with
		 * ENOMEM. Give the pages back and leave the addresses mapped. */
		hk_os_report_enomem(size);
		madvise(p, size, MADV_DONTNEED);
	}
	account(-1, -(long long)size);
	errno = saved;
	HK_DEBUG(HK_LOG_OS, "unmap %p %zu", p, size);
}

uint64_t hk_os_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void hk_os_decommit(void *p, size_t size)
{
	int saved = errno;
	madvise(p, size, MADV_DONTNEED);
	errno = saved;
}

bool hk_os_resize(void *p, size_t old, size_t new)
{
	int saved = errno;
	bool ok = mremap(p, old, new, 0) != MAP_FAILED;
	if (ok)
		account(0, (long long)new - (long long)old);
	errno = saved;
	return ok;
}

void hk_os_split(void)
{
	account(1, 0);
}

void hk_os_join(void)
{
	account(-1, 0);
}

bool hk_os_move(void *p, size_t old, void *dst, size_t new)
{
	int saved = errno;
	if (mremap(p, old, new, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED) {
		errno = saved;
		return false;
	}
	/* dst's accounting now stands for the moved mapping; drop p's. */
	account(-1, -(long long)old);
	errno = saved;
	return true;
}

/* The glibc extras that programs call on their allocator: malloc_trim,
 * malloc_stats, mallinfo, mallinfo2, mallopt and malloc_info, answered by
 * the engine. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>

#include "init.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "report.h"
#include "stats.h"
#include "thread.h"

/* Like the malloc family (malloc.c), the names take the hakmem_ prefix in
 * a build with HAKMEM_PREFIX_ONLY, which must leave the process's own
 * allocator (a sanitizer's) in place. */
#ifdef HAKMEM_PREFIX_ONLY
#define NAME(f) hakmem_##f
#else
#define NAME(f) f
#endif

HK_EXPORT int NAME(malloc_trim)(size_t pad)
{
	(void)pad;
	return hk_trim() > 0;
}

HK_EXPORT void NAME(malloc_stats)(void)
{
	hk_report_print(2);
}

HK_EXPORT struct mallinfo2 NAME(mallinfo2)(void)
{
	hk_report_refresh();
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	uint64_t large = hk_stats_get(&hk_gstats.large_bytes);
	uint64_t small_mapped = hk_os_mapped_bytes() - large;
	uint64_t small_used = s.allocated - large;
	struct mallinfo2 mi = {
		.arena = small_mapped,				/* bytes mapped for slabs */
		.ordblks = hk_stats_get(&hk_gstats.ss_live),	/* SuperSlabs */
		.hblks = hk_stats_get(&hk_gstats.large_live),	/* large mappings */
		.hblkhd = large,				/* bytes in them */
		.uordblks = small_used,				/* small bytes in use */
		.fordblks = small_mapped > small_used ? small_mapped - small_used : 0,
	};
	return mi;
}

static int clamp(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

HK_EXPORT struct mallinfo NAME(mallinfo)(void)
{
	struct mallinfo2 m = NAME(mallinfo2)();
	struct mallinfo mi = {
		.arena = clamp(m.arena),
		.ordblks = clamp(m.ordblks),
		.hblks = clamp(m.hblks),
		.hblkhd = clamp(m.hblkhd),
		.uordblks = clamp(m.uordblks),
		.fordblks = clamp(m.fordblks),
	};
	return mi;
}

/* The parameters with a meaning here, each an option set as hakmem_ctl
 * sets it; the rest are accepted by glibc only and return 0 (failure), as
 * mallopt does for an unknown parameter. */
HK_EXPORT int NAME(mallopt)(int param, int value)
{
	const char *name;
	uint64_t v;
	switch (param) {
	case M_TRIM_THRESHOLD:
		/* A negative threshold turns trimming off in glibc. */
		name = "trim";
		v = value >= 0;
		break;
	case M_CHECK_ACTION:
		/* Bit 1 asks glibc to abort on detected corruption. */
		name = "misuse";
		v = (value & 2) ? HK_MISUSE_ABORT : HK_MISUSE_REPORT;
		break;
	default:
		return 0;
	}
	/* The options hold their defaults from start-up on. */
	hk_global_init();
	return hk_option_set(hk_option_find(name), v) == 0;
}

/* malloc_info's contract is to write to a stdio stream. The text is
 * formatted on the stack and handed over with fwrite, outside any engine
 * lock, so the stream may allocate its buffer through malloc safely. */
static void put(FILE *fp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(FILE *fp, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	size_t n = hk_vfmt(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fwrite(buf, 1, n, fp);
}

HK_EXPORT int NAME(malloc_info)(int options, FILE *fp)
{
	if (options != 0 || !fp) {
		errno = EINVAL;
		return -1;
	}
	hk_report_refresh();
	struct hk_stats_snapshot s;
	hk_report_snapshot(&s);
	put(fp, "<malloc version=\"hakmem-%s\">\n", PACKAGE_VERSION);
	put(fp, "<sizes>\n");
	for (unsigned c = 0; c < HK_NCLASSES; c++)
		if (s.class_slabs[c])
			put(fp, "  <size from=\"%u\" to=\"%u\" total=\"%llu\" count=\"%llu\"/>\n",
			    c ? (unsigned)hk_class_size(c - 1) + 1 : 1, (unsigned)hk_class_size(c),
			    (unsigned long long)(s.class_blocks[c] * hk_class_size(c)),
			    (unsigned long long)s.class_blocks[c]);
	put(fp, "</sizes>\n");
	put(fp, "<total type=\"superslabs\" count=\"%llu\" size=\"%llu\"/>\n",
	    (unsigned long long)hk_stats_get(&hk_gstats.ss_live),
	    (unsigned long long)(hk_os_mapped_bytes() - hk_stats_get(&hk_gstats.large_bytes)));
	put(fp, "<total type=\"mmap\" count=\"%llu\" size=\"%llu\"/>\n",
	    (unsigned long long)hk_stats_get(&hk_gstats.large_live),
	    (unsigned long long)hk_stats_get(&hk_gstats.large_bytes));
	put(fp, "<system type=\"current\" size=\"%llu\"/>\n",
	    (unsigned long long)hk_os_mapped_bytes());
	put(fp, "<aspace type=\"total\" size=\"%llu\"/>\n", (unsigned long long)hk_os_mapped_bytes());
	put(fp, "</malloc>\n");
	return 0;
}

/* The engine's fixed tuning: the compile-time constants that shape its
 * behaviour, in one place. (What an operator may change at run time is an
 * option instead: options.h.) Each is explained where it is used. */
#ifndef HK_TUNING_H
#define HK_TUNING_H

/* pool.c: how often the cgroup's memory use is looked at. */
#define HK_PRESSURE_CHECK_MS 50
/* pool.c: resident free slots always allowed under the ceiling (4 MiB),
 * and how long a SuperSlab's freed slots are left out of the ceiling's
 * purge (slots that threads created or woken next will take again). */
#define HK_PURGE_MIN_SLOTS 64
#define HK_CEILING_GRACE_MS 50

/* large.c: the huge page size that large_hugepages asks for; how many
 * freed large mappings the cache holds, and its least byte budget. */
#define HK_LARGE_HUGE ((size_t)2 << 20)
#define HK_LARGE_CACHE_SLOTS 64
#define HK_LARGE_CACHE_MIN ((size_t)8 << 20)

/* tcache.c: remote frees a thread makes between looks at its own
 * delayed list, so that a thread that only frees still recycles its own
 * slabs. */
#define HK_COLLECT_EVERY 64
/* tcache.c: never-used bytes of a slab put on its free list at once when
 * the list runs dry, rather than one block per call of the slow path (in
 * a slab whose blocks read as zero, no more than the rest of the page). */
#define HK_CARVE_BYTES 4096

#endif

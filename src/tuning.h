/* The engine's fixed tuning: the compile-time constants that shape its
 * behaviour, in one place. (What an operator may change at run time is an
 * option instead: options.h.) Pool.c's are explained at its Decay. */
#ifndef HK_TUNING_H
#define HK_TUNING_H

/* pool.c: how often the cgroup's memory use is looked at. */
#define HK_PRESSURE_CHECK_MS 50
/* pool.c: resident free slots always allowed under the ceiling (4 MiB). */
#define HK_PURGE_MIN_SLOTS 64

/* tcache.c: remote frees a thread makes between looks at its own
 * delayed list, so that a thread that only frees still recycles its own
 * slabs. */
#define HK_COLLECT_EVERY 64

#endif

/* The memory limit of a container: cgroup v2's memory.max and memory.high
 * of the process's cgroup and its ancestors (or, where the memory
 * controller is still cgroup v1's, memory.limit_in_bytes), read once at
 * start-up (with open and read, no heap). Inside a cgroup the kernel's OOM killer acts
 * when usage reaches memory.max, long before total RAM is in question,
 * and memory.high throttles the process; so the caches' budgets and the
 * purge pressure follow the limit where there is one.
 *
 * For tests, HAKMEM_TEST_CGROUP=DIR (ignored under AT_SECURE) reads the
 * files memory.max, memory.high and memory.current from DIR instead of
 * the process's cgroup (documented in hakmem(3)). */
#ifndef HK_CGROUP_H
#define HK_CGROUP_H

#include "common.h"

/* Find and read the limits; called once by hk_global_init. */
void hk_cgroup_init(void);

/* The lowest memory.max or memory.high found, in bytes; 0 when none. */
uint64_t hk_cgroup_limit(void);

/* Whether the cgroup that sets that limit uses within an eighth of it now
 * (reads its memory.current: a few system calls, for slow paths that run
 * at most every few milliseconds). */
bool hk_cgroup_pressed(void);

#endif

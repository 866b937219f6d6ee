/* The operating-system layer: every mapping the engine makes goes through
 * here, so the count of kernel mappings and mapped bytes is exact, and an
 * mmap failure is reported once, naming vm.max_map_count (unless the
 * request could never fit). */
#ifndef HK_OS_H
#define HK_OS_H

#include "common.h"

/* Map size bytes (a page multiple) aligned to align (a power of two, at
 * least a page). Costs one kernel mapping: any surplus of an over-sized
 * request is unmapped. Returns NULL with errno = ENOMEM on failure. */
void *hk_os_map(size_t size, size_t align);

/* hk_os_map that says nothing when it fails (a speculative request with a
 * fallback). */
void *hk_os_try_map(size_t size, size_t align);

/* Unmap a whole mapping made by hk_os_map (or resized by hk_os_resize). */
void hk_os_unmap(void *p, size_t size);

/* Give the pages back to the kernel while keeping the mapping; the next
 * touch reads zeros. */
void hk_os_decommit(void *p, size_t size);

/* Resize the mapping [p, p+old) to new bytes without moving it. Returns
 * false (the mapping unchanged) if the kernel cannot. */
bool hk_os_resize(void *p, size_t old, size_t new);

/* Move the pages of [p, p+old) to dst, a fresh mapping of new >= old
 * bytes made by hk_os_map, which they replace (the rest reads as zero);
 * nothing is copied. Returns false (both mappings unchanged) if the
 * kernel cannot, e.g. when [p, p+old) is not one kernel mapping (pieces
 * of different mappings joined, see hk_os_join): the caller copies. */
bool hk_os_move(void *p, size_t old, void *dst, size_t new);

/* A mapping made by hk_os_map is now two, each to be unmapped on its own
 * (the count of mappings goes up by one; the kernel's does not change). */
void hk_os_split(void);

/* Two adjacent mappings made by hk_os_map (or split) are now one. */
void hk_os_join(void);

/* A cheap monotonic clock in milliseconds (coarse: a few ms resolution). */
uint64_t hk_os_now_ms(void);

/* Mappings and bytes currently held. */
uint64_t hk_os_mappings(void);
uint64_t hk_os_mapped_bytes(void);

/* Say, once per process, that the kernel refused memory; nothing for a
 * request that could never be granted (larger than the address space,
 * RLIMIT_AS, or RAM and swap). */
void hk_os_report_enomem(size_t request);

#endif

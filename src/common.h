/* Shared definitions of the engine: geometry constants and compiler helpers.
 * Every source file includes this first. */
#ifndef HK_COMMON_H
#define HK_COMMON_H

#include "config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_LIKELY(x) __builtin_expect(!!(x), 1)
#define HK_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HK_INLINE static inline __attribute__((always_inline))
#define HK_NOINLINE __attribute__((noinline))
#define HK_COLD __attribute__((cold, noinline))
#define HK_EXPORT __attribute__((visibility("default")))
#define HK_CACHELINE 64

/* x86_64 Linux pages; checked against AT_PAGESZ at start-up. */
#define HK_PAGE_SIZE ((size_t)4096)

/* Everything malloc returns is aligned to this (alignof(max_align_t)). */
#define HK_MIN_ALIGN ((size_t)16)

/* A SuperSlab is 1 MiB or 2 MiB (a tunable), cut into 64 KiB slots.
 * Slot 0 holds the SuperSlab header; a slab spans one or more slots. */
#define HK_SS_SHIFT_MIN 20
#define HK_SS_SHIFT_MAX 21
#define HK_SLOT_SHIFT 16
#define HK_SLOT_SIZE ((size_t)1 << HK_SLOT_SHIFT)
#define HK_MAX_SLOTS (1u << (HK_SS_SHIFT_MAX - HK_SLOT_SHIFT))

/* Requests up to this size are served from slabs; larger ones get their
 * own mapping (large.c). */
#define HK_SMALL_MAX ((size_t)128 * 1024)

HK_INLINE size_t hk_align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

HK_INLINE bool hk_is_pow2(size_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

#endif

/* Size classes: requests up to HK_SMALL_MAX are rounded up to one of
 * HK_NCLASSES block sizes. 16-byte steps up to 128 bytes, then four
 * classes per doubling, so a block wastes at most 15 bytes below 128 and
 * at most 20% above (doc/design.md has the table). Every block size is a
 * multiple of 16, and a slab's blocks start on a 64 KiB boundary, so a
 * block of size s is aligned to the largest power of two dividing s. */
#ifndef HK_SIZE_CLASS_H
#define HK_SIZE_CLASS_H

#include "common.h"

#define HK_NCLASSES 48
#define HK_TINY_MAX 1024
/* The first class above HK_TINY_MAX (hk_medium_size_class(HK_TINY_MAX + 1)). */
#define HK_MEDIUM_CLASS0 20
/* The class of a request of 0 bytes: no slab is ever current for it (a
 * heap's cur holds hk_empty_slab there), so malloc(0) reaches the slow
 * path without a test on the fast one, and the slow path hands out a
 * zero-size address (option zero_size) or a block of class 0. */
#define HK_ZERO_CLASS HK_NCLASSES

struct hk_class_info {
	uint32_t block_size;
	uint32_t slots;		/* 64 KiB slots per slab */
	uint32_t capacity;	/* blocks per slab */
	uint64_t inv;		/* ceil(2^48 / block_size): offset -> index */
};

extern const uint8_t hk_tiny_class[HK_TINY_MAX / 16 + 1];
extern const struct hk_class_info hk_classes[HK_NCLASSES];

/* Class of a request of 0..HK_TINY_MAX bytes (HK_ZERO_CLASS for 0). */
HK_INLINE size_t hk_tiny_size_class(size_t size)
{
	return hk_tiny_class[(size + 15) >> 4];
}

/* Class of a request of HK_TINY_MAX+1..HK_SMALL_MAX bytes: four classes
 * per doubling. */
HK_INLINE size_t hk_medium_size_class(size_t size)
{
	size_t s = size - 1;
	unsigned k = 63u - (unsigned)__builtin_clzl(s);
	return 8 + 4 * (k - 7) + ((s >> (k - 2)) & 3);
}

/* Class of a request of 0..HK_SMALL_MAX bytes (HK_ZERO_CLASS for 0). */
HK_INLINE size_t hk_size_class(size_t size)
{
	return HK_LIKELY(size <= HK_TINY_MAX) ? hk_tiny_size_class(size) : hk_medium_size_class(size);
}

HK_INLINE size_t hk_class_size(unsigned cls)
{
	return hk_classes[cls].block_size;
}

/* Smallest class that fits size and whose blocks are aligned to align
 * (a power of two, at most HK_SLOT_SIZE); size <= HK_SMALL_MAX. It is the
 * class of size rounded up to a multiple of align: from 128 bytes on a
 * doubling (2^k, 2^(k+1)] has the classes 5, 6, 7 and 8 times 2^(k-2),
 * so a multiple of align there is either a class itself (align >=
 * 2^(k-1)) or every class of the doubling is a multiple of align (align
 * <= 2^(k-2)); below 128 every multiple of 16 is a class. */
HK_INLINE size_t hk_size_class_aligned(size_t size, size_t align)
{
	return hk_size_class(hk_align_up(size + !size, align));
}

#endif

#include "size_class.h"

/* Blocks per slab aim at 8 or more, with a slab of at most 8 slots. */
#define C(bs, slots) \
	{ (bs), (slots), (uint32_t)(((size_t)(slots) << HK_SLOT_SHIFT) / (bs)), \
	  (((uint64_t)1 << 48) + (bs) - 1) / (bs) }

const struct hk_class_info hk_classes[HK_NCLASSES] = {
	C(16, 1), C(32, 1), C(48, 1), C(64, 1), C(80, 1), C(96, 1), C(112, 1), C(128, 1),
	C(160, 1), C(192, 1), C(224, 1), C(256, 1),
	C(320, 1), C(384, 1), C(448, 1), C(512, 1),
	C(640, 1), C(768, 1), C(896, 1), C(1024, 1),
	C(1280, 1), C(1536, 1), C(1792, 1), C(2048, 1),
	C(2560, 1), C(3072, 1), C(3584, 1), C(4096, 1),
	C(5120, 1), C(6144, 1), C(7168, 1), C(8192, 1),
	C(10240, 2), C(12288, 2), C(14336, 2), C(16384, 2),
	C(20480, 3), C(24576, 3), C(28672, 4), C(32768, 4),
	C(40960, 5), C(49152, 6), C(57344, 7), C(65536, 8),
	C(81920, 8), C(98304, 8), C(114688, 8), C(131072, 8),
};

/* (size + 15) / 16 -> class, for sizes up to HK_TINY_MAX. */
const uint8_t hk_tiny_class[HK_TINY_MAX / 16 + 1] = {
	0, 0, 1, 2, 3, 4, 5, 6, 7,
	[9 ... 10] = 8, [11 ... 12] = 9, [13 ... 14] = 10, [15 ... 16] = 11,
	[17 ... 20] = 12, [21 ... 24] = 13, [25 ... 28] = 14, [29 ... 32] = 15,
	[33 ... 40] = 16, [41 ... 48] = 17, [49 ... 56] = 18, [57 ... 64] = 19,
};

unsigned hk_size_class_aligned(size_t size, size_t align)
{
	unsigned cls = hk_size_class(size < align ? align : size);
	while (hk_classes[cls].block_size & (align - 1))
		cls++;
	return cls;
}

/* The size-class table against brute force: every request size up to
 * HK_SMALL_MAX gets the smallest class that holds it, and every power-of-two
 * alignment up to a slot the smallest class whose blocks are multiples of
 * it (a slab starts on a slot boundary, so that is what aligns a block). */
#include "check.h"

#include "size_class.h"

/* The smallest class whose block size is at least size and a multiple of
 * align, by a search of the whole table; HK_NCLASSES if none. */
static size_t brute_class(size_t size, size_t align)
{
	for (size_t c = 0; c < HK_NCLASSES; c++)
		if (hk_classes[c].block_size >= size && hk_classes[c].block_size % align == 0)
			return c;
	return HK_NCLASSES;
}

static void check_table(void)
{
	size_t bad_mono = HK_NCLASSES, bad_16 = HK_NCLASSES, bad_geom = HK_NCLASSES;

	for (size_t c = 0; c < HK_NCLASSES; c++) {
		const struct hk_class_info *ci = &hk_classes[c];
		size_t span = (size_t)ci->slots << HK_SLOT_SHIFT;
		uint64_t inv = (((uint64_t)1 << 48) + ci->block_size - 1) / ci->block_size;

		if (c > 0 && ci->block_size <= hk_classes[c - 1].block_size && bad_mono == HK_NCLASSES)
			bad_mono = c;
		if ((ci->block_size == 0 || ci->block_size % 16 != 0) && bad_16 == HK_NCLASSES)
			bad_16 = c;
		/* A slab spans 1..8 slots (hk_slab_is_block needs offsets below
		 * 2^19), holds capacity whole blocks, and inv turns an offset
		 * into an index. */
		if ((ci->slots < 1 || ci->slots > 8 || ci->capacity < 1 ||
		     ci->capacity != span / ci->block_size || ci->inv != inv) &&
		    bad_geom == HK_NCLASSES)
			bad_geom = c;
	}
	CHECK(bad_mono == HK_NCLASSES, "block sizes strictly increase with the class (first bad: %zu)",
	      bad_mono);
	CHECK(bad_16 == HK_NCLASSES, "every block size is a non-zero multiple of 16 (first bad: %zu)",
	      bad_16);
	CHECK(bad_geom == HK_NCLASSES,
	      "slots, capacity and inverse agree with the block size (first bad: %zu)", bad_geom);
	CHECK(hk_classes[HK_NCLASSES - 1].block_size == HK_SMALL_MAX,
	      "the last class is HK_SMALL_MAX (%u)", hk_classes[HK_NCLASSES - 1].block_size);
	CHECK(hk_classes[HK_MEDIUM_CLASS0].block_size > HK_TINY_MAX &&
		      hk_classes[HK_MEDIUM_CLASS0 - 1].block_size == HK_TINY_MAX &&
		      hk_medium_size_class(HK_TINY_MAX + 1) == HK_MEDIUM_CLASS0,
	      "HK_MEDIUM_CLASS0 is the first class above HK_TINY_MAX (%u)",
	      hk_classes[HK_MEDIUM_CLASS0].block_size);
	CHECK(hk_classes[0].block_size == HK_MIN_ALIGN, "the first class is HK_MIN_ALIGN (%u)",
	      hk_classes[0].block_size);
}

static void check_sizes(void)
{
	size_t bad = SIZE_MAX, got = 0, want = 0, prev = 0, bad_order = SIZE_MAX;

	CHECK(hk_size_class(0) == HK_ZERO_CLASS && hk_tiny_size_class(0) == HK_ZERO_CLASS,
	      "a request of 0 bytes has the class HK_ZERO_CLASS (%zu)", hk_size_class(0));
	for (size_t size = 1; size <= HK_SMALL_MAX; size++) {
		size_t c = hk_size_class(size);
		size_t b = brute_class(size, 1);
		if (c != b && bad == SIZE_MAX) {
			bad = size;
			got = c;
			want = b;
		}
		if (c < prev && bad_order == SIZE_MAX)
			bad_order = size;
		prev = c;
	}
	CHECK(bad == SIZE_MAX,
	      "hk_size_class: every size 1..HK_SMALL_MAX gets the smallest class that holds it "
	      "(first bad size %zu: class %zu, want %zu)", bad, got, want);
	CHECK(bad_order == SIZE_MAX, "hk_size_class never decreases as the size grows (at %zu)",
	      bad_order);
}

/* Under Valgrind (quick), every size for every alignment would take half a
 * minute: sizes near every class boundary and a stride over the rest still
 * reach each branch of hk_size_class_aligned. */
static bool size_in_sample(size_t size, size_t stride)
{
	for (size_t c = 0; c < HK_NCLASSES; c++) {
		size_t b = hk_classes[c].block_size;
		if (size + 17 >= b && size <= b + 17)
			return true;
	}
	return size % stride == 0;
}

static void check_aligned(void)
{
	size_t stride = (size_t)hk_scale(1, 61);

	for (size_t align = 1; align <= HK_SLOT_SIZE; align <<= 1) {
		size_t bad = SIZE_MAX, got = 0, want = 0, n = 0;
		for (size_t size = 0; size <= HK_SMALL_MAX; size++) {
			if (!size_in_sample(size, stride))
				continue;
			size_t c = hk_size_class_aligned(size, align);
			size_t b = brute_class(size, align);
			n++;
			if (c != b && bad == SIZE_MAX) {
				bad = size;
				got = c;
				want = b;
			}
		}
		CHECK(bad == SIZE_MAX,
		      "hk_size_class_aligned(size, %zu): the smallest class whose blocks hold size "
		      "and are multiples of %zu (%zu sizes; first bad %zu: class %zu, want %zu)",
		      align, align, n, bad, got, want);
	}
}

int main(void)
{
	check_table();
	check_sizes();
	check_aligned();
	return hk_done();
}

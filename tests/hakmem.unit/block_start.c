/* hk_slab_is_block, the check free() makes that a pointer is the start of
 * a block its slab handed out: for a slab of every class, every offset in
 * the slab's slots is accepted exactly when it is a multiple of the block
 * size below the bump pointer (with the bump pointer at the start, in the
 * middle and at the end). The test is a multiply by a precomputed inverse
 * (slab.h), so any offset could fool it; the oracle here divides. */
#include "check.h"

#include <sys/mman.h>

#include "hardened.h"
#include "size_class.h"
#include "slab.h"

#define MAX_SPAN ((size_t)8 << HK_SLOT_SHIFT)

/* Whether the offsets of s agree with the oracle for the current bump
 * pointer; every offset, or in quick mode (Valgrind) the offsets next to
 * every block start and a stride over the rest. Reports the first
 * disagreement. */
static bool check_offsets(const hk_slab *s, const char *when, size_t *checked)
{
	size_t span = (size_t)s->slots << HK_SLOT_SHIFT;
	size_t bs = s->block_size, bumped = (size_t)(s->bump - s->start);
	size_t stride = (size_t)hk_scale(1, 97);

	for (size_t off = 0; off < span; off++) {
		size_t r = off % bs;
		if (r > 16 && bs - r > 16 && off % stride != 0)
			continue;
		bool want = r == 0 && off < bumped;
		bool got = hk_slab_is_block(s, s->start + off);
		++*checked;
		if (got != want)
			return CHECK(false,
				     "class %u (%zu bytes), bump %s: offsets accepted exactly at "
				     "block starts below the bump pointer (offset %zu: %s)",
				     s->cls, bs, when, off, got ? "accepted" : "refused");
	}
	return true;
}

int main(void)
{
	/* Real slots, aligned as a SuperSlab's are: hk_slab_init may hand
	 * them to memcheck, and the bump pointer is read as a pointer. */
	char *map = mmap(NULL, 2 * MAX_SPAN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED) {
		FAILED("mmap of %zu bytes (%s)", 2 * MAX_SPAN, strerror(errno));
		return hk_done();
	}
	char *start = (char *)hk_align_up((uintptr_t)map, HK_SLOT_SIZE);
	static hk_slab s;
	size_t checked = 0, bad_classes = 0, bad_bump = 0;

	for (unsigned cls = 0; cls < HK_NCLASSES; cls++) {
		bool ok = true;
		hk_slab_init(&s, cls, start, true);
		uint32_t cap = hk_classes[cls].capacity;
		/* A class with canaries never hands out its first block. */
		uint32_t first = hk_hard_canary_class(cls) ? 1 : 0;

		ok &= check_offsets(&s, "at the start", &checked);
		for (uint32_t i = first; i < cap / 2; i++)
			if ((char *)hk_slab_bump(&s) != start + (size_t)i * s.block_size)
				bad_bump++;
		ok &= check_offsets(&s, "in the middle", &checked);
		for (uint32_t i = cap / 2; i < cap; i++)
			if ((char *)hk_slab_bump(&s) != start + (size_t)i * s.block_size)
				bad_bump++;
		if (hk_slab_bump(&s) != NULL)
			bad_bump++;
		ok &= check_offsets(&s, "at the end", &checked);
		bad_classes += !ok;
	}
	CHECK(bad_classes == 0,
	      "hk_slab_is_block agrees with the oracle for every class (%zu classes wrong, "
	      "%zu offsets checked)", bad_classes, checked);
	CHECK(bad_bump == 0,
	      "hk_slab_bump hands out the capacity's blocks in address order, then NULL "
	      "(%zu wrong)", bad_bump);
	munmap(map, 2 * MAX_SPAN);
	return hk_done();
}

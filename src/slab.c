#include "slab.h"

#include <string.h>

#include "hardened.h"
#include "log.h"
#include "size_class.h"
#include "vg.h"

struct hk_free_key hk_free_key;

void hk_slab_init(hk_slab *s, unsigned cls, char *start, bool clean)
{
	const struct hk_class_info *ci = &hk_classes[cls];
	s->free = NULL;
	s->used = 0;
	s->block_size = ci->block_size;
	s->start = start;
	s->inv16 = ci->inv << 16;
	s->cls = (uint8_t)cls;
	s->slots = (uint8_t)ci->slots;
	s->where = HK_WHERE_NONE;
	s->clean = clean;
	s->pinned = 0;
	s->tainted = 0;
	bool trailer = cls >= HK_MEDIUM_CLASS0 && HK_OPT(trailer) && !hk_hard_slow() &&
		       !hk_hard_canary_class(cls) && !hk_vg_on;
	/* A block of 16 bytes is all link and key once free. */
	bool scrub = ci->block_size > sizeof(hk_block) && ci->block_size <= HK_OPT(zero_on_free_max);
	s->on_free = (uint8_t)((scrub ? HK_ON_FREE_SCRUB : 0) |
			       (trailer ? HK_ON_FREE_TRAILER : 0));
	atomic_store_explicit(&s->untrailed, 0, memory_order_relaxed);
	s->xsum = s->bumpx = 0;
	s->bump = start;
	s->end = start + (size_t)ci->capacity * ci->block_size;
	s->next = s->prev = NULL;
	atomic_store_explicit(&s->xtf, HK_XTF_QUIET, memory_order_relaxed);
	/* The slots may hold blocks of an earlier class that memcheck was
	 * told are free (no access): the engine writes to them again. */
	if (HK_UNLIKELY(hk_vg_on))
		HK_VG_UNDEFINED(start, (size_t)ci->slots << HK_SLOT_SHIFT);
	/* Hardened mode: a block handed out from slots that held other
	 * blocks must still read as zero (every block is checked zero when
	 * handed out); and, in a class with canaries, the first block is
	 * never handed out, so that every block has one before it, whose
	 * trailer an underflow hits. */
	if (!clean && hk_hard_zero_on_free()) {
		memset(start, 0, (size_t)(s->end - start));
		s->clean = 1;
	}
	if (hk_hard_canary_class(cls)) {
		hk_block *b = hk_slab_bump(s);
		s->bumpx ^= (uintptr_t)b;	/* never handed out */
		hk_canary_seal_free(b, s->block_size);
	}
}

HK_COLD void hk_report_double_free(const char *what, const void *p)
{
	hk_misuse("%s: double free of %p", what, p);
}

/* The first block that the free list of s holds twice, or else the first
 * that is not a free block of s; NULL if neither (a live block that lost
 * its place some other way). Reads only blocks of s. */
static const hk_block *first_bad(const hk_slab *s)
{
	enum { MAX_BLOCKS = HK_SLOT_SIZE / 16 };	/* the most a slab has */
	uint64_t seen[MAX_BLOCKS / 64] = { 0 };
	size_t capacity = (size_t)(s->end - s->start) / s->block_size;
	const hk_block *b = s->free;
	for (size_t n = 0; b && n <= capacity; n++) {
		if (!hk_slab_holds_free(s, b, hk_free_key.value))
			return b;
		size_t i = (size_t)((const char *)b - s->start) / s->block_size;
		if (i >= MAX_BLOCKS || (seen[i / 64] & ((uint64_t)1 << (i % 64))))
			return b;
		seen[i / 64] |= (uint64_t)1 << (i % 64);
		b = b->next;
	}
	return NULL;
}

bool hk_slab_check_empty(hk_slab *s)
{
	if (HK_LIKELY((!s->pinned && s->xsum == s->bumpx) || s->tainted))
		return true;
	const hk_block *b = first_bad(s);
	if (b)
		hk_report_double_free("free()", b);
	else
		hk_misuse("free(): heap corruption: slab %p has no block in use but a block is "
			  "missing from its free list (double free?)", (void *)s->start);
	/* Live blocks may remain: never reuse the slab. */
	s->used = UINT32_MAX / 2;
	s->tainted = 1;
	return false;
}

void hk_slab_drop_free_list(hk_slab *s, const hk_block *b)
{
	hk_report_double_free("malloc()", b);
	s->free = NULL;
	s->xsum = 0;
	s->tainted = 1;
	s->used++;
}

#include "slab.h"

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
	s->bump = start;
	s->end = start + (size_t)ci->capacity * ci->block_size;
	s->next = s->prev = NULL;
	atomic_store_explicit(&s->xtf, HK_XTF_QUIET, memory_order_relaxed);
	/* The slots may hold blocks of an earlier class that memcheck was
	 * told are free (no access): the engine writes to them again. */
	if (HK_UNLIKELY(hk_vg_on))
		HK_VG_UNDEFINED(start, (size_t)ci->slots << HK_SLOT_SHIFT);
}

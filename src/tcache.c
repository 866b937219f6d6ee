#include "tcache.h"

#include <errno.h>
#include <string.h>

#include "foreign.h"
#include "init.h"
#include "large.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "prof.h"
#include "remote.h"
#include "report.h"
#include "stats.h"
#include "thread.h"
#include "tuning.h"
#include "vg.h"

HK_COLD static void report_invalid(const char *what, const void *p)
{
	hk_misuse("%s: %p was not returned by malloc (or was already freed)", what, p);
}

/* Local free of a block whose checks are done and key is set. */
static void free_local(hk_heap *h, hk_slab *s, hk_block *b)
{
	hk_slab_push(s, b);
	s->used--;
	h->local_frees++;
	if (s->where == HK_WHERE_FULL)
		hk_heap_move(h, s, HK_WHERE_PARTIAL);
	if (s->used == 0)
		hk_slab_emptied(h, s);
}

/* A block delivered to h because its slab was parked: free it, then look
 * at what else arrived in the slab and park it again. */
static void free_delivered(hk_heap *h, hk_slab *s, hk_block *b)
{
	hk_slab_push(s, b);
	s->used--;
	if (s->where != HK_WHERE_CUR && !h->exiting)
		hk_remote_splice(s, hk_remote_drain_park(s));
	if (s->where == HK_WHERE_FULL)
		hk_heap_move(h, s, HK_WHERE_PARTIAL);
	if (s->used == 0)
		hk_slab_emptied(h, s);
}

/* Count a remote free made by h (&hk_empty_heap: a thread that never
 * allocated), and look at h's delayed list every HK_COLLECT_EVERY of
 * them, errno kept (the free paths leave it as it was). */
static void remote_counted(hk_heap *h)
{
	if (h == &hk_empty_heap) {
		hk_stats_add(&hk_gstats.remote_frees, 1);
		return;
	}
	hk_stats_bump(&h->remote_frees);
	if (HK_LIKELY(++h->remote_since_collect < HK_COLLECT_EVERY))
		return;
	h->remote_since_collect = 0;
	int saved = errno;
	hk_heap_collect(h);
	errno = saved;
}

void hk_free_block(hk_heap *h, hk_slab *s, hk_block *b)
{
	for (;;) {
		hk_heap *o = hk_slab_owner(s);
		if (o == h) {
			free_local(h, s, b);
			return;
		}
		if (!o) {
			if (h == &hk_empty_heap)
				h = hk_thread_attach();
			if (h && hk_heap_adopt(h, s)) {
				free_local(h, s, b);
				return;
			}
			if (!h) {
				/* No heap for this thread (out of memory): leave the
				 * block on the slab for whoever adopts it. A false
				 * push only switched the parked, ownerless slab to
				 * QUIET, so the next one lands on its list. */
				while (!hk_remote_push(s, b))
					;
				return;
			}
			continue;
		}
		if (hk_remote_push(s, b))
			break;
	}
	remote_counted(h);
}

void hk_heap_collect(hk_heap *h)
{
	if (!atomic_load_explicit(&h->delayed, memory_order_relaxed))
		return;
	hk_block *b = atomic_exchange_explicit(&h->delayed, NULL, memory_order_acquire);
	while (b) {
		hk_slab *s = hk_remote_block_slab(b);
		if (!s)
			break;
		hk_block *next = b->next;
		if (hk_slab_owner(s) == h)
			free_delivered(h, s, b);
		else
			hk_free_block(h, s, b);
		b = next;
	}
}

static void free_slow(void *p, uintptr_t e, unsigned kind, const char *what);

static HK_NOINLINE void free_other(void *p, hk_slab *s);

/* hk_free_slow found s tagged HK_OWNER_WORK and the calling thread's. */
static HK_NOINLINE void free_work(void *p, hk_slab *s)
{
	if (!hk_free_owned_work(p, s, 0))
		free_other(p, s);
}

static HK_NOINLINE void free_remote(void *p, hk_slab *s, hk_heap *h);

/* A dispatch with tail calls only, so that no path saves registers for
 * the others. */
void hk_free_slow(void *p, hk_slab *s)
{
	hk_heap *h = hk_tls_heap;
	if (s) {
		uintptr_t o = atomic_load_explicit(&s->owner, memory_order_relaxed);
		if (o == ((uintptr_t)h | HK_OWNER_WORK)) {
			free_work(p, s);
			return;
		}
		/* Another live thread's slab (the first slot of a slab in
		 * use: its descriptor is the slab's) without canaries. */
		o &= ~(HK_OWNER_FULL | HK_OWNER_WORK);
		if (o && o != (uintptr_t)hk_tls_self && s->block_size) {
			free_remote(p, s, hk_tls_self);
			return;
		}
	}
	free_other(p, s);
}

/* Both callers have ruled out a work free into s (hk_free_local_work). */
static void free_other(void *p, hk_slab *s)
{
	uintptr_t e;
	if (hk_free_local_elsewhere(p, s, 0, &e))
		return;
	int saved = errno;
	if (HK_UNLIKELY(hk_prof_hooks()))
		hk_prof_free(p);
	free_slow(p, e, HK_KIND_FREE, "free()");
	errno = saved;
}

void hk_free_kind(void *p, uintptr_t e, unsigned kind, const char *what)
{
	int saved = errno;
	if (HK_UNLIKELY(hk_prof_hooks()))
		hk_prof_free(p);
	free_slow(p, e, hk_hard_canary_small() ? kind : HK_KIND_FREE, what);
	errno = saved;
}

/* --- Hardened mode (hardened.h): the small-block side. ---------------- */

/* Bytes of a block of s the program may use: all but the trailer. */
static size_t block_room(const hk_slab *s)
{
	return s->block_size - (hk_hard_canary_class(s->cls) ? HK_TRAILER : 0);
}

/* Whether the freed block b, zeroed when it was freed but for its key
 * (and its link, if linked: on a free list, whose walk checks the key),
 * still is; if not, reports a write after free naming what. A block in
 * the quarantine has no key when canaries are on (its trailer says it is
 * free), so that it reads as zero throughout. */
static bool still_zero(const hk_block *b, bool linked, const char *what)
{
	const hk_slab *s = hk_reg_slab(hk_registry_lookup(b));
	size_t room = block_room(s);
	size_t off = sizeof *b + hk_zero_find(b + 1, room - sizeof *b);
	uintptr_t key = hk_hard_canary_class(s->cls) ? 0 : hk_free_key.value;
	if (!linked && b->key != key)
		off = sizeof b->next + (size_t)__builtin_ctzll(b->key ^ key) / 8;
	if (!linked && b->next)
		off = 0;
	if (off >= room)
		return true;
	hk_report_write_after_free(what, b, off);
	return false;
}

/* Put b in h's quarantine; returns the block that leaves it (to be freed
 * now), or NULL. The ring fills in order, then a random slot is evicted,
 * so the order of reuse cannot be foretold. */
static hk_block *quarantine(hk_heap *h, hk_block *b)
{
	if (h == &hk_empty_heap && !(h = hk_thread_attach()))
		return b;
	uint32_t len = hk_hard_quarantine(), i;
	hk_block *out = NULL;
	if (h->quarantine_len < len) {
		i = h->quarantine_len++;
	} else {
		h->rng ^= h->rng << 13;
		h->rng ^= h->rng >> 7;
		h->rng ^= h->rng << 17;
		i = (uint32_t)(h->rng % len);
		out = h->quarantine[i];
	}
	h->quarantine[i] = b;
	h->last_freed = b;
	if (out && hk_hard_zero_on_free() && !still_zero(out, false, "free()"))
		return NULL;	/* report mode: leave it unused */
	return out;
}

void hk_quarantine_flush(hk_heap *h)
{
	for (uint32_t i = 0; i < h->quarantine_len; i++) {
		hk_block *b = h->quarantine[i];
		h->quarantine[i] = NULL;
		if (hk_hard_zero_on_free() && !still_zero(b, false, "free()"))
			continue;
		b->key = hk_free_key.value;
		hk_free_block(h, hk_reg_slab(hk_registry_lookup(b)), b);
	}
	h->quarantine_len = 0;
	h->last_freed = NULL;
}

/* Release b, a live block of s by every check so far, in hardened mode:
 * canaries and kind checked, contents zeroed, then the quarantine. */
static void free_hardened(hk_slab *s, hk_block *b, unsigned kind, const char *what)
{
	size_t bs = s->block_size, n;
	unsigned had;
	bool canary = hk_hard_canary_class(s->cls);
	if (canary) {
		if (!hk_canary_check(b, bs, (char *)b == s->start, what, &n, &had))
			return;
		if (kind != HK_KIND_FREE && had != kind) {
			hk_report_kind(what, b, had, kind);
			return;
		}
		hk_canary_seal_free(b, bs);
	}
	if (hk_hard_zero_on_free())
		memset(b, 0, block_room(s));
	if (HK_UNLIKELY(hk_vg_on)) {
		HK_VG_FREELIKE(b);
		HK_VG_DEFINED(b, sizeof(hk_block));
	}
	if (!canary)
		b->key = hk_free_key.value;
	if (hk_hard_quarantine())
		b = quarantine(hk_tls_self, b);
	if (b) {
		b->key = hk_free_key.value;
		hk_free_block(hk_tls_self, hk_reg_slab(hk_registry_lookup(b)), b);
	}
}

/* Whether the blocks of class cls take the checked paths: every class
 * while a mechanism for all blocks is on (hk_hard_slow), else those with
 * canaries (hk_hard_canary_class). Read from the options once they are
 * fixed, which is when the first SuperSlab is mapped (HK_OPT_BEFORE_USE):
 * the slow paths ask on every call, and a thread that only frees (a
 * consumer of blocks other threads allocate) takes them for every free. */
static _Atomic uint64_t checked_known;	/* bit HK_NCLASSES: the mask is set */

static HK_NOINLINE uint64_t checked_mask(void)
{
	uint64_t m = 0;
	bool all = hk_hard_slow();
	for (unsigned c = 0; c < HK_NCLASSES; c++)
		if (all || hk_hard_canary_class(c))
			m |= (uint64_t)1 << c;
	m |= (uint64_t)1 << HK_NCLASSES;
	if (hk_stats_get(&hk_gstats.ss_created))
		atomic_store_explicit(&checked_known, m, memory_order_relaxed);
	return m;
}

HK_INLINE bool checked(unsigned cls)
{
	uint64_t m = atomic_load_explicit(&checked_known, memory_order_relaxed);
	if (HK_UNLIKELY(!m))
		m = checked_mask();
	return (m >> cls) & 1;
}

_Static_assert(HK_NCLASSES < 64, "a bit per class and one more in a word");

/* The key word of a block the program may never have written: under
 * memcheck, read without making it report an uninitialised value. */
HK_INLINE uintptr_t key_of(const hk_block *b)
{
	return HK_UNLIKELY(hk_vg_on) ? hk_vg_peek(&b->key) : b->key;
}

/* The common cross-thread free: p freed into s, a slab of another live
 * thread's heap, from h, the calling thread's heap (hk_tls_self, maybe
 * &hk_empty_heap). free_slow's checks and the push to the remote list,
 * without free_other's lookups and dispatch; anything out of the
 * ordinary (a misuse to report, canaries, memcheck, the profiler) goes
 * to free_other. The push leaves errno alone; what may not (hk_free_block
 * adopting s, remote_counted's look at the delayed list) saves it. A
 * remote free costs 122 instructions from free's entry, against 198
 * through free_other: callgrind of `bench/prodcons --min 8 --max 512
 * --threads 2 --ops 300000`, where every free is one, the library built
 * with ac_cv_header_valgrind_valgrind_h=no. */
static void free_remote(void *p, hk_slab *s, hk_heap *h)
{
	hk_block *b = p;
	if (HK_UNLIKELY(checked(s->cls) || hk_vg_on || hk_prof_hooks() ||
			!hk_slab_is_block(s, p))) {
		free_other(p, s);
		return;
	}
	uintptr_t key = b->key;
	if (HK_UNLIKELY(key == hk_free_key.value || key == hk_free_key.remote ||
			hk_trailer_broken(s, b))) {
		free_other(p, s);	/* reports it */
		return;
	}
	if (hk_slab_scrubs(s))
		hk_block_scrub(b, s->block_size);
	if (HK_LIKELY(hk_remote_push(s, b))) {
		remote_counted(h);
		return;
	}
	int saved = errno;
	hk_free_block(h, s, b);	/* s lost its owner: adopted */
	errno = saved;
}

static void free_slow(void *p, uintptr_t e, unsigned kind, const char *what)
{
	if (!e) {
		if (p && hk_zero_size_owns(p))
			hk_zero_size_free(p, what);
		else if (p && !hk_foreign_free(p))
			report_invalid(what, p);
		return;
	}
	if (!(e & HK_REG_SLAB)) {
		hk_large *l = hk_large_of(e, p);
		if (!l) {
			report_invalid(what, p);
			return;
		}
		if (HK_UNLIKELY(hk_vg_on))
			HK_VG_FREELIKE(p);
		hk_large_free(l, kind, what);
		return;
	}
	hk_slab *s = hk_reg_slab(e);
	if (!s->block_size || !hk_slab_is_block(s, p)) {
		report_invalid(what, p);
		return;
	}
	hk_block *b = p;
	uintptr_t key = key_of(b);
	if (key == hk_free_key.value || key == hk_free_key.remote) {
		hk_report_double_free(what, p);
		return;
	}
	if (HK_UNLIKELY(checked(s->cls))) {
		free_hardened(s, b, kind, what);
		return;
	}
	if (hk_trailer_broken(s, b)) {
		hk_misuse("%s: heap overflow: block %p of %zu bytes was written past its end (its "
			  "trailer changed)",
			  what, p, s->block_size - HK_TRAILER_BYTES);
		return;
	}
	if (hk_slab_scrubs(s))
		hk_block_scrub(b, s->block_size);
	if (HK_UNLIKELY(hk_vg_on)) {
		/* The engine keeps its link and key in the first 16 bytes of a
		 * free block: those stay addressable for it. */
		HK_VG_FREELIKE(p);
		HK_VG_DEFINED(p, sizeof(hk_block));
	}
	b->key = hk_free_key.value;
	hk_free_block(hk_tls_self, s, b);
}

/* Take a block from s: its free list, then its remote frees, then its
 * never-used blocks. */
static hk_block *take_block(hk_slab *s, bool *zeroed)
{
	if (!s->free)
		hk_remote_splice(s, hk_remote_drain(s));
	hk_block *b = s->free;
	if (b && HK_UNLIKELY(!hk_slab_holds_free(s, b, hk_free_key.value))) {
		/* In hardened mode every free was checked: this is a write
		 * after free. Else most likely a block freed twice. */
		if (HK_UNLIKELY(hk_hard_slow()))
			hk_fatal("heap corruption: the free list of slab %p holds %p, not a free block "
				 "of it (written after free?)",
				 (void *)s->start, (void *)b);
		hk_slab_drop_free_list(s, b);
		b = NULL;
	}
	if (b) {
		s->free = b->next;
		s->xsum ^= (uintptr_t)b;
		b->key = 0;
		if (zeroed)
			*zeroed = false;
	} else {
		b = hk_slab_bump(s);
		if (!b)
			return NULL;
		/* The slots may hold an earlier class's blocks: what the carve
		 * below puts on the free list must read as zero like a freed
		 * block. */
		if (hk_slab_scrubs(s) && !s->clean) {
			size_t len = s->block_size + HK_CARVE_BYTES / s->block_size * s->block_size;
			if (len > (size_t)(s->end - (char *)b))
				len = (size_t)(s->end - (char *)b);
			memset(b, 0, len);
		}
		/* A slab reused from the pool may hold an old key here. */
		b->key = 0;
		if (zeroed)
			*zeroed = s->clean;
		/* So that the next allocations take the fast path, which
		 * takes only from the free list. In a slab whose blocks read
		 * as zero, only those on the page b starts to use: no page
		 * is made resident before it is needed. Not in the checked
		 * paths, whose free blocks are sealed or zeroed one by one. */
		if (!checked(s->cls)) {
			uintptr_t page_end = ((uintptr_t)b | (HK_PAGE_SIZE - 1)) + 1;
			hk_slab_carve(s, !s->clean ? HK_CARVE_BYTES
				      : page_end > (uintptr_t)s->bump ? page_end - (uintptr_t)s->bump : 0);
		}
	}
	s->used++;
	return b;
}

/* The next slab for class cls: a partial one of ours, an abandoned one,
 * a free one from the pool, or a new one. */
static hk_slab *next_slab(hk_heap *h, unsigned cls)
{
	hk_slab *s = h->partial[cls].head;
	if (s) {
		hk_heap_move(h, s, HK_WHERE_NONE);
		return s;
	}
	s = hk_heap_adopt_any(h, cls);
	if (s)
		return s;
	s = hk_pool_acquire(cls, false);
	if (!s) {
		/* Before mapping more, reclaim what exited threads left. */
		hk_thread_collect_orphans(h);
		s = h->partial[cls].head;
		if (s) {
			hk_heap_move(h, s, HK_WHERE_NONE);
			return s;
		}
		s = hk_pool_acquire(cls, true);
		/* Refused: the memory kept for reuse may be what the address
		 * space lacks. */
		if (!s && hk_reclaim())
			s = hk_pool_acquire(cls, true);
		if (!s)
			return NULL;
	}
	/* A slab from the pool: h owns it from now on. */
	hk_heap_move(h, s, HK_WHERE_NONE);
	return s;
}

static void *alloc_slow(unsigned cls, bool *zeroed);

static void *small_alloc(unsigned cls, bool *zeroed)
{
	void *p = alloc_slow(cls, zeroed);
	if (HK_UNLIKELY(hk_prof_hooks()) && p)
		hk_prof_alloc(p, hk_class_size(cls));
	if (HK_UNLIKELY(hk_vg_on) && p)
		HK_VG_MALLOCLIKE(p, hk_class_size(cls), zeroed && *zeroed);
	return p;
}

void *hk_alloc_slow(unsigned cls, size_t size, size_t align, unsigned kind, bool *zeroed)
{
	/* The options must be read before the first block is made: a block
	 * made without its canary would later be found broken. */
	hk_global_init();
	if (cls == HK_ZERO_CLASS) {
		void *p = hk_hard_zero_size() ? hk_zero_size_alloc() : NULL;
		if (p) {
			if (zeroed)
				*zeroed = true;
			return p;
		}
		cls = 0;
	}
	if (HK_UNLIKELY(checked(cls)))
		return hk_hardened_alloc(size, align, kind, zeroed);
	void *p = small_alloc(cls, zeroed);
	if (p) {
		hk_slab *s = hk_tls_self->cur[cls];	/* where alloc_slow took p */
		if (hk_slab_trailed(s))
			hk_trailer_seal(s, p, size);
	}
	return p;
}

void *hk_hardened_alloc(size_t size, size_t align, unsigned kind, bool *zeroed)
{
	hk_heap *h = hk_tls_self;
	if (h->last_freed) {
		/* A write right after a free is caught here, not only when the
		 * block leaves the quarantine. */
		if (hk_hard_zero_on_free())
			still_zero(h->last_freed, false, "malloc()");
		h->last_freed = NULL;
	}
	if (size == 0 && align <= HK_MIN_ALIGN && hk_hard_zero_size()) {
		void *p = hk_zero_size_alloc();
		if (p) {
			if (zeroed)
				*zeroed = true;
			return p;
		}
	}
	/* In hardened mode the largest class has canaries too. */
	if (size > HK_SMALL_MAX - (hk_hard_slow() ? HK_TRAILER : 0) || align > HK_SLOT_SIZE) {
		size_t dirty;
		void *p = hk_large_alloc(size, align, kind, &dirty);
		if (p && dirty && (hk_hard_zero_on_free() || hk_hard_zero_alloc()))
			memset(p, 0, dirty < size ? dirty : size);
		if (zeroed)
			*zeroed = !dirty || hk_hard_zero_on_free() || hk_hard_zero_alloc();
		return p;
	}
	/* The trailer must not share the first 16 bytes with the link and
	 * the key of a free block. With it the block may be of the next
	 * class, which with canary = medium may be the largest, without
	 * canaries (hk_hard_canary_class): the block then has none. */
	unsigned cls = (unsigned)hk_size_class_aligned(size, align);
	bool canary = hk_hard_canary_class(cls);
	if (canary) {
		size_t need = size + HK_TRAILER;
		if (need < sizeof(hk_block) + HK_TRAILER)
			need = sizeof(hk_block) + HK_TRAILER;
		cls = (unsigned)hk_size_class_aligned(need, align);
		canary = hk_hard_canary_class(cls);
	}
	bool z;
	hk_block *b = small_alloc(cls, &z);
	if (!b)
		return NULL;
	size_t bs = hk_class_size(cls);
	if (!z && hk_hard_zero_on_free()) {
		still_zero(b, true, "malloc()");
		b->next = NULL;
		z = true;
	} else if (!z && hk_hard_zero_alloc()) {
		memset(b, 0, bs - (canary ? HK_TRAILER : 0));
		z = true;
	}
	if (canary)
		hk_canary_seal(b, bs, size, kind);
	if (zeroed)
		*zeroed = z;
	return b;
}

static void *alloc_slow(unsigned cls, bool *zeroed)
{
	hk_heap *h = hk_tls_self;
	if (h == &hk_empty_heap) {
		h = hk_thread_attach();
		if (!h) {
			errno = ENOMEM;
			return NULL;
		}
	}
	hk_heap_collect(h);
	/* One clock read for both. */
	uint64_t now = hk_os_now_ms();
	hk_pool_maybe_purge(now);
	hk_large_maybe_decay(now);
	if (HK_UNLIKELY(HK_OPT(trim_interval_ms)))
		hk_maybe_trim();
	hk_report_poll();
	for (;;) {
		hk_slab *s = *hk_heap_cur(h, cls);
		if (s != &hk_empty_slab) {
			hk_block *b = take_block(s, zeroed);
			if (b)
				return b;
			/* Exhausted: park it until frees come back. */
			hk_slab_unpin(s);
			hk_remote_splice(s, hk_remote_drain_park(s));
			if (s->used == 0)
				hk_slab_emptied(h, s);
			else
				hk_heap_move(h, s, s->free ? HK_WHERE_PARTIAL : HK_WHERE_FULL);
		}
		s = next_slab(h, cls);
		if (!s) {
			errno = ENOMEM;
			return NULL;
		}
		/* It may stay parked: a remote free into a parked current
		 * slab is delivered to h (free_delivered) like any other, so
		 * taking a parked slab costs no atomic operation. */
		hk_remote_splice(s, hk_remote_drain(s));
		hk_heap_move(h, s, HK_WHERE_CUR);
		if (HK_OPT(thread_cache)) {
			s->pinned = 1;
			s->used++;
		}
	}
}

int hk_hardened_resize(void *p, size_t size)
{
	uintptr_t e = hk_registry_lookup(p);
	if (!(e & HK_REG_SLAB))
		return 0;	/* a zero-size block */
	hk_slab *s = hk_reg_slab(e);
	size_t bs = s->block_size, need = size, n;
	unsigned kind;
	if (hk_hard_canary_class(s->cls)) {
		need = size + HK_TRAILER < sizeof(hk_block) + HK_TRAILER ? sizeof(hk_block) + HK_TRAILER
									: size + HK_TRAILER;
		if (need > bs || need <= bs / 2)
			return 0;
		if (!hk_canary_check(p, bs, (char *)p == s->start, "realloc()", &n, &kind))
			return -1;
		hk_canary_seal(p, bs, size, kind);
		return 1;
	}
	return need <= bs && need > bs / 2;
}

bool hk_block_usable(const void *p, const char *what, hk_large **large, size_t *usable)
{
	uintptr_t e = hk_registry_lookup(p);
	*large = NULL;
	if (e && !(e & HK_REG_SLAB)) {
		hk_large *l = hk_large_of(e, p);
		if (l) {
			*large = l;
			*usable = hk_large_usable(l);
			return true;
		}
	} else if (!e) {
		if (hk_zero_size_live(p)) {
			*usable = 0;
			return true;
		}
		if ((*usable = hk_foreign_usable(p)))
			return true;
	} else {
		hk_slab *s = hk_reg_slab(e);
		if (s->block_size && hk_slab_is_block(s, p) && key_of(p) != hk_free_key.value &&
		    key_of(p) != hk_free_key.remote) {
			unsigned kind;
			*usable = hk_slab_usable(s, p);
			if (!hk_hard_canary_class(s->cls) ||
			    (hk_canary_read(p, s->block_size, usable, &kind) && kind != HK_KIND_FREE))
				return true;
		}
	}
	report_invalid(what, p);
	return false;
}

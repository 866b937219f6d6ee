#include "large.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cgroup.h"
#include "hardened.h"
#include "lock.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "report.h"
#include "prof.h"
#include "stats.h"
#include "tuning.h"
#include "vg.h"

/* Whole registry slots (so no other mapping shares the last one), with at
 * least one byte past offset, so that the user pointer is mapped. */
static size_t map_size_for(size_t offset, size_t size)
{
	if (size > PTRDIFF_MAX - offset - HK_SLOT_SIZE)
		return 0;
	return hk_align_up(offset + (size ? size : 1), HK_SLOT_SIZE);
}

/* Guard pages (hardened.h): the mapping gets an inaccessible region of
 * map_align bytes (so that the block keeps its alignment) before the
 * header and one slot after the end; *guard is set to the first. */
static void *map_guarded(size_t map_size, size_t map_align, size_t *guard)
{
	if (map_size > PTRDIFF_MAX - map_align - HK_SLOT_SIZE) {
		errno = ENOMEM;
		return NULL;
	}
	char *base = hk_os_map(map_align + map_size + HK_SLOT_SIZE, map_align);
	if (!base)
		return NULL;
	char *l = base + map_align;
	mprotect(base, map_align, PROT_NONE);
	mprotect(l + map_size, HK_SLOT_SIZE, PROT_NONE);
	hk_os_split();
	hk_os_split();
	*guard = map_align;
	return l;
}

/* A new mapping of at least HK_LARGE_HUGE bytes is aligned to it and,
 * with the option large_hugepages, asked to be backed by transparent huge
 * pages (where the system leaves that to madvise): a program filling a
 * big buffer then takes one page fault per 2 MiB instead of 512, which is
 * most of what a fresh large block costs. Only whole 2 MiB pages inside
 * the mapping are affected, so its tail and smaller blocks keep 4 KiB
 * pages. */
static void *map_fresh(size_t map_size, size_t map_align, size_t *guard)
{
	*guard = 0;
	if (hk_hard_guard_pages())
		return map_guarded(map_size, map_align, guard);
	bool huge = map_size >= HK_LARGE_HUGE && HK_OPT(large_hugepages);
	if (huge && map_align < HK_LARGE_HUGE)
		map_align = HK_LARGE_HUGE;
	void *p = hk_os_map(map_size, map_align);
	if (p && huge) {
		int saved = errno;
		madvise(p, map_size, MADV_HUGEPAGE);
		errno = saved;
	}
	return p;
}

static bool reg_add(hk_large *l, size_t size)
{
	if (!hk_registry_prepare(l, size))
		return false;
	hk_registry_set(l, size, (uintptr_t)l);
	return true;
}

/* Freed large mappings kept for reuse, so that a program churning large
 * blocks does not pay for mmap, munmap and page faults each time. Bounded
 * by HK_LARGE_CACHE_SLOTS entries and by a byte budget, the option
 * large_cache (0 turns the cache off; in a container at most an eighth of
 * its memory limit); the oldest entry goes first, and trim empties it.
 *
 * Within the budget the cache decays as the pool does (pool.c): a mapping
 * cached for purge_decay_ms is unmapped, and so is one cached for
 * HK_CEILING_GRACE_MS while the cache holds more than the large bytes in
 * use (and HK_LARGE_CACHE_MIN); under the cgroup's memory pressure, or
 * with the option trim off, the same as the pool. Large frees and
 * allocation slow paths look at the clock. (A budget of the large bytes in
 * use, applied at once, unmapped the pieces that growing vectors would
 * have been copied into a moment later: 26 times mimalloc's page faults
 * on realloc-vector, at the same peak RSS.)
 *
 * A cached mapping is known by its entry here alone: its registry entries
 * carry HK_REG_CACHED, so that a second free of the block is caught
 * without reading its header, and with the option large_protect it is
 * inaccessible (PROT_NONE) until it is handed out again, so that a write
 * or read after free faults. With the option large_hold the address of the
 * block freed last is remembered until the next large free, and no block
 * is handed out there: the cached mapping that would put one there serves
 * it a page further in (see moved_offset), or another mapping does; so the
 * next allocation does not return the block just freed, and its mapping
 * is still reused. */

struct cached {
	char *start;
	size_t size;
	uint64_t since;	/* hk_os_now_ms() when it was cached */
};

static hk_lock_t cache_lock = HK_LOCK_INIT;
static struct cached cache[HK_LARGE_CACHE_SLOTS];	/* oldest first */
static size_t cache_len, cache_bytes;
static const char *freed_last;	/* large_hold: the block freed last, or NULL */
static uint64_t last_decay;	/* hk_os_now_ms() of the last decay tick */

static size_t cache_budget(void)
{
	size_t max = (size_t)HK_OPT(large_cache);
	if (hk_hard_no_large_cache())
		return 0;
	if (hk_cgroup_limit() && hk_cgroup_limit() / 8 < max)
		max = (size_t)(hk_cgroup_limit() / 8);
	return max;
}

static void cache_take(size_t i)
{
	cache_bytes -= cache[i].size;
	memmove(&cache[i], &cache[i + 1], (cache_len - i - 1) * sizeof cache[0]);
	cache_len--;
}

/* Make [start, start+size) inaccessible (or accessible again), with
 * large_protect. Returns false if the kernel refused (out of mappings). */
static bool protect(char *start, size_t size, bool none)
{
	if (!HK_OPT(large_protect))
		return true;
	int saved = errno;
	bool ok = mprotect(start, size, none ? PROT_NONE : PROT_READ | PROT_WRITE) == 0;
	errno = saved;
	return ok;
}

/* Give back the tail past new bytes. The registry entries go first: once
 * the tail is unmapped another thread may map and register it. */
static void shrink(hk_large *l, size_t new)
{
	size_t old = l->map_size;
	hk_registry_set((char *)l + new, old - new, 0);
	if (hk_os_resize(l, old, new))
		l->map_size = new;
	else
		hk_registry_set((char *)l + new, old - new, (uintptr_t)l);
}

/* The whole mapping of l: from its guard before to its guard after. */
static char *map_start(const hk_large *l, size_t *size)
{
	*size = l->map_size + (l->guard ? l->guard + HK_SLOT_SIZE : 0);
	return (char *)l - l->guard;
}

static void unmap(hk_large *l)
{
	size_t size;
	char *start = map_start(l, &size);
	hk_registry_set(l, l->map_size, 0);
	if (l->guard) {
		hk_os_join();
		hk_os_join();
	}
	hk_os_unmap(start, size);
}

/* A cached mapping has no guard pages: with them nothing is cached. */
static void unmap_cached(struct cached c)
{
	hk_registry_set(c.start, c.size, 0);
	hk_os_unmap(c.start, c.size);
}

static bool cache_put(struct cached c, size_t budget);

/* Cut c, just taken from the cache, to new bytes; the rest stays in the
 * cache as a mapping of its own (it was within the budget a moment ago),
 * unless the cache has no entry left for it. */
static void split(struct cached c, size_t new)
{
	struct cached t = { c.start + new, c.size - new, c.since };
	hk_os_split();
	hk_registry_set(t.start, t.size, (uintptr_t)t.start | HK_REG_CACHED);
	if (!cache_put(t, SIZE_MAX))
		unmap_cached(t);
}

/* The mapping c, taken from the cache, becomes the header l of a block
 * again: accessible, registered as l. false if the kernel refused to make
 * it accessible (it is then unmapped). */
static bool uncache(struct cached c)
{
	if (!protect(c.start, c.size, false)) {
		unmap_cached(c);
		return false;
	}
	hk_large *l = (hk_large *)c.start;
	/* The header lies in what memcheck was told is a freed block. */
	if (HK_UNLIKELY(hk_vg_on))
		HK_VG_UNDEFINED(l, sizeof *l);
	l->map_size = c.size;
	l->guard = 0;
	hk_registry_set(l, c.size, (uintptr_t)l);
	return true;
}

/* The offset in its mapping of a block that must not start where it
 * would at offset: a page further in, or for a block aligned to a page or
 * more map_align further (so that it keeps its alignment); back again for
 * a block moved so already, so that moves do not add up. */
static size_t moved_offset(size_t offset, size_t map_align)
{
	size_t step = offset % HK_PAGE_SIZE ? HK_PAGE_SIZE : map_align;
	return offset >= step + HK_LARGE_HEADER ? offset - step : offset + step;
}

/* large_hold: is p where the block freed last was? */
static bool is_freed_last(const char *p)
{
	hk_lock(&cache_lock);
	bool same = p == freed_last;
	hk_unlock(&cache_lock);
	return same;
}

static void set_freed_last(const char *p)
{
	if (!HK_OPT(large_hold))
		return;
	hk_lock(&cache_lock);
	freed_last = p;
	hk_unlock(&cache_lock);
}

/* For a block of size bytes at *offset: the smallest cached mapping
 * aligned to map_align that holds it, cut to size (keeping up to an eighth
 * more; the rest stays cached, see split); or else the largest smaller
 * one, if it can grow to size where it is. Its pages are already faulted
 * in, which is the point. The mapping that would put the block where the
 * block freed last was (large_hold) has to hold it at the moved offset,
 * and *offset becomes that if it is the one taken. NULL if none. */
static hk_large *cache_get(size_t size, size_t *offset, size_t map_align, size_t *used)
{
	size_t moved = moved_offset(*offset, map_align);
	size_t need[2] = { map_size_for(*offset, size), map_size_for(moved, size) };
	struct cached c = { NULL, 0, 0 };
	size_t fit = SIZE_MAX, under = SIZE_MAX, map_size = 0;
	bool move = false;
	hk_lock(&cache_lock);
	for (size_t i = 0; i < cache_len; i++) {
		if ((uintptr_t)cache[i].start & (map_align - 1))
			continue;
		size_t n = need[cache[i].start + *offset == freed_last];
		if (!n)
			continue;
		if (cache[i].size >= n) {
			if (fit == SIZE_MAX || cache[i].size < cache[fit].size)
				fit = i;
		} else if (under == SIZE_MAX || cache[i].size > cache[under].size) {
			under = i;
		}
	}
	size_t pick = fit != SIZE_MAX ? fit : under;
	if (pick != SIZE_MAX) {
		c = cache[pick];
		move = c.start + *offset == freed_last;
		map_size = need[move];
		cache_take(pick);
		hk_stats_add(&hk_gstats.large_cached, -(int64_t)c.size);
	}
	hk_unlock(&cache_lock);
	if (!c.start)
		return NULL;
	size_t was = c.size;
	if (c.size > map_size + map_size / 8) {
		split(c, map_size);
		c.size = map_size;
	} else if (c.size < map_size) {
		if (!hk_registry_prepare(c.start, map_size) ||
		    !hk_os_resize(c.start, c.size, map_size)) {
			if (!cache_put(c, cache_budget()))
				unmap_cached(c);
			return NULL;
		}
		c.size = map_size;
	}
	if (!uncache(c))
		return NULL;
	*used = was;
	if (move)
		*offset = moved;
	return (hk_large *)c.start;
}

/* Unmap the oldest cached mappings until size more bytes fit in budget
 * and, if slot, an entry is free. */
static void evict(size_t size, size_t budget, bool slot)
{
	struct cached evicted[HK_LARGE_CACHE_SLOTS];
	size_t n = 0;
	hk_lock(&cache_lock);
	while (cache_len && ((slot && cache_len == HK_LARGE_CACHE_SLOTS) ||
			     cache_bytes + size > budget)) {
		evicted[n++] = cache[0];
		hk_stats_add(&hk_gstats.large_cached, -(int64_t)cache[0].size);
		cache_take(0);
	}
	hk_unlock(&cache_lock);
	for (size_t i = 0; i < n; i++)
		unmap_cached(evicted[i]);
}

/* Join c (not cached yet) with the cached mappings that touch it, so that
 * pieces split off one mapping become one again; returns the whole, cached
 * since the older of the two (so that a piece does not escape decay by
 * taking blocks freed next to it). Caller holds cache_lock. */
static struct cached coalesce(struct cached c)
{
	for (size_t i = 0; i < cache_len;) {
		struct cached o = cache[i];
		bool before = o.start + o.size == c.start, after = c.start + c.size == o.start;
		if (!before && !after) {
			i++;
			continue;
		}
		struct cached head = before ? o : c, tail = before ? c : o;
		cache_take(i);
		hk_os_join();
		hk_registry_set(tail.start, tail.size, (uintptr_t)head.start | HK_REG_CACHED);
		c = (struct cached){ head.start, head.size + tail.size,
				     o.since < c.since ? o.since : c.since };
		i = 0;
	}
	return c;
}

/* Keep c (inaccessible already, with large_protect, and registered as
 * cached) for reuse if budget allows; returns false if not. */
static bool cache_put(struct cached c, size_t budget)
{
	if (c.size > budget)
		return false;
	evict(c.size, budget, true);
	hk_lock(&cache_lock);
	bool kept = cache_len < HK_LARGE_CACHE_SLOTS && cache_bytes + c.size <= budget;
	if (kept) {
		hk_stats_add(&hk_gstats.large_cached, (int64_t)c.size);
		c = coalesce(c);
		cache[cache_len++] = c;
		cache_bytes += c.size;
	}
	hk_unlock(&cache_lock);
	return kept;
}

/* Keep l, just freed, for reuse if budget allows; returns false, having
 * done nothing but remember where its block was (large_hold), if not. */
static bool cache_free(hk_large *l, size_t budget)
{
	struct cached c = { (char *)l, l->map_size, hk_os_now_ms() };
	set_freed_last(c.start + l->offset);
	if (c.size > budget)
		return false;
	hk_registry_set(c.start, c.size, (uintptr_t)c.start | HK_REG_CACHED);
	protect(c.start, c.size, true);
	if (!cache_put(c, budget))
		unmap_cached(c);
	return true;
}

/* Unmap the cached mappings that have decayed (see the cache above). */
static void decay(uint64_t now)
{
	static uint64_t pressure_checked;
	static bool pressed;
	struct cached gone[HK_LARGE_CACHE_SLOTS];
	size_t n = 0;
	if (!HK_OPT(trim))
		return;
	hk_lock(&cache_lock);
	__atomic_store_n(&last_decay, now, __ATOMIC_RELAXED);
	if (now - pressure_checked >= HK_PRESSURE_CHECK_MS) {
		pressure_checked = now;
		pressed = cache_len && hk_cgroup_pressed();
	}
	size_t ceiling = (size_t)hk_stats_get(&hk_gstats.large_bytes);
	ceiling = ceiling < HK_LARGE_CACHE_MIN ? HK_LARGE_CACHE_MIN : ceiling;
	for (size_t i = 0; i < cache_len;) {
		uint64_t age = now - cache[i].since;
		if (pressed || age >= HK_OPT(purge_decay_ms) ||
		    (cache_bytes > ceiling && age >= HK_CEILING_GRACE_MS)) {
			gone[n++] = cache[i];
			hk_stats_add(&hk_gstats.large_cached, -(int64_t)cache[i].size);
			cache_take(i);
		} else {
			i++;
		}
	}
	hk_unlock(&cache_lock);
	for (size_t i = 0; i < n; i++)
		unmap_cached(gone[i]);
}

void hk_large_maybe_decay(uint64_t now)
{
	if (now - __atomic_load_n(&last_decay, __ATOMIC_RELAXED) >= (HK_OPT(purge_decay_ms) + 1) / 2)
		decay(now);
}

/* The quarantine of freed large blocks (hardened.h): inaccessible, their
 * pages given back, their addresses kept from reuse until
 * HK_LARGE_QUARANTINE more large blocks are freed; under cache_lock. */
static struct {
	char *start;
	size_t size;
} retired[HK_LARGE_QUARANTINE];
static size_t retired_next;

static void retire(hk_large *l)
{
	size_t size, map_size = l->map_size;
	char *start = map_start(l, &size);
	hk_registry_set(l, map_size, 0);
	int saved = errno;
	if (mprotect(l, map_size, PROT_NONE) != 0 || madvise(l, map_size, MADV_DONTNEED) != 0) {
		errno = saved;
		hk_registry_set(l, map_size, (uintptr_t)l);
		unmap(l);
		return;
	}
	/* Joined with its guards: one inaccessible mapping. */
	if (start != (char *)l) {
		hk_os_join();
		hk_os_join();
	}
	hk_lock(&cache_lock);
	char *old = retired[retired_next].start;
	size_t old_size = retired[retired_next].size;
	retired[retired_next].start = start;
	retired[retired_next].size = size;
	retired_next = (retired_next + 1) % HK_LARGE_QUARANTINE;
	hk_unlock(&cache_lock);
	if (old)
		hk_os_unmap(old, old_size);
}

/* Canaries (hardened.h): the last bytes of the header before the block,
 * and the first bytes of the room after it. */
static size_t canary_before(const hk_large *l)
{
	size_t gap = l->offset - sizeof *l;
	return gap < HK_LARGE_CANARY ? gap : HK_LARGE_CANARY;
}

/* 0 when l->size claims more than the mapping holds (a corrupted header):
 * check() then reports the block. */
static size_t canary_after(const hk_large *l)
{
	if (l->size > l->map_size - l->offset)
		return 0;
	size_t room = l->map_size - l->offset - l->size;
	return room < HK_LARGE_CANARY ? room : HK_LARGE_CANARY;
}

/* Under memcheck the canaries are out of bounds for the program, so that
 * memcheck reports a write to them where it happens; open them for the
 * engine while it writes or checks them. The room after the block may
 * have been inside an earlier, freed block. */
static void vg_open(const hk_large *l, bool open)
{
	if (HK_LIKELY(!hk_vg_on))
		return;
	const char *p = (const char *)l + l->offset;
	size_t after = canary_after(l);
	if (open) {
		HK_VG_DEFINED(p - canary_before(l), canary_before(l));
		HK_VG_DEFINED(p + l->size, after);
	} else {
		HK_VG_NOACCESS(p - canary_before(l), canary_before(l));
		HK_VG_NOACCESS(p + l->size, after);
	}
}

/* The request (size bytes, as kind) was granted in l: set its usable
 * size and, with canaries, write them. */
static void seal(hk_large *l, size_t size, unsigned kind)
{
	char *p = (char *)l + l->offset;
	l->kind = kind;
	if (!hk_hard_canary_large()) {
		l->size = l->map_size - l->offset;
		return;
	}
	l->size = size;
	vg_open(l, true);
	hk_canary_fill(p - canary_before(l), canary_before(l), (uintptr_t)l);
	hk_canary_fill(p + size, canary_after(l), (uintptr_t)l);
	vg_open(l, false);
}

/* Bytes to map for a request of size bytes: with canaries, room for the
 * pattern after it. */
static size_t with_room(size_t size)
{
	return hk_hard_canary_large() && size <= PTRDIFF_MAX ? size + HK_LARGE_CANARY / 4 : size;
}

/* Check l's canaries and (with small canaries, when kind is not
 * HK_KIND_FREE) its kind before what releases or resizes it. Reports the
 * misuse and returns false if one is broken. */
static bool check(const hk_large *l, unsigned kind, const char *what)
{
	if (!hk_hard_canary_large())
		return true;
	const char *p = (const char *)l + l->offset;
	size_t before = canary_before(l);
	vg_open(l, true);
	size_t intact = hk_canary_find(p - before, before, (uintptr_t)l);
	size_t after = canary_after(l);
	size_t off = hk_canary_find(p + l->size, after, (uintptr_t)l);
	vg_open(l, false);
	if (intact < before) {
		hk_misuse("%s: heap underflow: the bytes before block %p were overwritten", what,
			  (const void *)p);
		return false;
	}
	if (!after || off < after) {
		hk_misuse("%s: heap overflow: block %p of %zu bytes was written past its end "
			  "(at offset %zu)",
			  what, (const void *)p, l->size, l->size + off);
		return false;
	}
	if (kind != HK_KIND_FREE && hk_hard_canary_small() && l->kind != kind) {
		hk_report_kind(what, p, l->kind, kind);
		return false;
	}
	return true;
}

/* Unmap the quarantined large blocks: a trim, or a refused mapping, wants
 * their address space back. */
static size_t unmap_retired(void)
{
	size_t bytes = 0;
	hk_lock(&cache_lock);
	for (size_t i = 0; i < HK_LARGE_QUARANTINE; i++) {
		if (retired[i].start) {
			hk_os_unmap(retired[i].start, retired[i].size);
			bytes += retired[i].size;
			retired[i].start = NULL;
		}
	}
	hk_unlock(&cache_lock);
	return bytes;
}

size_t hk_large_trim(void)
{
	struct cached all[HK_LARGE_CACHE_SLOTS];
	size_t n, bytes, retired_bytes = unmap_retired();
	hk_lock(&cache_lock);
	n = cache_len;
	memcpy(all, cache, n * sizeof all[0]);
	cache_len = 0;
	bytes = cache_bytes;
	cache_bytes = 0;
	hk_stats_add(&hk_gstats.large_cached, -(int64_t)bytes);
	hk_unlock(&cache_lock);
	for (size_t i = 0; i < n; i++)
		unmap_cached(all[i]);
	return bytes + retired_bytes;
}

void *hk_large_alloc(size_t size, size_t align, unsigned kind, size_t *dirty)
{
	hk_report_poll(); /* as the small-block slow path does */
	size_t offset = align > HK_LARGE_HEADER ? align : HK_LARGE_HEADER;
	size_t map_align = align > HK_SLOT_SIZE ? align : HK_SLOT_SIZE;
	size_t bytes = with_room(size);
	size_t map_size = map_size_for(offset, bytes);
	if (!map_size) {
		errno = ENOMEM;
		return NULL;
	}
	size_t used = 0;	/* bytes from the header on that may hold old data */
	hk_large *l = cache_get(bytes, &offset, map_align, &used);
	bool fresh = !l;
	if (l)
		map_size = map_size_for(offset, bytes);
	/* Memcheck is told the whole reused block is undefined (below), so
	 * under it calloc clears all of it. */
	if (HK_UNLIKELY(hk_vg_on) && used)
		used = l->map_size;
	if (dirty)
		*dirty = used > offset ? used - offset : 0;
	if (!l) {
		/* The cache could not serve this: it makes room for the new
		 * mapping within its budget, so that it does not hold its whole
		 * budget on top of a growing live set. */
		evict(map_size, cache_budget(), false);
		size_t guard;
		l = map_fresh(map_size, map_align, &guard);
		if (!l && hk_large_trim())
			l = map_fresh(map_size, map_align, &guard);
		if (!l)
			return NULL;
		l->map_size = map_size;
		l->guard = guard;
		if (HK_OPT(large_hold) && is_freed_last((char *)l + offset)) {
			/* The block freed last was not cached (too big, or
			 * evicted since) and mmap gave its address back: map
			 * again while that one is taken. */
			hk_large *again = map_fresh(map_size, map_align, &guard);
			if (again) {
				unmap(l);
				l = again;
				l->map_size = map_size;
				l->guard = guard;
			}
		}
		if (!reg_add(l, map_size)) {
			unmap(l);
			errno = ENOMEM;
			return NULL;
		}
		HK_DEBUG(HK_LOG_LARGE, "mapped %p, %zu bytes", (void *)l, map_size);
	}
	l->magic = HK_LARGE_MAGIC;
	l->offset = offset;
	l->want = map_size_for(offset, bytes);
	l->align = map_align;
	seal(l, size, kind);
	hk_stats_add(&hk_gstats.large_live, 1);
	hk_stats_add(&hk_gstats.large_bytes, (int64_t)l->map_size);
	if (HK_UNLIKELY(hk_vg_on))
		HK_VG_MALLOCLIKE((char *)l + offset, l->size, fresh);
	if (HK_UNLIKELY(hk_prof_hooks()))
		return hk_prof_alloc((char *)l + offset, size);
	return (char *)l + offset;
}

void hk_large_free(hk_large *l, unsigned kind, const char *what)
{
	if (!check(l, kind, what))
		return;
	/* The budget counts the block itself as in use: a program that frees
	 * its only big buffer and makes another keeps it resident. */
	size_t budget = cache_budget();
	hk_stats_add(&hk_gstats.large_live, -1);
	hk_stats_add(&hk_gstats.large_bytes, -(int64_t)l->map_size);
	if (hk_hard_quarantine()) {
		retire(l);
		return;
	}
	/* Room taken for growth and never asked for is address space only:
	 * not worth a place in the cache. */
	if (!l->guard && l->map_size > l->want + l->want / 8)
		shrink(l, l->want);
	if (!cache_free(l, budget)) {
		HK_DEBUG(HK_LOG_LARGE, "unmapped %p, %zu bytes", (void *)l, l->map_size);
		unmap(l);
	}
	decay(hk_os_now_ms());
}

/* Grow l to new bytes over the cached mapping that starts where l ends,
 * if it is large enough (the rest of it stays cached): no system call,
 * and its pages are resident already. A block that grows by doubling
 * from a piece of a big cached mapping so grows where it is. */
static bool grow_into_cache(hk_large *l, size_t new)
{
	char *end = (char *)l + l->map_size;
	size_t need = new - l->map_size;
	struct cached n = { NULL, 0, 0 };
	hk_lock(&cache_lock);
	for (size_t i = 0; i < cache_len; i++) {
		if (cache[i].start == end && cache[i].size >= need) {
			n = cache[i];
			cache_take(i);
			hk_stats_add(&hk_gstats.large_cached, -(int64_t)n.size);
			break;
		}
	}
	hk_unlock(&cache_lock);
	if (!n.start)
		return false;
	if (n.size > need) {
		split(n, need);
		n.size = need;
	}
	if (!protect(n.start, n.size, false)) {
		unmap_cached(n);
		return false;
	}
	hk_os_join();
	hk_registry_set(n.start, need, (uintptr_t)l);
	l->map_size = new;
	return true;
}

static hk_large *realloc_large(hk_large *l, size_t size);

void *hk_large_realloc(hk_large *l, size_t size)
{
	void *old = (char *)l + l->offset;
	unsigned kind = l->kind;
	if (!check(l, HK_KIND_FREE, "realloc()")) {
		errno = EINVAL;
		return NULL;
	}
	hk_large *n = realloc_large(l, with_room(size));
	if (!n)
		return NULL;
	seal(n, size, kind);
	void *p = (char *)n + n->offset;
	if (HK_UNLIKELY(hk_prof_hooks()) && p != old)
		return hk_prof_realloc(old, p, size);
	return p;
}

/* The header of l resized to size bytes, or NULL. */
static hk_large *realloc_large(hk_large *l, size_t size)
{
	size_t old = l->map_size;
	size_t new = map_size_for(l->offset, size);
	if (!new) {
		errno = ENOMEM;
		return NULL;
	}
	size_t want = new;
	/* A block that grew keeps its room: shrink only below half. */
	if (new <= old) {
		l->want = want;
		if (new < old / 2) {
			shrink(l, new);
			hk_stats_add(&hk_gstats.large_bytes, (int64_t)l->map_size - (int64_t)old);
		}
		return l;
	}
	/* Growing: over the cached mapping right after it (no system call,
	 * resident pages); else into a cached mapping elsewhere (a copy, onto
	 * resident pages; the old block goes to the cache in turn); else in
	 * place; else by moving its pages (no copy) to a fresh mapping with
	 * room to grow again in place (address space only: pages never
	 * written are never resident), as a growing buffer usually goes on
	 * growing. */
	if (grow_into_cache(l, new)) {
		l->want = want;
		hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
		return l;
	}
	size_t used, align = l->align, offset = l->offset;
	hk_large *dst = cache_get(size, &offset, align, &used);
	bool moved = false;
	if (dst) {
		new = dst->map_size;
		want = map_size_for(offset, size);
	} else if (hk_os_resize(l, old, new)) {
		if (!reg_add(l, new)) {
			hk_os_resize(l, new, old);
			errno = ENOMEM;
			return NULL;
		}
		l->map_size = new;
		l->want = want;
		hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
		return l;
	} else {
		size_t room = new < ((size_t)64 << 20) ? new : ((size_t)64 << 20);
		dst = new <= PTRDIFF_MAX / 2 ? hk_os_try_map(new + room, align) : NULL;
		if (dst)
			new += room;
		else if (!(dst = hk_os_map(new, align)))
			return NULL;
		if (!reg_add(dst, new)) {
			hk_os_unmap(dst, new);
			errno = ENOMEM;
			return NULL;
		}
		hk_registry_set(l, old, 0);
		const char *block = (char *)l + offset;
		moved = hk_os_move(l, old, dst, new);
		if (moved)
			set_freed_last(block);
		else
			hk_registry_set(l, old, (uintptr_t)l);
	}
	if (!moved) {
		/* The header comes along, and the block to its offset in dst
		 * (moved, see cache_get); the old block is freed as such. */
		memcpy(dst, l, sizeof *l);
		memcpy((char *)dst + offset, (char *)l + l->offset, old - l->offset);
		dst->offset = offset;
		/* As hk_large_free does: the room never asked for goes. */
		if (l->map_size > l->want + l->want / 8)
			shrink(l, l->want);
		if (!cache_free(l, cache_budget()))
			unmap(l);
	}
	dst->map_size = new;
	dst->want = want;
	dst->align = align;
	hk_stats_add(&hk_gstats.large_bytes, (int64_t)new - (int64_t)old);
	return dst;
}

void hk_large_fork_prepare(void)
{
	hk_lock(&cache_lock);
}

void hk_large_fork_parent(void)
{
	hk_unlock(&cache_lock);
}

void hk_large_fork_child(void)
{
	hk_lock_reset(&cache_lock);
}

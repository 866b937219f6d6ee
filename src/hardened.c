#include "hardened.h"

#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "os.h"
#include "slab.h"
#include "vg.h"

/* --- Canaries. -------------------------------------------------------
 *
 * A trailer is the word (n << 24 | kind << 16 | TRAILER_TAG) XORed with
 * the block's mask, a per-process secret mixed with the block's address:
 * a trailer copied from another block, or written by a program that read
 * one, does not fit. The low 16 bits must come back as the tag, so an
 * overflow of even one byte into the trailer is caught, unless it writes
 * the very byte stored there, which for the tag's bytes is never below
 * 128 (trailer_mask). The pattern's
 * bytes are the mask's bytes with the top bit set (so a byte at address a
 * is byte a % 8 of one word, and the pattern is written and compared a
 * word at a time): never 0, nor 1, nor ASCII, the values an overflow most
 * often writes. */
#define TRAILER_TAG ((uint64_t)0x4b48)

/* Bytes of pattern written after the request: enough for the overflows
 * that stop short of the trailer, which catches the rest. */
#define PATTERN_MAX ((size_t)64)

static uint64_t mask_of(uintptr_t seed)
{
	return hk_free_key.canary ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
}

/* The trailer's mask: the block's mask, but for the tag's two bytes (the
 * first an overflow reaches), which it makes be stored with their top bits
 * set, as the pattern's are: a byte of 0, 1 or ASCII written over them
 * always changes them. */
static uint64_t trailer_mask(uintptr_t seed)
{
	uint64_t m = mask_of(seed);
	return (m & ~(uint64_t)0xffff) | (((m | 0x8080) ^ TRAILER_TAG) & 0xffff);
}

static uint64_t pattern_of(uintptr_t seed)
{
	return mask_of(seed) | 0x8080808080808080ull;
}

static unsigned char pattern_byte(uint64_t pattern, uintptr_t addr)
{
	return (unsigned char)(pattern >> ((addr & 7) * 8));
}

void hk_canary_fill(void *p, size_t len, uintptr_t seed)
{
	uint64_t w = pattern_of(seed);
	unsigned char *c = p, *end = c + len;
	for (; c < end && ((uintptr_t)c & 7); c++)
		*c = pattern_byte(w, (uintptr_t)c);
	for (; c + 8 <= end; c += 8)
		memcpy(c, &w, 8);
	for (; c < end; c++)
		*c = pattern_byte(w, (uintptr_t)c);
}

size_t hk_canary_find(const void *p, size_t len, uintptr_t seed)
{
	uint64_t w = pattern_of(seed);
	const unsigned char *start = p, *c = start, *end = c + len;
	for (; c < end && ((uintptr_t)c & 7); c++)
		if (*c != pattern_byte(w, (uintptr_t)c))
			return (size_t)(c - start);
	for (; c + 8 <= end; c += 8) {
		uint64_t v;
		memcpy(&v, c, 8);
		if (v != w)
			break;
	}
	for (; c < end; c++)
		if (*c != pattern_byte(w, (uintptr_t)c))
			return (size_t)(c - start);
	return len;
}

static uint64_t *trailer(const void *b, size_t bs)
{
	return (uint64_t *)((uintptr_t)b + bs - HK_TRAILER);
}

/* Bytes of pattern after a request of n bytes in a block of bs. */
static size_t pattern_len(size_t bs, size_t n)
{
	size_t room = bs - HK_TRAILER - n;
	return room < PATTERN_MAX ? room : PATTERN_MAX;
}

void hk_canary_seal(void *b, size_t bs, size_t n, unsigned kind)
{
	hk_canary_fill((char *)b + n, pattern_len(bs, n), (uintptr_t)b);
	*trailer(b, bs) = (((uint64_t)n << 24) | ((uint64_t)kind << 16) | TRAILER_TAG) ^
			  trailer_mask((uintptr_t)b);
}

void hk_canary_seal_free(void *b, size_t bs)
{
	*trailer(b, bs) = ((uint64_t)HK_KIND_FREE << 16 | TRAILER_TAG) ^ trailer_mask((uintptr_t)b);
}

bool hk_canary_read(const void *b, size_t bs, size_t *n, unsigned *kind)
{
	/* Under memcheck the trailer of the block before, when it is free, is
	 * not addressable for the program. */
	uint64_t t = HK_UNLIKELY(hk_vg_on) ? hk_vg_peek((const uintptr_t *)trailer(b, bs))
					   : *trailer(b, bs);
	uint64_t x = t ^ trailer_mask((uintptr_t)b);
	*n = (size_t)(x >> 24);
	*kind = (unsigned)(x >> 16) & 0xff;
	return (x & 0xffff) == TRAILER_TAG && *kind <= HK_KIND_NEW_ARRAY &&
	       *n <= bs - HK_TRAILER;
}

bool hk_canary_check(const void *b, size_t bs, bool first, const char *what, size_t *n,
		     unsigned *kind)
{
	if (!hk_canary_read(b, bs, n, kind)) {
		hk_misuse("%s: heap overflow: the trailer after block %p (%zu bytes) was overwritten",
			  what, b, bs - HK_TRAILER);
		return false;
	}
	if (*kind == HK_KIND_FREE) {
		hk_report_double_free(what, b);
		return false;
	}
	size_t len = pattern_len(bs, *n);
	size_t off = hk_canary_find((const char *)b + *n, len, (uintptr_t)b);
	if (off < len) {
		hk_misuse("%s: heap overflow: block %p of %zu bytes was written past its end "
			  "(at offset %zu)",
			  what, b, *n, *n + off);
		return false;
	}
	size_t pn;
	unsigned pk;
	if (!first && !hk_canary_read((const char *)b - bs, bs, &pn, &pk)) {
		hk_misuse("%s: heap underflow: the bytes before block %p were overwritten (or the "
			  "block before it overflowed)",
			  what, b);
		return false;
	}
	return true;
}

HK_COLD void hk_report_kind(const char *what, const void *p, unsigned kind, unsigned want)
{
	static const char *const how[] = { "nothing", "malloc", "new", "new[]" };
	static const char *const undo[] = { "", "free()", "delete", "delete[]" };
	hk_misuse("%s: %p was allocated by %s, not %s: release it with %s", what, p, how[kind],
		  how[want], undo[kind]);
}

/* --- Zeroed free blocks. ---------------------------------------------- */

size_t hk_zero_find(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, c + i, 8);
		if (w)
			break;
	}
	for (; i < len; i++)
		if (c[i])
			return i;
	return len;
}

HK_COLD void hk_report_write_after_free(const char *what, const void *b, size_t off)
{
	hk_misuse("%s: use after free: block %p was written at offset %zu after free()", what, b,
		  off);
}

/* --- Zero-size allocations. ------------------------------------------
 *
 * A region of ZS_SLOTS 16-byte addresses, mapped without access (address
 * space only), and a bitmap of the ones handed out, taken and released
 * with atomic operations (no lock, so nothing to reset after fork). */
#define ZS_SLOTS ((size_t)1 << 20)
#define ZS_BYTES (ZS_SLOTS * HK_MIN_ALIGN)
#define ZS_WORDS (ZS_SLOTS / 64)

static _Atomic(char *) zs_base;
static _Atomic(uint64_t *) zs_bits;
static _Atomic size_t zs_cursor;

static bool zs_init(void)
{
	if (atomic_load_explicit(&zs_bits, memory_order_acquire))
		return true;
	char *base = hk_os_map(ZS_BYTES, HK_SLOT_SIZE);
	if (!base)
		return false;
	uint64_t *bits = hk_os_map(ZS_WORDS * sizeof(uint64_t), HK_PAGE_SIZE);
	if (!bits || mprotect(base, ZS_BYTES, PROT_NONE) != 0) {
		hk_os_unmap(base, ZS_BYTES);
		if (bits)
			hk_os_unmap(bits, ZS_WORDS * sizeof(uint64_t));
		return false;
	}
	char *none = NULL;
	if (!atomic_compare_exchange_strong(&zs_base, &none, base)) {
		/* Another thread won: wait for its bitmap. */
		hk_os_unmap(base, ZS_BYTES);
		hk_os_unmap(bits, ZS_WORDS * sizeof(uint64_t));
		while (!atomic_load_explicit(&zs_bits, memory_order_acquire))
			;
		return true;
	}
	atomic_store_explicit(&zs_bits, bits, memory_order_release);
	return true;
}

void *hk_zero_size_alloc(void)
{
	if (!zs_init())
		return NULL;
	uint64_t *bits = atomic_load_explicit(&zs_bits, memory_order_acquire);
	char *base = atomic_load_explicit(&zs_base, memory_order_relaxed);
	size_t start = atomic_fetch_add_explicit(&zs_cursor, 1, memory_order_relaxed);
	for (size_t k = 0; k < ZS_WORDS; k++) {
		size_t w = (start + k) % ZS_WORDS;
		uint64_t v = __atomic_load_n(&bits[w], __ATOMIC_RELAXED);
		while (~v) {
			uint64_t bit = (uint64_t)1 << __builtin_ctzll(~v);
			v = __atomic_fetch_or(&bits[w], bit, __ATOMIC_ACQ_REL);
			if (!(v & bit))
				return base + (w * 64 + (size_t)__builtin_ctzll(bit)) * HK_MIN_ALIGN;
		}
	}
	return NULL;
}

bool hk_zero_size_owns(const void *p)
{
	char *base = atomic_load_explicit(&zs_base, memory_order_acquire);
	return base && (const char *)p >= base && (const char *)p < base + ZS_BYTES;
}

static uint64_t *zs_word(const void *p, uint64_t *bit)
{
	uint64_t *bits = atomic_load_explicit(&zs_bits, memory_order_acquire);
	size_t off = (size_t)((const char *)p - atomic_load_explicit(&zs_base, memory_order_relaxed));
	if (!bits || off % HK_MIN_ALIGN)
		return NULL;
	*bit = (uint64_t)1 << (off / HK_MIN_ALIGN % 64);
	return &bits[off / HK_MIN_ALIGN / 64];
}

bool hk_zero_size_live(const void *p)
{
	uint64_t bit, *w = hk_zero_size_owns(p) ? zs_word(p, &bit) : NULL;
	return w && (__atomic_load_n(w, __ATOMIC_ACQUIRE) & bit);
}

void hk_zero_size_free(const void *p, const char *what)
{
	uint64_t bit, *w = zs_word(p, &bit);
	if (!w || !(__atomic_fetch_and(w, ~bit, __ATOMIC_ACQ_REL) & bit))
		hk_misuse("%s: %p was not returned by malloc (or was already freed)", what, p);
}

/* alloc_fuzz.c: a libFuzzer harness for the hakmem engine.
 *
 * Each input is a program of operations on the hakmem_* API: malloc,
 * calloc, realloc, reallocarray, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc, free, free_sized, free_aligned_sized,
 * malloc_usable_size, hakmem_ctl reads (and its error cases) and actions,
 * and hand-offs of blocks to a short-lived thread that frees some and
 * allocates others (cross-thread frees, thread exit, adoption). A shadow
 * model keeps each live block's size, alignment request and fill pattern,
 * and checks: contents intact before free and realloc, realloc keeps the
 * prefix, calloc zeroes, alignment honoured, usable size >= size, errno
 * and return values of the error cases. Any mismatch aborts.
 *
 * Built by tools/run-fuzz with the engine compiled with
 * -DHAKMEM_PREFIX_ONLY and -fsanitize=fuzzer,address,undefined (the
 * fuzzer and the sanitizers keep the C library's malloc; the harness
 * calls hakmem_* only). See doc/hardening.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hakmem.h"

#define MAX_LIVE 64
#define MAX_BYTES ((size_t)48 << 20)	/* live bytes the harness keeps */
#define CHECK_HEAD 2048			/* pattern-checked bytes at the start */
#define CHECK_TAIL 64			/* and at the end */
#define SMALL_MAX ((size_t)128 << 10)
#define PAGE ((size_t)4096)

struct blk {
	unsigned char *p;
	size_t size;
	size_t align;	/* requested alignment; 16 for the plain calls */
	uint64_t seed;
};

static struct blk live[MAX_LIVE];
static size_t nlive, live_bytes;
static uint64_t seed_counter;

#define FAIL(...) \
	do { \
		fprintf(stderr, "alloc_fuzz: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* --- Input ------------------------------------------------------------ */

struct input {
	const uint8_t *d;
	size_t n, i;
};

static uint8_t u8(struct input *in)
{
	return in->i < in->n ? in->d[in->i++] : 0;
}

static uint32_t u32(struct input *in)
{
	uint32_t v = 0;
	for (int k = 0; k < 4; k++)
		v = v << 8 | u8(in);
	return v;
}

/* Mostly small sizes, some medium, a few large (up to 4 MiB). */
static size_t pick_size(struct input *in)
{
	uint8_t r = u8(in);
	if (r < 160)
		return u32(in) % 1025;
	if (r < 220)
		return u32(in) % (16 << 10);
	if (r < 244)
		return u32(in) % (SMALL_MAX + 4096);
	if (r < 252)
		return SMALL_MAX + u32(in) % (1 << 20);
	return u32(in) % (4 << 20);
}

/* A power of two from 1 to 4 MiB, mostly small. */
static size_t pick_align(struct input *in)
{
	uint8_t r = u8(in);
	unsigned k = r < 200 ? r % 13 : r % 23;
	return (size_t)1 << k;
}

/* --- Patterns --------------------------------------------------------- */

static uint8_t pat(uint64_t seed, size_t i)
{
	uint64_t x = seed ^ ((uint64_t)i * 0x9E3779B97F4A7C15ull);
	x ^= x >> 29;
	return (uint8_t)(x * 0xBF58476D1CE4E5B9ull >> 56);
}

/* The checked byte ranges of a block of n bytes: [0, a) and [b, n). */
static void ranges(size_t n, size_t *a, size_t *b)
{
	*a = n < CHECK_HEAD ? n : CHECK_HEAD;
	*b = n > CHECK_TAIL && n - CHECK_TAIL > *a ? n - CHECK_TAIL : *a;
}

static void fill(unsigned char *p, size_t n, uint64_t seed)
{
	size_t a, b;
	ranges(n, &a, &b);
	for (size_t i = 0; i < a; i++)
		p[i] = pat(seed, i);
	for (size_t i = b; i < n; i++)
		p[i] = pat(seed, i);
}

/* Check the pattern on the bytes below limit of a block of n bytes. */
static void verify(const struct blk *k, const unsigned char *p, size_t limit, const char *when)
{
	size_t a, b;
	ranges(k->size, &a, &b);
	for (size_t i = 0; i < a && i < limit; i++)
		if (p[i] != pat(k->seed, i))
			FAIL("%s: block %p (%zu bytes) corrupt at offset %zu", when, (void *)p, k->size, i);
	for (size_t i = b; i < k->size && i < limit; i++)
		if (p[i] != pat(k->seed, i))
			FAIL("%s: block %p (%zu bytes) corrupt at offset %zu", when, (void *)p, k->size, i);
}

/* --- The shadow model ------------------------------------------------- */

static void check_new(void *p, size_t size, size_t align, const char *what)
{
	if (!p)
		FAIL("%s(%zu, align %zu) returned NULL (errno %d)", what, size, align, errno);
	if ((uintptr_t)p % 16)
		FAIL("%s(%zu) = %p: not 16-byte aligned", what, size, p);
	if (align > 1 && (uintptr_t)p % align)
		FAIL("%s(%zu, align %zu) = %p: misaligned", what, size, align, p);
	size_t u = hakmem_malloc_usable_size(p);
	if (u < size)
		FAIL("%s(%zu) = %p: usable size %zu too small", what, size, p, u);
	for (size_t i = 0; i < nlive; i++)
		if (live[i].p == p)
			FAIL("%s(%zu) = %p: that block is already live", what, size, p);
}

static void add(void *p, size_t size, size_t align)
{
	struct blk *k = &live[nlive++];
	k->p = p;
	k->size = size;
	k->align = align;
	k->seed = ++seed_counter * 0xD6E8FEB86659FD93ull;
	live_bytes += size;
	fill(k->p, size, k->seed);
}

static void drop(size_t i)
{
	live_bytes -= live[i].size;
	live[i] = live[--nlive];
}

static bool room(size_t size)
{
	return nlive < MAX_LIVE && live_bytes + size <= MAX_BYTES;
}

/* All bytes of p[0, n) zero? Every byte up to 256 KiB, then one per page
 * and the tail. */
static bool zeroed(const unsigned char *p, size_t n)
{
	size_t full = n < ((size_t)256 << 10) ? n : (size_t)256 << 10;
	for (size_t i = 0; i < full; i++)
		if (p[i])
			return false;
	for (size_t i = full; i < n; i += PAGE)
		if (p[i])
			return false;
	return n == 0 || p[n - 1] == 0;
}

/* --- Operations ------------------------------------------------------- */

static void op_malloc(struct input *in)
{
	size_t n = pick_size(in);
	if (!room(n))
		return;
	void *p = hakmem_malloc(n);
	check_new(p, n, 16, "malloc");
	add(p, n, 16);
}

static void op_calloc(struct input *in)
{
	size_t n = pick_size(in);
	size_t m = 1 + u8(in) % 8;
	if (u8(in) == 0xff) {
		/* Overflow of n * m. */
		errno = 0;
		void *p = hakmem_calloc(SIZE_MAX / 2 + 1 + n, 2 + m);
		if (p || errno != ENOMEM)
			FAIL("calloc overflow: %p, errno %d", p, errno);
		return;
	}
	size_t each = n / m;
	if (!room(each * m))
		return;
	unsigned char *p = hakmem_calloc(m, each);
	check_new(p, each * m, 16, "calloc");
	if (!zeroed(p, each * m))
		FAIL("calloc(%zu, %zu) = %p: not zeroed", m, each, (void *)p);
	add(p, each * m, 16);
}

static void op_aligned(struct input *in)
{
	uint8_t how = u8(in) % 5;
	size_t n = pick_size(in), al = pick_align(in);
	void *p = NULL;
	if (!room(n))
		return;
	switch (how) {
	case 0: {
		int r = hakmem_posix_memalign(&p, al, n);
		if (al < sizeof(void *)) {
			if (r != EINVAL)
				FAIL("posix_memalign(align %zu) = %d, not EINVAL", al, r);
			return;
		}
		if (r != 0)
			FAIL("posix_memalign(%zu, %zu) = %d", al, n, r);
		break;
	}
	case 1:
		p = hakmem_aligned_alloc(al, n);
		break;
	case 2: {
		/* memalign rounds an alignment that is not a power of two up:
		 * ask for one in (al / 2, al). */
		size_t req = al > 2 ? al - 1 - u8(in) % (al / 2 - 1) : al;
		p = hakmem_memalign(req, n);
		break;
	}
	case 3:
		p = hakmem_valloc(n);
		al = PAGE;
		break;
	default:
		p = hakmem_pvalloc(n);
		al = PAGE;
		n = n ? (n + PAGE - 1) / PAGE * PAGE : PAGE;
		if (!room(n)) {
			hakmem_free(p);
			return;
		}
		break;
	}
	check_new(p, n, al, "aligned allocation");
	add(p, n, al);
}

static void op_bad_align(struct input *in)
{
	size_t n = pick_size(in) % 4096;
	size_t bad = 3 + 2 * (size_t)(u8(in) % 100);	/* odd, not a power of two */
	void *p = (void *)1;
	errno = 0;
	if (hakmem_aligned_alloc(bad, n) != NULL || errno != EINVAL)
		FAIL("aligned_alloc(%zu, %zu): not NULL/EINVAL", bad, n);
	if (hakmem_posix_memalign(&p, bad * 8, n) != EINVAL || p != (void *)1)
		FAIL("posix_memalign(%zu): not EINVAL, or the pointer was written", bad * 8);
	errno = 0;
	if (hakmem_malloc((size_t)PTRDIFF_MAX + 1 + n) != NULL || errno != ENOMEM)
		FAIL("malloc(huge): not NULL/ENOMEM");
}

static void op_free(struct input *in)
{
	if (!nlive)
		return;
	size_t i = u8(in) % nlive;
	struct blk *k = &live[i];
	verify(k, k->p, k->size, "before free");
	int how = u8(in) % 4;
	errno = 1234;
	if (how == 1)
		hakmem_free_sized(k->p, k->size);
	else if (how == 2)
		hakmem_free_aligned_sized(k->p, k->align, k->size);
	else
		hakmem_free(k->p);
	if (errno != 1234)
		FAIL("free changed errno to %d", errno);
	drop(i);
}

static void op_realloc(struct input *in)
{
	if (!nlive)
		return;
	size_t i = u8(in) % nlive;
	struct blk *k = &live[i];
	size_t n = pick_size(in);
	int how = u8(in) % 8;
	verify(k, k->p, k->size, "before realloc");
	if (how == 0) {
		/* Failures leave the block as it was. */
		errno = 0;
		void *q = u8(in) & 1 ? hakmem_realloc(k->p, (size_t)PTRDIFF_MAX + 1)
				     : hakmem_reallocarray(k->p, SIZE_MAX / 4, 8);
		if (q || errno != ENOMEM)
			FAIL("realloc(huge) = %p, errno %d", q, errno);
		verify(k, k->p, k->size, "after a failed realloc");
		return;
	}
	if (n > k->size && !room(n - k->size))
		return;
	unsigned char *q;
	if (how == 1) {
		size_t m = 1 + u8(in) % 4;
		n -= n % m;
		q = hakmem_reallocarray(k->p, n / m, m);
	} else {
		q = hakmem_realloc(k->p, n);
	}
	if (n == 0) {
		/* realloc(p, 0) frees p and returns NULL, like glibc. */
		if (q)
			FAIL("realloc(%p, 0) = %p, not NULL", (void *)k->p, (void *)q);
		drop(i);
		return;
	}
	if (!q)
		FAIL("realloc(%p, %zu) returned NULL (errno %d)", (void *)k->p, n, errno);
	/* The prefix survives. */
	verify(k, q, n, "after realloc");
	for (size_t j = 0; j < nlive; j++)
		if (j != i && live[j].p == q)
			FAIL("realloc returned %p, another live block", (void *)q);
	if ((uintptr_t)q % 16)
		FAIL("realloc returned %p: not 16-byte aligned", (void *)q);
	if (hakmem_malloc_usable_size(q) < n)
		FAIL("realloc(%zu) = %p: usable size too small", n, (void *)q);
	live_bytes = live_bytes - k->size + n;
	k->p = q;
	k->size = n;
	k->align = 16;
	k->seed = ++seed_counter * 0xD6E8FEB86659FD93ull;
	fill(q, n, k->seed);
}

static void op_usable(struct input *in)
{
	if (hakmem_malloc_usable_size(NULL) != 0)
		FAIL("malloc_usable_size(NULL) != 0");
	if (!nlive)
		return;
	struct blk *k = &live[u8(in) % nlive];
	size_t u = hakmem_malloc_usable_size(k->p);
	if (u < k->size)
		FAIL("usable size %zu of %p < %zu", u, (void *)k->p, k->size);
	/* The whole usable size may be written. */
	if (u > k->size && u - k->size <= (1 << 20))
		memset(k->p + k->size, 0x5a, u - k->size);
}

/* --- hakmem_ctl ------------------------------------------------------- */

/* Names that must exist, and names that may (ENOENT allowed). */
static const char *const required[] = {
	"version", "stats.superslabs.live", "stats.superslabs.created",
	"stats.superslabs.released", "stats.mappings", "stats.mapped", "stats.large.live",
};
static const char *const optional[] = {
	"stats.remote_frees", "stats.frees.remote", "stats.frees.local", "stats.allocated",
	"stats.large.bytes", "stats.large.cached", "stats.classes.count", "epoch",
	"build.options", "stats.classes.3.blocks",
};

static uint64_t stat_u64(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	int r = hakmem_ctl(name, &v, &len, NULL, 0);
	if (r != 0 || len != sizeof v)
		FAIL("hakmem_ctl(\"%s\") = %d, len %zu", name, r, len);
	return v;
}

static void ctl_read(const char *name, bool must)
{
	size_t len = 0;
	int r = hakmem_ctl(name, NULL, &len, NULL, 0);
	if (r == ENOENT && !must)
		return;
	if (r != 0)
		FAIL("hakmem_ctl(\"%s\", size query) = %d", name, r);
	if (len == 0 || len > 64)
		FAIL("hakmem_ctl(\"%s\"): size %zu", name, len);
	unsigned char buf[72];
	size_t l2 = len;
	r = hakmem_ctl(name, buf, &l2, NULL, 0);
	if (r != 0 || l2 != len)
		FAIL("hakmem_ctl(\"%s\") read = %d, len %zu (expected %zu)", name, r, l2, len);
	if (strcmp(name, "version") == 0) {
		const char *v;
		memcpy(&v, buf, sizeof v);
		if (!v || strncmp(v, "0.", 2) != 0)
			FAIL("version: \"%s\"", v ? v : "(null)");
	}
	/* A wrong length is EINVAL, and nothing is written. */
	l2 = len + 1;
	if ((r = hakmem_ctl(name, buf, &l2, NULL, 0)) != EINVAL)
		FAIL("hakmem_ctl(\"%s\") with length %zu = %d, not EINVAL", name, len + 1, r);
	l2 = len - 1;
	if (len > 1 && (r = hakmem_ctl(name, buf, &l2, NULL, 0)) != EINVAL)
		FAIL("hakmem_ctl(\"%s\") with length %zu = %d, not EINVAL", name, len - 1, r);
	/* Statistics are read-only. */
	if (strncmp(name, "stats.", 6) == 0) {
		uint64_t v = 0;
		if ((r = hakmem_ctl(name, NULL, NULL, &v, sizeof v)) != EPERM)
			FAIL("writing \"%s\" = %d, not EPERM", name, r);
	}
}

static void op_ctl(struct input *in)
{
	uint8_t r = u8(in);
	int e;
	errno = 4321;
	switch (r % 6) {
	case 0:
	case 1:
		ctl_read(required[u8(in) % (sizeof required / sizeof *required)], true);
		break;
	case 2:
		ctl_read(optional[u8(in) % (sizeof optional / sizeof *optional)], false);
		break;
	case 3: {
		/* Unknown names and no name. */
		char name[40];
		uint64_t v;
		size_t len = sizeof v;
		snprintf(name, sizeof name, "stats.no_such_name_%u", u8(in));
		if ((e = hakmem_ctl(name, &v, &len, NULL, 0)) != ENOENT)
			FAIL("hakmem_ctl(\"%s\") = %d, not ENOENT", name, e);
		if ((e = hakmem_ctl("", &v, &len, NULL, 0)) != ENOENT && e != EINVAL)
			FAIL("hakmem_ctl(\"\") = %d", e);
		if ((e = hakmem_ctl(NULL, &v, &len, NULL, 0)) != EINVAL)
			FAIL("hakmem_ctl(NULL) = %d, not EINVAL", e);
		break;
	}
	case 4: {
		uint64_t live_ss = stat_u64("stats.superslabs.live");
		uint64_t made = stat_u64("stats.superslabs.created");
		uint64_t gone = stat_u64("stats.superslabs.released");
		if (made - gone != live_ss)
			FAIL("superslabs: created %llu - released %llu != live %llu",
			     (unsigned long long)made, (unsigned long long)gone,
			     (unsigned long long)live_ss);
		break;
	}
	default: {
		/* Actions that give memory back; the live blocks must not mind. */
		const char *act = r & 0x80 ? "trim" : "thread.flush";
		e = hakmem_ctl(act, NULL, NULL, NULL, 0);
		if (e != 0 && e != ENOENT)
			FAIL("hakmem_ctl(\"%s\") = %d", act, e);
		for (size_t i = 0; i < nlive; i++)
			verify(&live[i], live[i].p, live[i].size, "after an action");
		break;
	}
	}
	if (errno != 4321)
		FAIL("hakmem_ctl changed errno to %d", errno);
}

/* --- Another thread --------------------------------------------------- */

#define HANDOFF 8

struct handoff {
	struct blk in[HANDOFF];	/* blocks for the thread to free */
	size_t nin;
	struct blk out[HANDOFF];	/* blocks it allocated for us */
	size_t nout;
	size_t sizes[HANDOFF];
};

static void *other_thread(void *arg)
{
	struct handoff *h = arg;
	for (size_t i = 0; i < h->nin; i++) {
		verify(&h->in[i], h->in[i].p, h->in[i].size, "before a cross-thread free");
		hakmem_free(h->in[i].p);
	}
	for (size_t i = 0; i < h->nout; i++) {
		struct blk *k = &h->out[i];
		k->size = h->sizes[i];
		k->align = 16;
		k->seed = 0x51ED270B27D3F5A1ull * (i + 1) ^ (uint64_t)(uintptr_t)h;
		k->p = hakmem_malloc(k->size);
		if (!k->p)
			FAIL("malloc(%zu) in another thread returned NULL", k->size);
		fill(k->p, k->size, k->seed);
	}
	return NULL;	/* the thread exits: its heap is abandoned */
}

static void op_thread(struct input *in)
{
	struct handoff h;
	memset(&h, 0, sizeof h);
	size_t give = u8(in) % (HANDOFF + 1);
	while (h.nin < give && nlive) {
		size_t i = u8(in) % nlive;
		h.in[h.nin++] = live[i];
		drop(i);
	}
	size_t want = u8(in) % (HANDOFF + 1);
	for (size_t i = 0; i < want; i++) {
		size_t n = u32(in) % 2048;
		if (nlive + h.nout >= MAX_LIVE || live_bytes + n > MAX_BYTES)
			break;
		h.sizes[h.nout++] = n;
		live_bytes += n;	/* reserved */
	}
	pthread_t t;
	if (pthread_create(&t, NULL, other_thread, &h) != 0)
		FAIL("pthread_create failed");
	pthread_join(t, NULL);
	for (size_t i = 0; i < h.nout; i++) {
		live_bytes -= h.out[i].size;
		check_new(h.out[i].p, h.out[i].size, 16, "malloc in another thread");
		verify(&h.out[i], h.out[i].p, h.out[i].size, "after the hand-off");
		live_bytes += h.out[i].size;
		live[nlive++] = h.out[i];
	}
}

/* --- Driver ----------------------------------------------------------- */

static void free_all(void)
{
	while (nlive) {
		verify(&live[nlive - 1], live[nlive - 1].p, live[nlive - 1].size, "at the end");
		hakmem_free(live[nlive - 1].p);
		drop(nlive - 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };
	while (in.i < in.n) {
		uint8_t op = u8(&in);
		switch (op % 32) {
		case 0 ... 8:
			op_malloc(&in);
			break;
		case 9 ... 16:
			op_free(&in);
			break;
		case 17 ... 19:
			op_realloc(&in);
			break;
		case 20 ... 21:
			op_calloc(&in);
			break;
		case 22 ... 24:
			op_aligned(&in);
			break;
		case 25:
			op_bad_align(&in);
			break;
		case 26 ... 27:
			op_usable(&in);
			break;
		case 28 ... 29:
			op_ctl(&in);
			break;
		case 30:
			if (op & 0x20)
				op_thread(&in);
			else
				op_ctl(&in);
			break;
		default:
			/* A burst of small allocations and frees (fast paths). */
			for (int k = u8(&in) % 32; k > 0 && room(64); k--) {
				size_t n = u8(&in);
				void *p = hakmem_malloc(n);
				check_new(p, n, 16, "malloc");
				add(p, n, 16);
				if (k & 1) {
					verify(&live[nlive - 1], live[nlive - 1].p, n, "burst");
					hakmem_free(p);
					drop(nlive - 1);
				}
			}
			break;
		}
	}
	free_all();
	return 0;
}

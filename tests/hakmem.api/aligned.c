/* The aligned allocators: posix_memalign (EINVAL cases leave *memptr
 * alone; success for every power of two sizeof(void*)..4 MiB and sizes
 * 0, 1, small, large), aligned_alloc and memalign (powers of two 1..1 MiB),
 * valloc and pvalloc (page alignment; pvalloc rounds the usable size up to a
 * page multiple).  Every result is checked for alignment, usable size,
 * writability (full usable size), non-overlap with its neighbours, and is
 * freed with free(). */
#include "../lib/check.h"

#include <malloc.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

static const size_t sizes[] = { 0, 1, 24, 100, 4000, 70000, 300 * KiB };
#define NSIZES (sizeof sizes / sizeof sizes[0])

struct res {
	int nulls, misaligned, small, corrupt;
};

/* Keep a handful of results alive at once so that overlapping blocks
 * would show as corruption. */
struct live {
	void *p;
	size_t usable;
};

static void account(struct res *r, struct live *l, void *p, size_t al,
		    size_t n, const char *fn)
{
	l->p = p;
	l->usable = 0;
	if (!p) {
		if (r->nulls++ < 3)
			hk_note("%s(align %zu, size %zu) returned NULL (errno "
				"%d)", fn, al, n, errno);
		return;
	}
	if ((uintptr_t)p % al) {
		if (r->misaligned++ < 3)
			hk_note("%s(align %zu, size %zu) = %p misaligned", fn,
				al, n, p);
	}
	l->usable = malloc_usable_size(p);
	if (l->usable < n) {
		if (r->small++ < 3)
			hk_note("%s(align %zu, size %zu): usable %zu", fn, al,
				n, l->usable);
	}
	hk_fill(p, l->usable, al);
}

static void release(struct res *r, struct live *l, size_t al)
{
	if (!l->p)
		return;
	if (hk_verify(l->p, l->usable, al) >= 0)
		r->corrupt++;
	free(l->p);
	l->p = NULL;
}

static void report(const struct res *r, const char *what)
{
	CHECK(r->nulls == 0, "%s: all succeed (%d NULL)", what, r->nulls);
	CHECK(r->misaligned == 0, "%s: results aligned (%d misaligned)", what,
	      r->misaligned);
	CHECK(r->small == 0, "%s: usable size >= requested (%d too small)",
	      what, r->small);
	CHECK(r->corrupt == 0,
	      "%s: full usable size writable, no overlap (%d corrupt)", what,
	      r->corrupt);
}

static void check_posix_memalign_einval(void)
{
	static const size_t bad[] = {
		0, 1, 2, 3, sizeof(void *) / 2, sizeof(void *) + 1,
		3 * sizeof(void *), 48, 96, 4096 + 8, 12288,
		(1 << 20) + sizeof(void *), SIZE_MAX, SIZE_MAX / 2,
		(SIZE_MAX / 2) + 2,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *sentinel = (void *)(uintptr_t)0xdeadbee0;
		void *p = sentinel;
		int saved;
		errno = 777;
		int rc = posix_memalign(&p, hk_size(bad[i]), 64);
		saved = errno;
		CHECK(rc == EINVAL && p == sentinel,
		      "posix_memalign(alignment %zu) returns EINVAL and leaves "
		      "*memptr alone (rc %d)", bad[i], rc);
		CHECK(saved == 777,
		      "posix_memalign(alignment %zu) leaves errno alone", bad[i]);
		if (rc == 0 && p != sentinel)
			free(p);
	}
}

static void check_posix_memalign(void)
{
	struct res r = { 0 };
	struct live l[NSIZES];
	int rc_bad = 0;

	for (size_t al = sizeof(void *); al <= 4 * MiB; al *= 2) {
		for (size_t s = 0; s < NSIZES; s++) {
			void *p = NULL;
			errno = 0;
			int rc = posix_memalign(&p, al, sizes[s]);
			if (rc != 0 && rc_bad++ < 3)
				hk_note("posix_memalign(%zu, %zu) = %d", al,
					sizes[s], rc);
			account(&r, &l[s], rc == 0 ? p : NULL, al, sizes[s],
				"posix_memalign");
		}
		for (size_t s = 0; s < NSIZES; s++)
			release(&r, &l[s], al);
	}
	CHECK(rc_bad == 0, "posix_memalign returns 0 for every power of two "
			   "alignment 8..4M (%d failures)", rc_bad);
	report(&r, "posix_memalign(2^k >= 8 up to 4M, size 0..300K)");
}

static void check_aligned_alloc(void)
{
	struct res r = { 0 };
	struct live l[NSIZES + 1];

	for (size_t al = 1; al <= 1 * MiB; al *= 2) {
		for (size_t s = 0; s < NSIZES; s++)
			account(&r, &l[s], aligned_alloc(al, sizes[s]), al,
				sizes[s], "aligned_alloc");
		/* C11 style: size a multiple of the alignment */
		account(&r, &l[NSIZES], aligned_alloc(al, 3 * al), al, 3 * al,
			"aligned_alloc");
		for (size_t s = 0; s <= NSIZES; s++)
			release(&r, &l[s], al);
	}
	report(&r, "aligned_alloc(2^k 1..1M, size 0..300K)");
}

static void check_memalign(void)
{
	struct res r = { 0 };
	struct live l[NSIZES];

	for (size_t al = 1; al <= 1 * MiB; al *= 2) {
		for (size_t s = 0; s < NSIZES; s++)
			account(&r, &l[s], memalign(al, sizes[s]), al, sizes[s],
				"memalign");
		for (size_t s = 0; s < NSIZES; s++)
			release(&r, &l[s], al);
	}
	report(&r, "memalign(2^k 1..1M, size 0..300K)");
}

/* Every small size against every alignment a slab can give: aligned,
 * at least the size, and no larger than the size class of the size
 * rounded up to the alignment (classes waste at most a quarter above 128
 * bytes, 15 bytes below). A ring of live blocks keeps the results from
 * all being the first block of a slab, which is aligned anyway. */
static void check_dense(void)
{
	enum { RING = 16 };
	void *ring[RING] = { NULL };
	unsigned next = 0;
	int misaligned = 0, small = 0, wasteful = 0;
	for (size_t al = 16; al <= 64 * KiB; al *= 2) {
		for (size_t n = 1; n <= 128 * KiB; n += n < 2048 ? 1 : n / 32 + 1) {
			void *p = NULL;
			if (posix_memalign(&p, al, n) != 0 || !p) {
				small++;
				continue;
			}
			size_t usable = malloc_usable_size(p);
			size_t want = (n + al - 1) / al * al;
			if ((uintptr_t)p % al && misaligned++ < 3)
				hk_note("posix_memalign(%zu, %zu) = %p", al, n, p);
			if (usable < n && small++ < 3)
				hk_note("posix_memalign(%zu, %zu): usable %zu", al, n, usable);
			if (want <= 128 * KiB && usable > want + want / 4 + 15 && wasteful++ < 3)
				hk_note("posix_memalign(%zu, %zu): usable %zu", al, n, usable);
			((unsigned char *)p)[usable - 1] = 1;
			free(ring[next % RING]);
			ring[next++ % RING] = p;
		}
	}
	for (unsigned i = 0; i < RING; i++)
		free(ring[i]);
	CHECK(misaligned == 0, "every size 1..128K aligned to every 16..64K (%d not)",
	      misaligned);
	CHECK(small == 0, "... with at least the size usable (%d not)", small);
	CHECK(wasteful == 0, "... from the smallest aligned size class (%d larger)", wasteful);
}

static void check_valloc_pvalloc(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct res r = { 0 }, rp = { 0 };
	struct live l[NSIZES];
	int not_rounded = 0;

	for (int round = 0; round < 4; round++) {
		for (size_t s = 0; s < NSIZES; s++)
			account(&r, &l[s], valloc(sizes[s] + (size_t)round),
				page, sizes[s] + (size_t)round, "valloc");
		for (size_t s = 0; s < NSIZES; s++)
			release(&r, &l[s], page);
	}
	report(&r, "valloc(size 0..300K) page aligned");

	for (int round = 0; round < 4; round++) {
		for (size_t s = 0; s < NSIZES; s++) {
			size_t n = sizes[s] + (size_t)round;
			size_t want = (n + page - 1) / page * page;
			/* account() checks usable >= want and fills it all */
			account(&rp, &l[s], pvalloc(n), page, want, "pvalloc");
			if (l[s].p && l[s].usable < want && not_rounded++ < 3)
				hk_note("pvalloc(%zu): usable %zu < %zu", n,
					l[s].usable, want);
		}
		for (size_t s = 0; s < NSIZES; s++)
			release(&rp, &l[s], page);
	}
	report(&rp, "pvalloc(size 0..300K) page aligned");
	CHECK(not_rounded == 0,
	      "pvalloc rounds the usable size up to a page multiple (%d not)",
	      not_rounded);
}

/* Interleave aligned allocations of assorted alignments with plain
 * mallocs, keep them all live, verify nothing overlaps. */
static void check_mix(void)
{
	enum { M = 2000 };
	static struct live l[M];
	static size_t al_of[M];
	struct res r = { 0 };
	hk_rng rng;

	hk_rng_seed(&rng, 5);
	for (int i = 0; i < M; i++) {
		size_t al = (size_t)1 << hk_rng_range(&rng, 0, 16);
		size_t n = hk_rng_logsize(&rng, 1, i % 40 ? 8192 : 512 * 1024);
		void *p = NULL;
		switch (i % 4) {
		case 0:
			p = malloc(n);
			al = _Alignof(max_align_t);
			break;
		case 1:
			p = aligned_alloc(al, n);
			break;
		case 2:
			p = memalign(al, n);
			break;
		case 3:
			if (al < sizeof(void *))
				al = sizeof(void *);
			if (posix_memalign(&p, al, n) != 0)
				p = NULL;
			break;
		}
		al_of[i] = al;
		account(&r, &l[i], p, al, n, "mix");
	}
	for (int i = 0; i < M; i++)
		release(&r, &l[i], al_of[i]);
	report(&r, "mixed aligned/unaligned allocations, all live");
}

int main(void)
{
	check_posix_memalign_einval();
	check_posix_memalign();
	check_aligned_alloc();
	check_memalign();
	check_dense();
	check_valloc_pvalloc();
	check_mix();
	return hk_done();
}

/* realloc() and reallocarray(): contents preserved across every kind of
 * move (small<->small, small<->large, large<->large), realloc(NULL, n)
 * behaves as malloc, realloc(p, 0) frees and returns NULL (glibc), failed
 * requests return NULL/ENOMEM and leave the old block intact and freeable,
 * reallocarray overflow is detected. */
#include "../lib/check.h"

#include <malloc.h>

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* Fill old block with a pattern keyed on a salt (not on its address, which
 * changes), realloc, verify the common prefix. */
static void fill_salted(unsigned char *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)((i * 131 + salt * 7 + (i >> 8)) & 0xff);
}

static long verify_salted(const unsigned char *p, size_t n, unsigned salt)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)((i * 131 + salt * 7 + (i >> 8)) & 0xff))
			return (long)i;
	return -1;
}

static bool one_move(size_t from, size_t to, unsigned salt)
{
	unsigned char *p = malloc(from), *q;
	long off;

	if (!p)
		return false;
	fill_salted(p, from, salt);
	q = realloc(p, to);
	if (!q) {
		free(p);
		hk_note("realloc(%zu -> %zu) returned NULL", from, to);
		return false;
	}
	off = verify_salted(q, from < to ? from : to, salt);
	if (off >= 0)
		hk_note("realloc(%zu -> %zu) lost data at offset %ld", from, to,
			off);
	if (malloc_usable_size(q) < to) {
		hk_note("realloc(%zu -> %zu): usable size %zu too small", from,
			to, malloc_usable_size(q));
		off = 0;
	}
	memset(q, 0x33, to);	/* new size must be fully writable */
	free(q);
	return off < 0;
}

static void check_moves(void)
{
	static const struct {
		size_t from, to;
		const char *kind;
	} m[] = {
		{ 24, 100, "small->small grow" },
		{ 100, 24, "small->small shrink" },
		{ 1, 2, "small->small 1->2" },
		{ 16, 17, "small->small 16->17" },
		{ 1000, 1001, "small->small 1000->1001" },
		{ 4000, 64 * KiB, "small->small 4000->64K" },
		{ 128 * KiB, 1, "small->small 128K->1" },
		{ 1000, 300 * KiB, "small->large" },
		{ 100 * KiB, 128 * KiB + 1, "small->large boundary" },
		{ 300 * KiB, 2 * MiB, "large->large grow" },
		{ 2 * MiB, 300 * KiB, "large->large shrink" },
		{ 200 * KiB, 200 * KiB + 1, "large->large +1" },
		{ 3 * MiB, 3 * MiB - 4096, "large->large -4096" },
		{ 8 * MiB, 17 * MiB, "large->large 8M->17M" },
		{ 300 * KiB, 100, "large->small" },
		{ 128 * KiB + 1, 128 * KiB, "large->small boundary" },
		{ 1 * MiB, 60 * KiB, "large->small 1M->60K" },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		CHECK(one_move(m[i].from, m[i].to, (unsigned)i),
		      "realloc %s (%zu -> %zu) preserves contents", m[i].kind,
		      m[i].from, m[i].to);

	/* Same size and tiny changes keep contents too. */
	bool ok = true;
	for (size_t n = 1; n <= 4096; n = n * 3 / 2 + 1) {
		ok &= one_move(n, n, 1);
		ok &= one_move(n, n + 1, 2);
		ok &= one_move(n + 1, n, 3);
	}
	CHECK(ok, "realloc to the same or +-1 size preserves contents");
}

/* Grow one block step by step from 1 byte to 4 MiB and back down,
 * verifying the whole content each time. */
static void check_chain(void)
{
	size_t n = 1;
	unsigned char *p = malloc(1);
	int bad = 0, steps = 0;

	if (!CHECK(p != NULL, "malloc(1) for realloc chain"))
		return;
	fill_salted(p, 1, 9);
	while (n < 4 * MiB) {
		size_t nn = n + n / 3 + 1;
		unsigned char *q = realloc(p, nn);
		if (!q) {
			bad++;
			break;
		}
		if (verify_salted(q, n, 9) >= 0)
			bad++;
		fill_salted(q, nn, 9);
		p = q;
		n = nn;
		steps++;
	}
	while (n > 1) {
		size_t nn = n / 2;
		unsigned char *q = realloc(p, nn);
		if (!q) {
			bad++;
			break;
		}
		if (verify_salted(q, nn, 9) >= 0)
			bad++;
		p = q;
		n = nn;
		steps++;
	}
	free(p);
	CHECK(bad == 0,
	      "realloc chain 1 B -> 4 MiB -> 1 B keeps contents (%d steps, "
	      "%d bad)", steps, bad);
}

static void check_null_and_zero(void)
{
	char *p = hk_launder(realloc(NULL, 100));
	CHECK(p != NULL && malloc_usable_size(p) >= 100,
	      "realloc(NULL, 100) acts as malloc(100)");
	if (p)
		memset(p, 1, 100);
	free(p);

	p = hk_launder(realloc(NULL, 500 * KiB));
	CHECK(p != NULL && malloc_usable_size(p) >= 500 * KiB,
	      "realloc(NULL, 500K) acts as malloc(500K)");
	if (p)
		memset(p, 1, 500 * KiB);
	free(p);

	p = hk_launder(realloc(NULL, 0));
	CHECK(p != NULL, "realloc(NULL, 0) acts as malloc(0) (non-NULL)");
	free(p);

	/* glibc: realloc(p, 0) with p != NULL frees p and returns NULL. */
	uint64_t live0 = 0, live1 = 0, live2 = 0;
	bool stats = hk_stat("stats.large.live", &live0);
	p = malloc(100);
	errno = 0;
	void *q = hk_launder(realloc(hk_launder(p), 0));
	CHECK(q == NULL, "realloc(small, 0) returns NULL (got %p)", q);
	free(q);

	p = malloc(400 * KiB);
	if (stats)
		hk_stat("stats.large.live", &live1);
	q = hk_launder(realloc(hk_launder(p), 0));
	CHECK(q == NULL, "realloc(large, 0) returns NULL (got %p)", q);
	if (stats) {
		hk_stat("stats.large.live", &live2);
		CHECK(live1 == live0 + 1 && live2 == live0,
		      "realloc(large, 0) frees the block (stats.large.live "
		      "%" PRIu64 " -> %" PRIu64 " -> %" PRIu64 ")",
		      live0, live1, live2);
	}
	free(q);

	/* Many realloc(p, 0) must not leak: RSS stays flat. */
	long before = hk_rss_kb();
	for (int i = 0; i < (int)hk_scale(20000, 1000); i++) {
		void *t = malloc(4096 + (size_t)(i % 7) * 1000);
		if (t)
			((volatile char *)t)[0] = 1;
		t = hk_launder(realloc(hk_launder(t), 0));
		free(t);
	}
	long after = hk_rss_kb();
	if (!hk_under_valgrind())
		CHECK(after - before < 16 * 1024,
		      "20000 x realloc(p, 0) does not leak (RSS grew %ld KiB)",
		      after - before);
}

static void check_failure(void)
{
	static const size_t sizes[] = { 16, 200, 5000, 100 * KiB, 300 * KiB,
					3 * MiB };
	static const struct {
		size_t n;
		const char *name;
	} huge[] = {
		{ SIZE_MAX, "SIZE_MAX" },
		{ HK_PTRDIFF_MAX_PLUS_1, "PTRDIFF_MAX+1" },
	};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
		for (size_t h = 0; h < 2; h++) {
			unsigned char *p = malloc(sizes[s]);
			if (!p) {
				FAILED("malloc(%zu)", sizes[s]);
				continue;
			}
			fill_salted(p, sizes[s], 5);
			errno = 0;
			void *q = hk_launder(realloc(hk_launder(p), hk_size(huge[h].n)));
			int e = errno;
			CHECK(q == NULL && e == ENOMEM,
			      "realloc(%zu-byte block, %s) returns NULL/ENOMEM "
			      "(got %p, errno %d)", sizes[s], huge[h].name, q,
			      e);
			CHECK(verify_salted(p, sizes[s], 5) < 0 &&
			      malloc_usable_size(p) >= sizes[s],
			      "after failed realloc(%zu-byte block, %s) the "
			      "old block is intact", sizes[s], huge[h].name);
			/* still a live, growable block */
			unsigned char *r = realloc(p, sizes[s] * 2);
			CHECK(r && verify_salted(r, sizes[s], 5) < 0,
			      "%zu-byte block survives a failed realloc(%s) "
			      "and can be reallocated", sizes[s],
			      huge[h].name);
			free(r ? r : p);
		}
}

static void check_reallocarray(void)
{
	unsigned char *p = hk_launder(reallocarray(NULL, 10, 10));
	CHECK(p != NULL && malloc_usable_size(p) >= 100,
	      "reallocarray(NULL, 10, 10) acts as malloc(100)");
	if (!p)
		return;
	fill_salted(p, 100, 4);
	unsigned char *q = reallocarray(p, 1000, 100);
	CHECK(q && verify_salted(q, 100, 4) < 0 &&
	      malloc_usable_size(q) >= 100000,
	      "reallocarray(p, 1000, 100) grows and preserves contents");
	if (q)
		p = q;

	static const struct {
		size_t a, b;
		const char *what;
	} ov[] = {
		{ SIZE_MAX / 2 + 1, 2, "SIZE_MAX/2+1, 2" },
		{ 2, SIZE_MAX / 2 + 1, "2, SIZE_MAX/2+1" },
		{ (size_t)1 << 32, (size_t)1 << 32, "2^32, 2^32" },
		{ SIZE_MAX, SIZE_MAX, "SIZE_MAX, SIZE_MAX" },
	};
	for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
		errno = 0;
		void *r = hk_launder(reallocarray(hk_launder(p), hk_size(ov[i].a),
						  hk_size(ov[i].b)));
		int e = errno;
		CHECK(r == NULL && e == ENOMEM && verify_salted(p, 100, 4) < 0,
		      "reallocarray(p, %s) overflows: NULL/ENOMEM, block "
		      "intact (got %p, errno %d)", ov[i].what, r, e);
		errno = 0;
		r = hk_launder(reallocarray(NULL, hk_size(ov[i].a),
					    hk_size(ov[i].b)));
		e = errno;
		CHECK(r == NULL && e == ENOMEM,
		      "reallocarray(NULL, %s) overflows: NULL/ENOMEM (got %p, "
		      "errno %d)", ov[i].what, r, e);
	}
	q = reallocarray(p, 3, 7);
	CHECK(q && verify_salted(q, 21, 4) < 0,
	      "reallocarray(p, 3, 7) shrinks and preserves contents");
	free(q ? q : p);
}

/* realloc of blocks from the aligned allocators keeps contents. */
static void check_aligned_realloc(void)
{
	int bad = 0;
	for (size_t al = 16; al <= 1 * MiB; al *= 4) {
		size_t sizes[] = { 10, 3000, 200 * KiB };
		for (int s = 0; s < 3; s++) {
			void *p = NULL;
			if (posix_memalign(&p, al, sizes[s]) != 0) {
				bad++;
				continue;
			}
			fill_salted(p, sizes[s], 6);
			unsigned char *q = realloc(p, sizes[s] * 3);
			if (!q || verify_salted(q, sizes[s], 6) >= 0)
				bad++;
			free(q ? q : p);
		}
	}
	CHECK(bad == 0,
	      "realloc of posix_memalign blocks (alignment 16..1M) preserves "
	      "contents (%d bad)", bad);
}

int main(void)
{
	check_moves();
	check_chain();
	check_null_and_zero();
	check_failure();
	check_reallocarray();
	check_aligned_realloc();
	return hk_done();
}

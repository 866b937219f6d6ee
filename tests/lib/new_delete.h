/* new_delete.h - the checks of hakmem's C++ operators (src/new_delete.c),
 * shared by hakmem.api/new_delete.cc (linked with hakmem) and
 * hakmem.api/new_delete_preload.cc (run under LD_PRELOAD). Include after
 * check.h; main() is hk_new_delete_main().
 *
 *   - every replaceable operator the program calls is hakmem's: dladdr of
 *     the address the program uses, and of what dlsym finds by the
 *     mangled name, names libhakmem;
 *   - each form allocates usable blocks of several sizes, new(0) and
 *     new[](0) give unique non-null pointers, the aligned forms align;
 *   - an impossible size: the throwing forms throw std::bad_alloc (also
 *     for an alignment that is not a power of two), the nothrow forms
 *     return NULL without calling the new_handler, errno is ENOMEM;
 *   - the new_handler is called until it uninstalls itself, an exception
 *     it throws reaches the caller through hakmem's frames, and (in a
 *     child under RLIMIT_AS) a handler that frees reserve memory lets the
 *     allocation succeed;
 *   - a sized delete with a size larger than the block, and an aligned
 *     delete of a pointer not so aligned, are misuse (hk_expect_misuse:
 *     SIGABRT, or report mode going on with the block intact); the right
 *     size and alignment are quiet. */
#ifndef HAKMEM_TEST_NEW_DELETE_H
#define HAKMEM_TEST_NEW_DELETE_H

#include <malloc.h>

#include <initializer_list>
#include <new>

/* The operators, by mangled name, as the program itself refers to them. */
struct hk_op {
	const char *name;
	void *addr;
};

#define HK_OP(sym, type, op) { #sym, (void *)static_cast<type>(op) }

static const hk_op hk_ops[] = {
	HK_OP(_Znwm, void *(*)(size_t), &::operator new),
	HK_OP(_Znam, void *(*)(size_t), &::operator new[]),
	HK_OP(_ZnwmRKSt9nothrow_t, void *(*)(size_t, const std::nothrow_t &) noexcept,
	      &::operator new),
	HK_OP(_ZnamRKSt9nothrow_t, void *(*)(size_t, const std::nothrow_t &) noexcept,
	      &::operator new[]),
	HK_OP(_ZnwmSt11align_val_t, void *(*)(size_t, std::align_val_t), &::operator new),
	HK_OP(_ZnamSt11align_val_t, void *(*)(size_t, std::align_val_t), &::operator new[]),
	HK_OP(_ZnwmSt11align_val_tRKSt9nothrow_t,
	      void *(*)(size_t, std::align_val_t, const std::nothrow_t &) noexcept,
	      &::operator new),
	HK_OP(_ZnamSt11align_val_tRKSt9nothrow_t,
	      void *(*)(size_t, std::align_val_t, const std::nothrow_t &) noexcept,
	      &::operator new[]),
	HK_OP(_ZdlPv, void (*)(void *) noexcept, &::operator delete),
	HK_OP(_ZdaPv, void (*)(void *) noexcept, &::operator delete[]),
	HK_OP(_ZdlPvm, void (*)(void *, size_t) noexcept, &::operator delete),
	HK_OP(_ZdaPvm, void (*)(void *, size_t) noexcept, &::operator delete[]),
	HK_OP(_ZdlPvSt11align_val_t, void (*)(void *, std::align_val_t) noexcept,
	      &::operator delete),
	HK_OP(_ZdaPvSt11align_val_t, void (*)(void *, std::align_val_t) noexcept,
	      &::operator delete[]),
	HK_OP(_ZdlPvmSt11align_val_t, void (*)(void *, size_t, std::align_val_t) noexcept,
	      &::operator delete),
	HK_OP(_ZdaPvmSt11align_val_t, void (*)(void *, size_t, std::align_val_t) noexcept,
	      &::operator delete[]),
	HK_OP(_ZdlPvRKSt9nothrow_t, void (*)(void *, const std::nothrow_t &) noexcept,
	      &::operator delete),
	HK_OP(_ZdaPvRKSt9nothrow_t, void (*)(void *, const std::nothrow_t &) noexcept,
	      &::operator delete[]),
	HK_OP(_ZdlPvSt11align_val_tRKSt9nothrow_t,
	      void (*)(void *, std::align_val_t, const std::nothrow_t &) noexcept,
	      &::operator delete),
	HK_OP(_ZdaPvSt11align_val_tRKSt9nothrow_t,
	      void (*)(void *, std::align_val_t, const std::nothrow_t &) noexcept,
	      &::operator delete[]),
};

static bool hk_in_hakmem(const void *addr, const char **where)
{
	Dl_info info;
	*where = "?";
	if (!addr || !dladdr(addr, &info) || !info.dli_fname)
		return false;
	*where = info.dli_fname;
	return strstr(info.dli_fname, "libhakmem") != NULL;
}

static void hk_check_served(void)
{
	for (const hk_op &op : hk_ops) {
		const char *where;
		bool ok = hk_in_hakmem(op.addr, &where);
		CHECK(ok, "%s called by the program is hakmem's (%s)", op.name, where);
		void *sym = dlsym(RTLD_DEFAULT, op.name);
		ok = hk_in_hakmem(sym, &where);
		CHECK(ok, "%s found by dlsym is hakmem's (%s)", op.name, where);
	}
}

/* ------------------------------------------------------------------ */
/* Blocks of every form                                                 */
/* ------------------------------------------------------------------ */

static const size_t hk_nd_sizes[] = { 1, 24, 1000, 70000, 200000, (size_t)1 << 21 };
static const size_t hk_nd_aligns[] = { 16, 32, 64, 256, 4096, 65536, (size_t)1 << 21 };

/* A block from a new: usable for n bytes (and malloc_usable_size agrees). */
static bool hk_nd_usable(void *p, size_t n, uint64_t salt)
{
	if (!p || malloc_usable_size(p) < n)
		return false;
	hk_fill(p, n, salt);
	return hk_verify(p, n, salt) < 0;
}

static void hk_check_forms(void)
{
	const std::nothrow_t &nt = std::nothrow;
	for (size_t n : hk_nd_sizes) {
		void *p[4] = { ::operator new(n), ::operator new[](n),
			       ::operator new(n, nt), ::operator new[](n, nt) };
		bool ok = true;
		for (int i = 0; i < 4; i++)
			ok &= hk_nd_usable(p[i], n, (uint64_t)i);
		CHECK(ok, "new, new[] and their nothrow forms give usable blocks of %zu bytes",
		      n);
		::operator delete(p[0]);
		::operator delete[](p[1], n);
		::operator delete(p[2], nt);
		::operator delete[](p[3], nt);
		p[0] = ::operator new(n);
		p[1] = ::operator new[](n);
		ok = hk_nd_usable(p[0], n, 5) && hk_nd_usable(p[1], n, 6);
		CHECK(ok, "again after delete, delete[] (sized) and the nothrow deletes (%zu)", n);
		::operator delete(p[0], n);
		::operator delete[](p[1]);
	}

	for (size_t al : hk_nd_aligns) {
		std::align_val_t a(static_cast<std::align_val_t>(al));
		for (size_t n : { (size_t)1, al / 2 + 1, al * 3 }) {
			void *p[4] = { ::operator new(n, a), ::operator new[](n, a),
				       ::operator new(n, a, nt), ::operator new[](n, a, nt) };
			bool ok = true, aligned = true;
			for (int i = 0; i < 4; i++) {
				ok &= hk_nd_usable(p[i], n, (uint64_t)i);
				aligned &= ((uintptr_t)p[i] & (al - 1)) == 0;
			}
			CHECK(ok && aligned,
			      "aligned new, new[] and their nothrow forms give %zu-aligned blocks "
			      "of %zu bytes (%p %p %p %p)", al, n, p[0], p[1], p[2], p[3]);
			::operator delete(p[0], a);
			::operator delete[](p[1], n, a);
			::operator delete(p[2], a, nt);
			::operator delete[](p[3], a, nt);
			p[0] = ::operator new(n, a);
			p[1] = ::operator new[](n, a);
			::operator delete(p[0], n, a);
			::operator delete[](p[1], a);
		}
	}

	void *z[4] = { ::operator new(0), ::operator new(0), ::operator new[](0),
		       ::operator new[](0) };
	bool distinct = true;
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < i; j++)
			distinct &= z[i] != z[j];
	CHECK(z[0] && z[1] && z[2] && z[3] && distinct,
	      "new(0) and new[](0) give unique non-null pointers (%p %p %p %p)", z[0], z[1],
	      z[2], z[3]);
	::operator delete(z[0]);
	::operator delete(z[1]);
	::operator delete[](z[2]);
	::operator delete[](z[3]);

	/* what the compiler emits: new-expressions and sized deletes */
	struct obj {
		long v[5];
	};
	obj *o = new obj();
	long *arr = new long[100]();
	struct alignas(256) over {
		char c[300];
	};
	over *ov = new over;
	bool ok = o && arr && ov && hk_nd_usable(o, sizeof *o, 1) &&
		  hk_nd_usable(arr, 100 * sizeof *arr, 2) && ((uintptr_t)ov & 255) == 0;
	CHECK(ok, "new-expressions of an object, an array and an over-aligned object");
	delete o;
	delete[] arr;
	delete ov;
	::operator delete(nullptr);
	::operator delete[](nullptr, (size_t)16);
	::operator delete(nullptr, std::align_val_t(64));
	CHECK(true, "delete of a null pointer does nothing");
}

/* ------------------------------------------------------------------ */
/* Failure                                                              */
/* ------------------------------------------------------------------ */

static int hk_nd_handler_calls;
static int hk_nd_handler_budget;

/* Counts its calls; uninstalls itself when its budget is spent, so that
 * the next failure throws. */
static void hk_nd_counting_handler(void)
{
	hk_nd_handler_calls++;
	if (--hk_nd_handler_budget <= 0)
		std::set_new_handler(nullptr);
}

/* Whether f, a new of a size or alignment that cannot be served, threw
 * std::bad_alloc. */
template <typename F> static bool hk_nd_throws(F f)
{
	errno = 0;
	try {
		hk_launder(f());	/* an unexpected block is left: the check fails */
	} catch (const std::bad_alloc &) {
		return true;
	}
	return false;
}

struct hk_nd_oom : std::bad_alloc {
	const char *what() const noexcept override
	{
		return "hk_nd_oom";
	}
};

static void hk_nd_throwing_handler(void)
{
	hk_nd_handler_calls++;
	throw hk_nd_oom();
}

static void hk_check_failure(void)
{
	const size_t huge = hk_size(HK_PTRDIFF_MAX_PLUS_1);
	const std::align_val_t a64(static_cast<std::align_val_t>(64));
	const std::nothrow_t &nt = std::nothrow;
	bool ok;

	std::set_new_handler(nullptr);
	ok = hk_nd_throws([&] { return ::operator new(huge); });
	CHECK(ok && errno == ENOMEM, "new(huge) throws std::bad_alloc, errno ENOMEM (%d)",
	      errno);
	ok = hk_nd_throws([&] { return ::operator new[](huge); });
	CHECK(ok && errno == ENOMEM, "new[](huge) throws std::bad_alloc, errno ENOMEM (%d)",
	      errno);
	ok = hk_nd_throws([&] { return ::operator new(huge, a64); });
	CHECK(ok && errno == ENOMEM,
	      "new(huge, align 64) throws std::bad_alloc, errno ENOMEM (%d)", errno);
	ok = hk_nd_throws([&] { return ::operator new[](huge, a64); });
	CHECK(ok && errno == ENOMEM,
	      "new[](huge, align 64) throws std::bad_alloc, errno ENOMEM (%d)", errno);
	ok = hk_nd_throws([&] { return ::operator new(64, std::align_val_t(48)); });
	CHECK(ok && errno == EINVAL,
	      "new(64, align 48) throws std::bad_alloc, errno EINVAL (%d)", errno);

	/* nothrow: NULL, and the handler is not called */
	hk_nd_handler_calls = 0;
	hk_nd_handler_budget = 1000;
	std::set_new_handler(hk_nd_counting_handler);
	void *p[5];
	int err[5];
	errno = 0;
	p[0] = ::operator new(huge, nt);
	err[0] = errno;
	p[1] = ::operator new[](huge, nt);
	err[1] = errno;
	p[2] = ::operator new(huge, a64, nt);
	err[2] = errno;
	p[3] = ::operator new[](huge, a64, nt);
	err[3] = errno;
	p[4] = ::operator new(64, std::align_val_t(48), nt);
	err[4] = errno;
	std::set_new_handler(nullptr);
	CHECK(!p[0] && !p[1] && !p[2] && !p[3] && !p[4],
	      "the nothrow forms return NULL for a size or alignment that cannot be served");
	CHECK(err[0] == ENOMEM && err[1] == ENOMEM && err[2] == ENOMEM && err[3] == ENOMEM &&
		      err[4] == EINVAL,
	      "the nothrow forms set errno ENOMEM (EINVAL for the alignment) (%d %d %d %d %d)",
	      err[0], err[1], err[2], err[3], err[4]);
	CHECK(hk_nd_handler_calls == 0, "the nothrow forms do not call the new_handler (%d)",
	      hk_nd_handler_calls);

	/* the handler is called until it gives up, then bad_alloc */
	const struct {
		const char *what;
		void *(*fn)(size_t);
		bool aligned;
	} throwing[] = {
		{ "new", [](size_t n) { return ::operator new(n); }, false },
		{ "new[]", [](size_t n) { return ::operator new[](n); }, false },
		{ "aligned new", [](size_t n) { return ::operator new(n, std::align_val_t(4096)); },
		  true },
		{ "aligned new[]",
		  [](size_t n) { return ::operator new[](n, std::align_val_t(4096)); }, true },
	};
	for (const auto &t : throwing) {
		hk_nd_handler_calls = 0;
		hk_nd_handler_budget = 3;
		std::set_new_handler(hk_nd_counting_handler);
		ok = hk_nd_throws([&] { return t.fn(huge); });
		CHECK(ok && hk_nd_handler_calls == 3,
		      "%s(huge) calls the new_handler until it uninstalls itself, then throws "
		      "std::bad_alloc (%d calls)", t.what, hk_nd_handler_calls);

		hk_nd_handler_calls = 0;
		std::set_new_handler(hk_nd_throwing_handler);
		bool caught = false;
		try {
			::operator delete(t.fn(huge));
		} catch (const hk_nd_oom &) {
			caught = true;
		} catch (...) {
		}
		std::set_new_handler(nullptr);
		CHECK(caught && hk_nd_handler_calls == 1,
		      "%s(huge): the exception the new_handler throws reaches the caller "
		      "(%d calls)", t.what, hk_nd_handler_calls);
	}
}

/* Under RLIMIT_AS, new of 64 MiB fails until the handler frees a 64 MiB
 * reserve. Runs in a child (hk_run_child): the limit stays there. */
static void *hk_nd_reserve;

static void hk_nd_freeing_handler(void)
{
	hk_nd_handler_calls++;
	free(hk_nd_reserve);
	hk_nd_reserve = NULL;
	std::set_new_handler(nullptr);
}

static void hk_nd_reserve_child(void *)
{
	const size_t mib = (size_t)1 << 20;
	hk_action("trim");
	long long vsize = hk_vsize_bytes();
	struct rlimit rl;
	rl.rlim_cur = rl.rlim_max = (rlim_t)vsize + 96 * mib;
	hk_nd_reserve = malloc(64 * mib);
	if (!CHECK(hk_nd_reserve && setrlimit(RLIMIT_AS, &rl) == 0,
		   "child: a 64 MiB reserve, then RLIMIT_AS 96 MiB above the current size"))
		return;
	void *q = ::operator new(64 * mib, std::nothrow);
	CHECK(!q, "child: under the limit, nothrow new(64 MiB) fails (%p)", q);
	::operator delete(q);

	hk_nd_handler_calls = 0;
	std::set_new_handler(hk_nd_freeing_handler);
	void *p = nullptr;
	try {
		p = ::operator new(64 * mib);
	} catch (const std::bad_alloc &) {
	}
	CHECK(p && hk_nd_handler_calls == 1,
	      "child: new(64 MiB) calls the new_handler, which frees the reserve, and then "
	      "succeeds (%p, %d calls)", p, hk_nd_handler_calls);
	if (p)
		memset(p, 1, 64 * mib);
	::operator delete(p, 64 * mib);
}

static void hk_check_reserve(void)
{
	if (hk_under_valgrind()) {
		printf("UNSUPPORTED: new_handler freeing a reserve under RLIMIT_AS (valgrind)\n");
		fflush(stdout);
		return;
	}
	struct hk_child c;
	char how[96];
	hk_run_child(hk_nd_reserve_child, NULL, 60, &c);
	if (!hk_child_exited0(&c))
		hk_show_stderr("reserve", &c);
	CHECK(hk_child_exited0(&c), "the child with the reserve exits 0 (%s)",
	      hk_child_how(&c, how, sizeof how));
}

/* ------------------------------------------------------------------ */
/* Misuse                                                               */
/* ------------------------------------------------------------------ */

enum hk_nd_del { HK_ND_SIZED, HK_ND_SIZED_ARRAY, HK_ND_SIZED_ALIGNED, HK_ND_ALIGNED };

struct hk_nd_case {
	const char *what;
	enum hk_nd_del how;
	void *p;
	size_t alloc, size, align;
};

static void hk_nd_delete(const hk_nd_case *c)
{
	void *p = hk_launder(c->p);
	std::align_val_t a(static_cast<std::align_val_t>(c->align));
	switch (c->how) {
	case HK_ND_SIZED:
		::operator delete(p, c->size);
		break;
	case HK_ND_SIZED_ARRAY:
		::operator delete[](p, c->size);
		break;
	case HK_ND_SIZED_ALIGNED:
		::operator delete(p, c->size, a);
		break;
	case HK_ND_ALIGNED:
		::operator delete[](p, a);
		break;
	}
}

/* The block as it should have been freed. */
static void hk_nd_release(const hk_nd_case *c)
{
	switch (c->how) {
	case HK_ND_SIZED:
		::operator delete(c->p);
		break;
	case HK_ND_SIZED_ARRAY:
	case HK_ND_ALIGNED:
		::operator delete[](c->p);
		break;
	case HK_ND_SIZED_ALIGNED:
		::operator delete(c->p, std::align_val_t(c->align));
		break;
	}
}

static void hk_nd_wrong(void *arg)
{
	const hk_nd_case *c = (const hk_nd_case *)arg;
	size_t check = c->alloc < 4096 ? c->alloc : 4096;
	hk_fill(c->p, check, 11);
	hk_nd_delete(c);
	/* report mode: the block is untouched and still live */
	CHECK(hk_verify(c->p, check, 11) < 0, "%s: the block is intact", c->what);
	CHECK(malloc_usable_size(c->p) >= c->alloc, "%s: the block is still live", c->what);
	hk_nd_release(c);
}

static void hk_nd_right(void *arg)
{
	(void)arg;
	for (size_t n : hk_nd_sizes) {
		::operator delete(::operator new(n), n);
		::operator delete[](::operator new[](n), n);
		::operator delete(::operator new(n, std::align_val_t(64)), n,
				  std::align_val_t(64));
		::operator delete[](::operator new[](n, std::align_val_t(4096)),
				    std::align_val_t(4096));
	}
}

static void hk_check_misuse(void)
{
	hk_nd_case c;
	char size[48];

	c = { "operator delete(64-byte block, size 1000)", HK_ND_SIZED, ::operator new(64), 64,
	      1000, 0 };
	snprintf(size, sizeof size, "size %zu ", c.size);
	hk_expect_misuse(c.what, hk_nd_wrong, &c, size, hk_hex(c.p));
	hk_expect_misuse("operator delete: the message names it", hk_nd_wrong, &c,
			 "operator delete:", NULL);
	hk_nd_release(&c);

	void *p = ::operator new[](100);
	c = { "operator delete[](100-byte block, usable size + 1)", HK_ND_SIZED_ARRAY, p, 100,
	      malloc_usable_size(p) + 1, 0 };
	snprintf(size, sizeof size, "size %zu ", c.size);
	hk_expect_misuse(c.what, hk_nd_wrong, &c, size, hk_hex(c.p));
	hk_expect_misuse("operator delete[]: the message names it", hk_nd_wrong, &c,
			 "operator delete[]:", NULL);
	hk_nd_release(&c);

	p = ::operator new((size_t)1 << 20, std::align_val_t(4096));
	c = { "operator delete(4096-aligned 1 MiB block, size + 64 KiB, 4096)",
	      HK_ND_SIZED_ALIGNED, p, (size_t)1 << 20, malloc_usable_size(p) + 65536, 4096 };
	snprintf(size, sizeof size, "size %zu ", c.size);
	hk_expect_misuse(c.what, hk_nd_wrong, &c, size, hk_hex(c.p));
	hk_nd_release(&c);

	/* of two consecutive 48-byte blocks, at most one is 4096-aligned */
	void *p1 = ::operator new[](48), *p2 = ::operator new[](48);
	p = ((uintptr_t)p1 & 4095) ? p1 : p2;
	c = { "operator delete[](block not aligned to 4096, 4096)", HK_ND_ALIGNED, p, 48, 0,
	      4096 };
	if (CHECK(((uintptr_t)p & 4095) != 0, "new[](48) gives a block not aligned to 4096"))
		hk_expect_misuse(c.what, hk_nd_wrong, &c, "not aligned to 4096", hk_hex(p));
	::operator delete[](p1);
	::operator delete[](p2);

	hk_expect_quiet("sized and aligned deletes with the right size and alignment",
			hk_nd_right, NULL);
}

static int hk_new_delete_main(void)
{
	hk_check_served();
	hk_check_forms();
	hk_check_failure();
	hk_check_reserve();
	hk_check_misuse();
	return hk_done();
}

#endif

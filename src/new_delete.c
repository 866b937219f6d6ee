/* The replaceable global allocation and deallocation functions of C++
 * (operator new, new[], delete, delete[] in all their forms), defined in C
 * under their x86_64 mangled names, so that a C++ program gets hakmem
 * without passing through libstdc++'s operators (which call malloc and
 * free, losing the size of a sized delete) and libhakmem.so does not need
 * libstdc++: it is preloaded into C programs too.
 *
 * Failure, as C++ requires of the throwing forms: while the allocation
 * fails, call the installed new_handler and try again; with no handler,
 * throw std::bad_alloc. Both are libstdc++'s (std::get_new_handler,
 * std::__throw_bad_alloc), reached through weak references: in a process
 * without libstdc++ they are null, and a failing throwing new prints one
 * "hakmem:" line and aborts. The references are bound when hakmem is
 * loaded (-z now), so a libstdc++ that only a later dlopen brings in is
 * not seen. This file is compiled with -fexceptions so that an exception
 * thrown by a handler unwinds through it.
 *
 * The nothrow forms return NULL on failure without calling the
 * new_handler: a handler may throw, C cannot catch, and an exception must
 * not leave a function declared noexcept.
 *
 * An alignment that is not a power of two fails at once (errno EINVAL, as
 * aligned_alloc), without the handler, which cannot help. Failures leave
 * errno as malloc's and aligned_alloc's do.
 *
 * A sized delete with a size larger than the block, and an aligned delete
 * of a pointer not so aligned, are misuse as for free_sized and
 * free_aligned_sized, with their checks (alloc.h): one "hakmem:" line,
 * then abort or, with opt.misuse=report, the block is left alone. Unlike
 * free_sized, a sized delete does not read the block (op_delete), so it
 * catches a double free as free does. With small canaries (hardened.h)
 * the block records whether new or new[] made it, and a delete of the
 * other form (or of a block of malloc) is reported. */
#include "common.h"

#include <errno.h>

#include "alloc.h"
#include "hardened.h"
#include "log.h"

typedef void (*hk_new_handler)(void);

/* libstdc++'s, when it is in the process. */
extern hk_new_handler std_get_new_handler(void) __asm__("_ZSt15get_new_handlerv")
	__attribute__((weak));
extern void std_throw_bad_alloc(void) __asm__("_ZSt17__throw_bad_allocv")
	__attribute__((weak, noreturn));

static const char *new_name(enum hk_kind kind)
{
	return kind == HK_KIND_NEW_ARRAY ? "operator new[]" : "operator new";
}

/* The allocation failed (errno set): the new_handler loop, then NULL or
 * std::bad_alloc. */
HK_COLD static void *new_failed(size_t size, size_t align, enum hk_kind kind, bool nothrow)
{
	if (nothrow)
		return NULL;
	if (hk_is_pow2(align)) {
		hk_new_handler handler;
		while (std_get_new_handler && (handler = std_get_new_handler())) {
			handler();
			void *p = hk_alloc_as(align, size, kind);
			if (p)
				return p;
		}
	}
	if (std_throw_bad_alloc)
		std_throw_bad_alloc();
	hk_fatal("%s(%zu): %s, and no libstdc++ in the process to throw std::bad_alloc",
		 new_name(kind), size,
		 hk_is_pow2(align) ? "out of memory" : "the alignment is not a power of two");
}

/* Every operator new. align is HK_MIN_ALIGN for the forms without one
 * (which the compiler then reduces to hk_alloc). */
HK_INLINE void *op_new(size_t size, size_t align, enum hk_kind kind, bool nothrow)
{
	void *p;
	if (HK_LIKELY(hk_is_pow2(align)))
		p = hk_alloc_as(align, size, kind);
	else {
		errno = EINVAL;
		p = NULL;
	}
	if (HK_UNLIKELY(!p))
		p = new_failed(size, align, kind, nothrow);
	return p;
}

/* A sized delete the fast path did not take. Out of line, so that the
 * fast path saves no registers for it. */
HK_NOINLINE static void delete_slow(void *p, hk_slab *s, size_t size, enum hk_kind kind,
				    const char *what)
{
	uintptr_t e;
	if (hk_free_local_later(p, s, size, &e))
		return;
	if (!size || hk_free_size_ok(p, size, what))
		hk_free_kind(p, e, kind, what);
}

/* Every operator delete. size 0: none stated (a stated size is never 0:
 * every object has at least one byte); align 0: none stated. A stated
 * size is checked on the free fast path against the block size it reads
 * anyway; only a size too large for it, or a block the fast path does
 * not take, costs hk_free_size_ok's lookup (which reports the misuse). */
HK_INLINE void op_delete(void *p, size_t size, size_t align, enum hk_kind kind)
{
	const char *what = kind == HK_KIND_NEW_ARRAY ? "operator delete[]" : "operator delete";
	if (align && !hk_free_align_ok(p, align, what))
		return;
	hk_slab *s = hk_superslab_slot(p);
	if (HK_LIKELY(hk_free_local(p, s, size)))
		return;
	delete_slow(p, s, size, kind, what);
}

/* The operators, under their mangled names: std::size_t is size_t,
 * std::align_val_t an enum of it, const std::nothrow_t & a pointer. */
#define NEW(label, name) HK_EXPORT void *name __asm__(#label)
#define DELETE(label, name) HK_EXPORT void name __asm__(#label)

NEW(_Znwm, new_scalar(size_t));
NEW(_Znam, new_array(size_t));
NEW(_ZnwmRKSt9nothrow_t, new_scalar_nothrow(size_t, const void *));
NEW(_ZnamRKSt9nothrow_t, new_array_nothrow(size_t, const void *));
NEW(_ZnwmSt11align_val_t, new_scalar_aligned(size_t, size_t));
NEW(_ZnamSt11align_val_t, new_array_aligned(size_t, size_t));
NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, new_scalar_aligned_nothrow(size_t, size_t, const void *));
NEW(_ZnamSt11align_val_tRKSt9nothrow_t, new_array_aligned_nothrow(size_t, size_t, const void *));
DELETE(_ZdlPv, delete_scalar(void *));
DELETE(_ZdaPv, delete_array(void *));
DELETE(_ZdlPvm, delete_scalar_sized(void *, size_t));
DELETE(_ZdaPvm, delete_array_sized(void *, size_t));
DELETE(_ZdlPvSt11align_val_t, delete_scalar_aligned(void *, size_t));
DELETE(_ZdaPvSt11align_val_t, delete_array_aligned(void *, size_t));
DELETE(_ZdlPvmSt11align_val_t, delete_scalar_sized_aligned(void *, size_t, size_t));
DELETE(_ZdaPvmSt11align_val_t, delete_array_sized_aligned(void *, size_t, size_t));
DELETE(_ZdlPvRKSt9nothrow_t, delete_scalar_nothrow(void *, const void *));
DELETE(_ZdaPvRKSt9nothrow_t, delete_array_nothrow(void *, const void *));
DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, delete_scalar_aligned_nothrow(void *, size_t, const void *));
DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, delete_array_aligned_nothrow(void *, size_t, const void *));

#define NOTHROW const void *nothrow __attribute__((unused))

void *new_scalar(size_t size)
{
	return op_new(size, HK_MIN_ALIGN, HK_KIND_NEW, false);
}

void *new_array(size_t size)
{
	return op_new(size, HK_MIN_ALIGN, HK_KIND_NEW_ARRAY, false);
}

void *new_scalar_nothrow(size_t size, NOTHROW)
{
	return op_new(size, HK_MIN_ALIGN, HK_KIND_NEW, true);
}

void *new_array_nothrow(size_t size, NOTHROW)
{
	return op_new(size, HK_MIN_ALIGN, HK_KIND_NEW_ARRAY, true);
}

void *new_scalar_aligned(size_t size, size_t align)
{
	return op_new(size, align, HK_KIND_NEW, false);
}

void *new_array_aligned(size_t size, size_t align)
{
	return op_new(size, align, HK_KIND_NEW_ARRAY, false);
}

void *new_scalar_aligned_nothrow(size_t size, size_t align, NOTHROW)
{
	return op_new(size, align, HK_KIND_NEW, true);
}

void *new_array_aligned_nothrow(size_t size, size_t align, NOTHROW)
{
	return op_new(size, align, HK_KIND_NEW_ARRAY, true);
}

void delete_scalar(void *p)
{
	op_delete(p, 0, 0, HK_KIND_NEW);
}

void delete_array(void *p)
{
	op_delete(p, 0, 0, HK_KIND_NEW_ARRAY);
}

void delete_scalar_sized(void *p, size_t size)
{
	op_delete(p, size, 0, HK_KIND_NEW);
}

void delete_array_sized(void *p, size_t size)
{
	op_delete(p, size, 0, HK_KIND_NEW_ARRAY);
}

void delete_scalar_aligned(void *p, size_t align)
{
	op_delete(p, 0, align, HK_KIND_NEW);
}

void delete_array_aligned(void *p, size_t align)
{
	op_delete(p, 0, align, HK_KIND_NEW_ARRAY);
}

void delete_scalar_sized_aligned(void *p, size_t size, size_t align)
{
	op_delete(p, size, align, HK_KIND_NEW);
}

void delete_array_sized_aligned(void *p, size_t size, size_t align)
{
	op_delete(p, size, align, HK_KIND_NEW_ARRAY);
}

void delete_scalar_nothrow(void *p, NOTHROW)
{
	op_delete(p, 0, 0, HK_KIND_NEW);
}

void delete_array_nothrow(void *p, NOTHROW)
{
	op_delete(p, 0, 0, HK_KIND_NEW_ARRAY);
}

void delete_scalar_aligned_nothrow(void *p, size_t align, NOTHROW)
{
	op_delete(p, 0, align, HK_KIND_NEW);
}

void delete_array_aligned_nothrow(void *p, size_t align, NOTHROW)
{
	op_delete(p, 0, align, HK_KIND_NEW_ARRAY);
}

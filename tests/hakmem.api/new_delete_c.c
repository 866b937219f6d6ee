/* hakmem's C++ operators in a C program: libstdc++ is not in the process,
 * which is how a system-wide preload meets most programs.
 *
 *   - the operators (called by their mangled names) allocate and free;
 *   - the nothrow forms return NULL for an impossible size;
 *   - a throwing form that cannot allocate has neither a new_handler nor
 *     std::bad_alloc to turn to: one "hakmem:" line naming the operator,
 *     then SIGABRT (in a child). */
#include "../lib/check.h"

#include <malloc.h>

void *cxx_new(size_t) __asm__("_Znwm");
void *cxx_new_array(size_t) __asm__("_Znam");
void *cxx_new_aligned(size_t, size_t) __asm__("_ZnwmSt11align_val_t");
void *cxx_new_nothrow(size_t, const void *) __asm__("_ZnwmRKSt9nothrow_t");
void *cxx_new_array_aligned_nothrow(size_t, size_t, const void *)
	__asm__("_ZnamSt11align_val_tRKSt9nothrow_t");
void cxx_delete_sized(void *, size_t) __asm__("_ZdlPvm");
void cxx_delete_array(void *) __asm__("_ZdaPv");
void cxx_delete_aligned(void *, size_t) __asm__("_ZdlPvSt11align_val_t");

static void new_huge(void *arg)
{
	(void)arg;
	void *p = cxx_new(hk_size(HK_PTRDIFF_MAX_PLUS_1));
	FAILED("new(huge) returned (%p)", p);
}

static void new_array_huge(void *arg)
{
	(void)arg;
	void *p = cxx_new_array(hk_size(HK_PTRDIFF_MAX_PLUS_1));
	FAILED("new[](huge) returned (%p)", p);
}

int main(void)
{
	CHECK(!dlsym(RTLD_DEFAULT, "_ZSt15get_new_handlerv"),
	      "libstdc++ is not in the process");

	void *p = cxx_new(100), *q = cxx_new_array(0);
	void *a = cxx_new_aligned(5000, 4096);
	CHECK(p && malloc_usable_size(p) >= 100 && q && a && ((uintptr_t)a & 4095) == 0,
	      "new(100), new[](0), new(5000, align 4096) allocate (%p %p %p)", p, q, a);
	cxx_delete_sized(p, 100);
	cxx_delete_array(q);
	cxx_delete_aligned(a, 4096);

	errno = 0;
	p = cxx_new_nothrow(hk_size(HK_PTRDIFF_MAX_PLUS_1), NULL);
	CHECK(!p && errno == ENOMEM, "nothrow new(huge) returns NULL, errno ENOMEM (%p, %d)",
	      p, errno);
	errno = 0;
	p = cxx_new_array_aligned_nothrow(hk_size(HK_PTRDIFF_MAX_PLUS_1), 64, NULL);
	CHECK(!p && errno == ENOMEM,
	      "nothrow aligned new[](huge) returns NULL, errno ENOMEM (%p, %d)", p, errno);

	hk_expect_abort("new(huge) without libstdc++", new_huge, NULL, "operator new(");
	hk_expect_abort("new[](huge) without libstdc++", new_array_huge, NULL,
			"operator new[](");
	return hk_done();
}

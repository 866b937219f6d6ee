/* Valgrind client requests, so that memcheck sees hakmem's blocks as heap
 * blocks (use after free, overflow, leaks). Compiled in when the headers
 * exist; when the program does not run under Valgrind the malloc family
 * takes its ordinary path and these are never reached. */
#ifndef HK_VG_H
#define HK_VG_H

#include "common.h"

#if defined(HAVE_VALGRIND_VALGRIND_H) && defined(HAVE_VALGRIND_MEMCHECK_H)
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
/* Memcheck, not just any Valgrind tool (callgrind must measure the real
 * fast paths): only memcheck answers the V-bits request. */
static inline bool hk_vg_memcheck(void)
{
	unsigned char probe = 0, vbits;
	return RUNNING_ON_VALGRIND && VALGRIND_GET_VBITS(&probe, &vbits, 1) == 1;
}
#define HK_VG_RUNNING() hk_vg_memcheck()
#define HK_VG_MALLOCLIKE(p, n, zeroed) VALGRIND_MALLOCLIKE_BLOCK((p), (n), 0, (zeroed))
#define HK_VG_FREELIKE(p) VALGRIND_FREELIKE_BLOCK((p), 0)
#define HK_VG_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#define HK_VG_UNDEFINED(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define HK_VG_NOACCESS(p, n) VALGRIND_MAKE_MEM_NOACCESS((p), (n))
/* Read a word memcheck may consider undefined, or not addressable (in a
 * freed block), leaving its state as it was. */
static inline uintptr_t hk_vg_peek(const uintptr_t *w)
{
	unsigned char vbits[sizeof *w];
	int saved = VALGRIND_GET_VBITS(w, vbits, sizeof *w);
	VALGRIND_MAKE_MEM_DEFINED(w, sizeof *w);
	uintptr_t v = *w;
	if (saved == 1)
		VALGRIND_SET_VBITS(w, vbits, sizeof *w);
	else if (saved == 3)
		VALGRIND_MAKE_MEM_NOACCESS(w, sizeof *w);
	return v;
}
#else
static inline uintptr_t hk_vg_peek(const uintptr_t *w)
{
	return *w;
}
#define HK_VG_RUNNING() 0
#define HK_VG_MALLOCLIKE(p, n, zeroed) ((void)(p), (void)(n), (void)(zeroed))
#define HK_VG_FREELIKE(p) ((void)(p))
#define HK_VG_DEFINED(p, n) ((void)(p), (void)(n))
#define HK_VG_UNDEFINED(p, n) ((void)(p), (void)(n))
#define HK_VG_NOACCESS(p, n) ((void)(p), (void)(n))
#endif

/* True when the process runs under Valgrind's memcheck (set at start-up). */
extern bool hk_vg_on;

#endif

/* hakmem: a general-purpose memory allocator built on SuperSlabs.
 *
 * Linking with -lhakmem (or preloading libhakmem.so.1) replaces the
 * process's malloc family; the functions below are the same engine under
 * hakmem_* names, for programs that want it without replacing malloc (for
 * example under a sanitizer that keeps its own malloc).
 *
 * Every function follows the semantics and errno conventions of its glibc
 * counterpart: allocation failure returns NULL with errno = ENOMEM, a bad
 * alignment gives EINVAL, hakmem_free() preserves errno, and a failed
 * hakmem_realloc() leaves the original block intact.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HAKMEM_VERSION_MAJOR 0
#define HAKMEM_VERSION_MINOR 1
#define HAKMEM_VERSION_PATCH 0

void *hakmem_malloc(size_t size);
void hakmem_free(void *ptr);
void *hakmem_calloc(size_t nmemb, size_t size);
void *hakmem_realloc(void *ptr, size_t size);
void *hakmem_reallocarray(void *ptr, size_t nmemb, size_t size);
int hakmem_posix_memalign(void **memptr, size_t alignment, size_t size);
void *hakmem_aligned_alloc(size_t alignment, size_t size);
void *hakmem_memalign(size_t alignment, size_t size);
void *hakmem_valloc(size_t size);
void *hakmem_pvalloc(size_t size);
size_t hakmem_malloc_usable_size(void *ptr);
void hakmem_free_sized(void *ptr, size_t size);
void hakmem_free_aligned_sized(void *ptr, size_t alignment, size_t size);

/* Read and/or write a named value (see hakmem_ctl(3) for the name tree).
 *
 * To read, pass oldp and oldlenp with *oldlenp set to the size of the
 * buffer; on success *oldlenp is the size of the value. To write, pass newp
 * and newlen. Doing both returns the old value and sets the new one.
 * Actions (names that do something rather than hold a value) take no
 * arguments.
 *
 * Returns 0, or an errno value: ENOENT for an unknown name, EINVAL for a
 * wrong length, type or value, EPERM for writing a read-only name, EAGAIN
 * where a change cannot be applied now. errno itself is left unchanged.
 */
int hakmem_ctl(const char *name, void *oldp, size_t *oldlenp,
	       const void *newp, size_t newlen);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */

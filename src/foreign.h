/* Pointers from the C library's own malloc. A library loaded with
 * RTLD_DEEPBIND (or one that calls __libc_malloc) allocates from glibc's
 * heap even when hakmem replaces malloc, and may hand such a block to the
 * program, whose free() then reaches hakmem. These functions recognise a
 * glibc block from the kernel's map of the process and glibc's chunk
 * header, so that it can be given back to glibc instead of being reported
 * as an invalid pointer. Slow: used only for pointers outside hakmem's
 * registry. */
#ifndef HK_FOREIGN_H
#define HK_FOREIGN_H

#include "common.h"

/* The usable size of p if it is a block of glibc's malloc, else 0. */
size_t hk_foreign_usable(const void *p);

/* Free p with glibc's free if it is a glibc block (saying so once per
 * process); returns false, doing nothing, if it is not. */
bool hk_foreign_free(void *p);

#endif

/* deepbind_mod.c - a shared module for tests/hakmem.api/deepbind.c.
 *
 * The test loads it with dlopen(..., RTLD_NOW | RTLD_DEEPBIND).  Under
 * RTLD_DEEPBIND the module's own references are resolved in its own
 * dependencies (libc.so.6) before the global scope, so the malloc family
 * called here is glibc's even when hakmem is preloaded: its blocks reach
 * the program, whose free() is hakmem's.  This is what happens with
 * libraries loaded that way (PHP loads extensions with RTLD_DEEPBIND).
 * Not linked with hakmem. */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *mod_malloc(size_t n)
{
	unsigned char *p = malloc(n);
	if (p)
		for (size_t i = 0; i < n && i < 4096; i++)
			p[i] = (unsigned char)(i * 31 + 7);
	return p;
}

void *mod_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

void *mod_realloc(void *p, size_t n)
{
	return realloc(p, n);
}

char *mod_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void mod_free(void *p)
{
	free(p);
}

/* Bytes in use in glibc's malloc: arenas plus mmapped chunks. */
size_t mod_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* The file that provides the malloc this module calls. */
const char *mod_malloc_owner(void)
{
	Dl_info info;
	void *(*fn)(size_t) = malloc;
	void *sym;
	memcpy(&sym, &fn, sizeof sym);
	if (!dladdr(sym, &info) || !info.dli_fname)
		return "?";
	return info.dli_fname;
}

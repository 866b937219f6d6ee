/* misuse.h - shared by the programs of tests/hakmem.misuse (C and C++).
 *
 * Each program commits one kind of heap misuse and reports what it saw
 * through its exit status, which tools/misuse-table classifies:
 *   MISUSE_MISSED     the misuse went unnoticed (old data seen, the freed
 *                     block handed out again, the program simply went on)
 *   MISUSE_PREVENTED  the allocator made it harmless (zeros read, a
 *                     different block handed out)
 * An abort (the allocator caught it) or a fault (a guard page or unmapped
 * memory) ends the program before it gets there.
 *
 * After the misuse the programs print only with write(2) and end with
 * _exit(), so that nothing goes through the allocator they just broke.
 * Pointers go through misuse_launder() so the compiler can neither prove
 * the misuse (and warn or fold it) nor drop stores to freed memory.
 * Not linked with hakmem: tools/misuse-table runs the same binary under
 * glibc and under LD_PRELOAD of an allocator.
 */
#ifndef HAKMEM_MISUSE_H
#define HAKMEM_MISUSE_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MISUSE_MISSED 10
#define MISUSE_PREVENTED 11
#define MISUSE_USAGE 2

static inline void *misuse_launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

/* One line on stdout with a single write(2), formatted on the stack. */
__attribute__((format(printf, 2, 0))) static inline void
misuse_vnote(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "%s", prefix);
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof buf - 2)
		len = sizeof buf - 2;
	buf[len++] = '\n';
	if (write(STDOUT_FILENO, buf, len) < 0)
		return;
}

__attribute__((format(printf, 1, 2))) static inline void
misuse_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	misuse_vnote("note: ", fmt, ap);
	va_end(ap);
}

/* End the program with STATUS (MISUSE_MISSED or MISUSE_PREVENTED), saying
 * why on stdout. */
__attribute__((noreturn, format(printf, 2, 3))) static inline void
misuse_end(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	misuse_vnote(status == MISUSE_MISSED ? "missed: " : "prevented: ", fmt,
		     ap);
	va_end(ap);
	_exit(status);
}

#define misuse_missed(...) misuse_end(MISUSE_MISSED, __VA_ARGS__)
#define misuse_prevented(...) misuse_end(MISUSE_PREVENTED, __VA_ARGS__)

/* The size argument: small (24 bytes), medium (8000: a slab class of
 * hakmem, which has them up to 128 KiB) or large (256 KiB). */
static inline size_t misuse_size(int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t size;
	} sizes[] = { { "small", 24 }, { "medium", 8000 }, { "large", 262144 } };

	if (argc == 2)
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
			if (strcmp(argv[1], sizes[i].name) == 0)
				return sizes[i].size;
	fprintf(stderr, "usage: %s small|medium|large\n", argv[0]);
	exit(MISUSE_USAGE);
}

/* The block a heap-overflow or use-after-free program misuses: *n bytes
 * as the size argument says, filled with 'a'; status 1 when malloc fails. */
static inline char *misuse_block(int argc, char **argv, size_t *n)
{
	*n = misuse_size(argc, argv);
	char *p = (char *)misuse_launder(malloc(*n));
	if (!p)
		exit(1);
	memset(p, 'a', *n);
	return p;
}

/* Allocate and free a block of n bytes `times` times: gives an allocator
 * that checks blocks when it hands them out again the chance to. */
static inline void misuse_churn(size_t n, long times)
{
	for (long i = 0; i < times; i++)
		free(misuse_launder(malloc(n)));
}

/* Free the block p of n bytes that was just written out of bounds and
 * churn its size, where an allocator checks canaries and headers. */
static inline void misuse_free_churn(void *p, size_t n)
{
	free(misuse_launder(p));
	misuse_churn(n, 100);
}

/* A fill whose 8-byte words are all different and never zero, so that
 * finding one of them again means old contents survived. */
static inline uint64_t misuse_word(size_t i)
{
	return (0x9E3779B97F4A7C15ull * (i + 1)) | 0x0101010101010101ull;
}

static inline void misuse_fill(void *p, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w = misuse_word(i / 8);
		memcpy((char *)p + i, &w, 8);
	}
}

/* Number of words of p[0..n) that still hold misuse_fill()'s values. */
static inline size_t misuse_old_words(const volatile void *p, size_t n)
{
	const volatile uint64_t *w = (const volatile uint64_t *)p;
	size_t found = 0;
	for (size_t i = 0; i < n / 8; i++)
		found += w[i] == misuse_word(i);
	return found;
}

#ifdef __cplusplus
static volatile int misuse_sink;

/* An element type with a non-trivial destructor: new[] keeps the element
 * count in front of an array of them, and delete[] reads it. */
struct misuse_counted {
	int v = 1;
	~misuse_counted() { misuse_sink = v; }
};

/* The type argument of the new/delete mismatch programs: run of_int or
 * of_class as argv[1] ("int" or "class") says, or end with MISUSE_USAGE. */
static inline void misuse_by_type(int argc, char **argv, void (*of_int)(),
				  void (*of_class)())
{
	if (argc == 2 && strcmp(argv[1], "int") == 0)
		of_int();
	else if (argc == 2 && strcmp(argv[1], "class") == 0)
		of_class();
	else
		exit(MISUSE_USAGE);
}
#endif

#endif

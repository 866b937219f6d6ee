/* Messages without stdio: formatted into a stack buffer and written to
 * stderr with write(2), so that reporting never allocates.
 *
 * Formats understood: %s %.*s %c %d %u %ld %lu %zu %zd %llu %x %lx %zx %p %%,
 * with an optional field width (right-aligned).
 */
#ifndef HK_LOG_H
#define HK_LOG_H

#include "common.h"

#include <stdarg.h>

/* What a detected misuse does (the option misuse): the message, then
 * abort() or go on. */
enum hk_misuse { HK_MISUSE_ABORT, HK_MISUSE_REPORT };

/* Debug-log subsystems (HAKMEM_LOG=os,superslab,... or all). */
enum {
	HK_LOG_OS = 1u << 0,
	HK_LOG_SUPERSLAB = 1u << 1,
	HK_LOG_POOL = 1u << 2,
	HK_LOG_THREAD = 1u << 3,
	HK_LOG_LARGE = 1u << 4,
	HK_LOG_CTL = 1u << 5,
};

/* The levels live here, not in the options, so that log needs nothing
 * above it; the options misuse and log (tunables.c) are these words. */
extern uint64_t hk_log_misuse;	/* enum hk_misuse */
#ifdef HAKMEM_DEBUG_LOG
extern uint64_t hk_log_mask;	/* HK_LOG_* bits */
#endif

/* Format into buf (always NUL-terminated); returns the length written. */
size_t hk_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t hk_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write all of buf to fd, retrying on EINTR; errno is preserved. */
void hk_write_all(int fd, const char *buf, size_t len);

/* One line "hakmem: <message>\n" on stderr. */
void hk_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Detected heap misuse (a bad pointer passed to free, a double free): one
 * line on stderr, then abort() unless hk_log_misuse is HK_MISUSE_REPORT, in
 * which case the caller skips the operation and goes on. */
__attribute__((cold, format(printf, 1, 2))) void hk_misuse(const char *fmt, ...);

/* Heap corruption the engine cannot go on from: one line, then abort(). */
__attribute__((noreturn, cold, format(printf, 1, 2))) void
hk_fatal(const char *fmt, ...);

/* Debug logging exists only in builds configured with --enable-debug-log;
 * subsys is one of the HK_LOG_* bits, enabled at run time with HAKMEM_LOG
 * (hk_log_mask). In a release build the calls and their strings vanish. */
#ifdef HAKMEM_DEBUG_LOG
void hk_debug(unsigned subsys, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define HK_DEBUG(subsys, ...) \
	do { \
		if (HK_UNLIKELY(__atomic_load_n(&hk_log_mask, __ATOMIC_RELAXED) & (subsys))) \
			hk_debug((subsys), __VA_ARGS__); \
	} while (0)
#else
#define HK_DEBUG(subsys, ...) ((void)0)
#endif

#endif

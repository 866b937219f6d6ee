/* Messages without stdio: formatted into a stack buffer and written to
 * stderr with write(2), so that reporting never allocates.
 *
 * Formats understood: %s %c %d %u %ld %lu %zu %zd %llu %x %lx %zx %p %%.
 */
#ifndef HK_LOG_H
#define HK_LOG_H

#include "common.h"

#include <stdarg.h>

/* Format into buf (always NUL-terminated); returns the length written. */
size_t hk_vfmt(char *buf, size_t size, const char *fmt, va_list ap);
size_t hk_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write all of buf to fd, retrying on EINTR; errno is preserved. */
void hk_write_all(int fd, const char *buf, size_t len);

/* One line "hakmem: <message>\n" on stderr. */
void hk_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Heap misuse or corruption: one line on stderr, then abort(). */
__attribute__((noreturn, cold, format(printf, 1, 2))) void
hk_fatal(const char *fmt, ...);

/* Debug logging exists only in builds configured with --enable-debug-log. */
#ifdef HAKMEM_DEBUG_LOG
void hk_debug(const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define HK_DEBUG(subsys, ...) hk_debug((subsys), __VA_ARGS__)
#else
#define HK_DEBUG(subsys, ...) ((void)0)
#endif

#endif

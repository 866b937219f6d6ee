#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

uint64_t hk_log_misuse = HK_MISUSE_ABORT;
#ifdef HAKMEM_DEBUG_LOG
uint64_t hk_log_mask;
#endif

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_str(struct out *o, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put(o, *s++);
}

static void put_uint(struct out *o, unsigned long long v, unsigned base)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		put(o, tmp[--n]);
}

static void put_int(struct out *o, long long v)
{
	if (v < 0) {
		put(o, '-');
		put_uint(o, 0ULL - (unsigned long long)v, 10);
	} else {
		put_uint(o, (unsigned long long)v, 10);
	}
}

/* One conversion (after '%' and any width) into o; *fmtp is left on its
 * last character. One this formatter does not know is copied as written. */
static void convert(struct out *o, const char **fmtp, va_list *ap)
{
	const char *fmt = *fmtp;
	int longs = 0, sized = 0;
	while (*fmt == 'l') {
		longs++;
		fmt++;
	}
	if (*fmt == 'z') {
		sized = 1;
		fmt++;
	}
	switch (*fmt) {
	case 's':
		put_str(o, va_arg(*ap, const char *));
		break;
	case 'c':
		put(o, (char)va_arg(*ap, int));
		break;
	case 'd':
		if (sized)
			put_int(o, va_arg(*ap, ptrdiff_t));
		else if (longs)
			put_int(o, va_arg(*ap, long long));
		else
			put_int(o, va_arg(*ap, int));
		break;
	case 'u':
	case 'x':
		if (sized)
			put_uint(o, va_arg(*ap, size_t), *fmt == 'x' ? 16 : 10);
		else if (longs)
			put_uint(o, va_arg(*ap, unsigned long long), *fmt == 'x' ? 16 : 10);
		else
			put_uint(o, va_arg(*ap, unsigned), *fmt == 'x' ? 16 : 10);
		break;
	case 'p':
		put_str(o, "0x");
		put_uint(o, (uintptr_t)va_arg(*ap, void *), 16);
		break;
	case '%':
		put(o, '%');
		break;
	case '\0':
		fmt--;
		break;
	default:
		put(o, '%');
		put(o, *fmt);
		break;
	}
	*fmtp = fmt;
}

size_t hk_vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };
	va_list args;
	va_copy(args, ap);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		if (fmt[0] == '.' && fmt[1] == '*' && fmt[2] == 's') {
			int prec = va_arg(args, int);
			const char *s = va_arg(args, const char *);
			for (int i = 0; i < prec && s[i]; i++)
				put(&o, s[i]);
			fmt += 2;
			continue;
		}
		unsigned width = 0;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned)(*fmt++ - '0');
		/* Convert into a scratch buffer, then right-align in width. */
		char tmp[256];
		struct out t = { tmp, sizeof tmp, 0 };
		convert(&t, &fmt, &args);
		size_t len = t.len < sizeof tmp ? t.len : sizeof tmp - 1;
		for (size_t i = len; i < width; i++)
			put(&o, ' ');
		for (size_t i = 0; i < len; i++)
			put(&o, tmp[i]);
	}
	va_end(args);
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len < size ? o.len : (size ? size - 1 : 0);
}

size_t hk_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = hk_vfmt(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void hk_write_all(int fd, const char *buf, size_t len)
{
	int saved = errno;
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		buf += w;
		len -= (size_t)w;
	}
	errno = saved;
}

static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char line[512];
	size_t n = hk_fmt(line, sizeof line, "%s", prefix);
	n += hk_vfmt(line + n, sizeof line - n - 1, fmt, ap);
	line[n++] = '\n';
	hk_write_all(2, line, n);
}

void hk_message(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("hakmem: ", fmt, ap);
	va_end(ap);
}

void hk_misuse(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("hakmem: ", fmt, ap);
	va_end(ap);
	if (__atomic_load_n(&hk_log_misuse, __ATOMIC_RELAXED) == HK_MISUSE_ABORT)
		abort();
}

void hk_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("hakmem: ", fmt, ap);
	va_end(ap);
	abort();
}

#ifdef HAKMEM_DEBUG_LOG
void hk_debug(unsigned subsys, const char *fmt, ...)
{
	static const char *const names[] = { "os", "superslab", "pool", "thread", "large", "ctl" };
	char prefix[48];
	hk_fmt(prefix, sizeof prefix, "hakmem[%s]: ", names[__builtin_ctz(subsys)]);
	va_list ap;
	va_start(ap, fmt);
	vmessage(prefix, fmt, ap);
	va_end(ap);
}
#endif

#define _GNU_SOURCE
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"

#ifndef HAKMEM_CONF_FILE
#define HAKMEM_CONF_FILE "/etc/hakmem.conf"
#endif

struct hk_options hk_opt;

/* The legacy name HAKMEM_TINY_COUNTERS_DUMP also means stats_print. */
static const char legacy_counters_dump[] = "HAKMEM_TINY_COUNTERS_DUMP";

static bool word_eq(const char *text, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(text, word, len) == 0;
}

static int word_index(const char *const *words, const char *text, size_t len)
{
	for (int i = 0; words[i]; i++)
		if (word_eq(text, len, words[i]))
			return i;
	return -1;
}

bool hk_option_parse(const struct hk_option *o, const char *text, size_t len, uint64_t *out)
{
	if (o->type == HK_OPT_TEXT) {
		*out = len;
		return len < HK_OPT_TEXT_SIZE && !memchr(text, '\0', len);
	}
	if (len == 0)
		return false;
	switch (o->type) {
	case HK_OPT_TEXT:
		return false;
	case HK_OPT_BOOL:
		if (word_eq(text, len, "1") || word_eq(text, len, "true") ||
		    word_eq(text, len, "yes") || word_eq(text, len, "on")) {
			*out = 1;
			return true;
		}
		if (word_eq(text, len, "0") || word_eq(text, len, "false") ||
		    word_eq(text, len, "no") || word_eq(text, len, "off")) {
			*out = 0;
			return true;
		}
		return false;
	case HK_OPT_U64: {
		uint64_t v = 0;
		for (size_t i = 0; i < len; i++) {
			if (text[i] < '0' || text[i] > '9' || v > (UINT64_MAX - 9) / 10)
				return false;
			v = v * 10 + (uint64_t)(text[i] - '0');
		}
		if (v < o->min || v > o->max)
			return false;
		*out = v;
		return true;
	}
	case HK_OPT_WORD: {
		int i = word_index(o->words, text, len);
		if (i < 0)
			return false;
		*out = (uint64_t)i;
		return true;
	}
	case HK_OPT_LIST: {
		uint64_t mask = 0;
		size_t start = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i < len && text[i] != ',')
				continue;
			if (word_eq(text + start, i - start, "all")) {
				mask = ~(uint64_t)0;
			} else if (i > start) {
				int w = word_index(o->words, text + start, i - start);
				if (w < 0)
					return false;
				mask |= (uint64_t)1 << w;
			}
			start = i + 1;
		}
		*out = mask;
		return true;
	}
	}
	return false;
}

const char *hk_option_format(const struct hk_option *o, char *buf, size_t size)
{
	uint64_t v = __atomic_load_n(o->value, __ATOMIC_RELAXED);
	switch (o->type) {
	case HK_OPT_BOOL:
		hk_fmt(buf, size, "%s", v ? "true" : "false");
		break;
	case HK_OPT_U64:
		hk_fmt(buf, size, "%llu", (unsigned long long)v);
		break;
	case HK_OPT_WORD:
		hk_fmt(buf, size, "%s", o->words[v]);
		break;
	case HK_OPT_LIST: {
		size_t n = 0;
		buf[0] = '\0';
		for (int i = 0; o->words[i]; i++)
			if (v & ((uint64_t)1 << i))
				n += hk_fmt(buf + n, size - n, "%s%s", n ? "," : "", o->words[i]);
		break;
	}
	case HK_OPT_TEXT:
		hk_option_text(o, buf, size);
		break;
	}
	return buf;
}

int hk_option_set(const struct hk_option *o, uint64_t value)
{
	if (o->when == HK_OPT_BEFORE_USE && hk_stats_get(&hk_gstats.ss_created))
		return EAGAIN;
	__atomic_store_n(o->value, value, __ATOMIC_RELAXED);
	if (o->changed)
		o->changed();
	return 0;
}

/* Text values change rarely (ctl) and are read rarely (a report): an even
 * count means no writer; a writer makes it odd while it copies. */
static _Atomic unsigned text_seq;

void hk_option_set_text(const struct hk_option *o, const char *text, size_t len)
{
	char *dst = (char *)o->value;
	unsigned seq = atomic_load_explicit(&text_seq, memory_order_relaxed) & ~1u;
	while (!atomic_compare_exchange_weak(&text_seq, &seq, seq + 1))
		seq &= ~1u;
	for (size_t i = 0; i < len; i++)
		__atomic_store_n(&dst[i], text[i], __ATOMIC_RELAXED);
	__atomic_store_n(&dst[len], '\0', __ATOMIC_RELAXED);
	atomic_store_explicit(&text_seq, seq + 2, memory_order_release);
}

void hk_option_text(const struct hk_option *o, char *buf, size_t size)
{
	const char *src = (const char *)o->value;
	/* Bounded, in case a fork left a writer's odd count behind. */
	for (unsigned tries = 0;; tries++) {
		unsigned seq = atomic_load_explicit(&text_seq, memory_order_acquire);
		size_t i = 0;
		for (; i + 1 < size && i + 1 < HK_OPT_TEXT_SIZE; i++)
			if (!(buf[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED)))
				break;
		buf[i] = '\0';
		atomic_thread_fence(memory_order_acquire);
		if ((!(seq & 1) && atomic_load_explicit(&text_seq, memory_order_relaxed) == seq) ||
		    tries >= 1000)
			return;
	}
}

const struct hk_option *hk_option_find(const char *name)
{
	for (size_t i = 0; i < hk_options_count; i++)
		if (strcmp(hk_options[i].name, name) == 0)
			return &hk_options[i];
	return NULL;
}

/* Apply "name = value" from a source; complain about what is wrong and keep
 * the previous value. where names the source for the message. */
static void apply(const char *where, const char *name, size_t nlen, const char *val, size_t vlen)
{
	const struct hk_option *o = NULL;
	if (nlen > 4 && strncmp(name, "opt.", 4) == 0) {
		name += 4;
		nlen -= 4;
	}
	for (size_t i = 0; i < hk_options_count; i++)
		if (word_eq(name, nlen, hk_options[i].name))
			o = &hk_options[i];
	if (!o) {
		hk_message("%s: unknown setting '%.*s' ignored", where, (int)nlen, name);
		return;
	}
	uint64_t v;
	char cur[HK_OPT_TEXT_SIZE];
	/* HAKMEM_STATS=json: the exit report, as JSON. */
	if (o->value == &hk_opt.stats_print && word_eq(val, vlen, "json")) {
		__atomic_store_n(&hk_opt.stats_format, HK_STATS_JSON, __ATOMIC_RELAXED);
		val = "1";
		vlen = 1;
	}
	if (!hk_option_parse(o, val, vlen, &v)) {
		hk_message("%s: bad value '%.*s' for %s; keeping %s", where, (int)vlen, val,
			   o->name, hk_option_format(o, cur, sizeof cur));
		return;
	}
	if (o->type == HK_OPT_TEXT)
		hk_option_set_text(o, val, vlen);
	else
		__atomic_store_n(o->value, v, __ATOMIC_RELAXED);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse the settings file fd, path; read_file's work once the file is
 * open. Apart so that the buffer's 8 KiB of stack are used only when
 * there is a file: stack a process touches stays resident. */
static __attribute__((noinline)) void parse_file(int fd, const char *path, bool secure)
{
	struct stat st;
	char buf[8192];
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & S_IWOTH) &&
	    (st.st_uid == 0 || (!secure && st.st_uid == getuid())))
		n = read(fd, buf, sizeof buf);
	else
		hk_message("%s: ignored (not a regular file owned by root, or writable by others)",
			   path);
	close(fd);
	if (n < 0)
		return;
	if (n == (ssize_t)sizeof buf)
		hk_message("%s: only the first %zu bytes are read", path, sizeof buf);

	char where[300];
	const char *p = buf, *end = buf + n;
	for (unsigned line = 1; p < end; line++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		const char *e = eol ? eol : end;
		const char *hash = memchr(p, '#', (size_t)(e - p));
		if (hash)
			e = hash;
		while (p < e && is_space(*p))
			p++;
		while (e > p && is_space(e[-1]))
			e--;
		if (p < e) {
			hk_fmt(where, sizeof where, "%s:%u", path, line);
			const char *eq = memchr(p, '=', (size_t)(e - p));
			if (!eq) {
				hk_message("%s: expected 'name = value'", where);
			} else {
				const char *ne = eq, *v = eq + 1;
				while (ne > p && is_space(ne[-1]))
					ne--;
				while (v < e && is_space(*v))
					v++;
				apply(where, p, (size_t)(ne - p), v, (size_t)(e - v));
			}
		}
		p = next;
	}
}

static void read_file(const char *path, bool secure)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0)
		parse_file(fd, path, secure);
}

static void env_name(char *buf, size_t size, const char *name)
{
	size_t n = hk_fmt(buf, size, "HAKMEM_");
	for (; *name && n + 1 < size; name++)
		buf[n++] = (*name >= 'a' && *name <= 'z') ? (char)(*name - 'a' + 'A') : *name;
	buf[n] = '\0';
}

static void read_env_var(const struct hk_option *o, const char *var)
{
	const char *v = getenv(var);
	if (v)
		apply(var, o->name, strlen(o->name), v, strlen(v));
}

/* Names of the environment that are not settings: the file to read, the
 * prefix the test suite keeps for itself and the one of hakmem-preload. */
static bool env_known(const char *var, size_t len)
{
	if (word_eq(var, len, "HAKMEM_CONF") || word_eq(var, len, legacy_counters_dump) ||
	    (len > 12 && strncmp(var, "HAKMEM_TEST_", 12) == 0) ||
	    (len > 15 && strncmp(var, "HAKMEM_PRELOAD_", 15) == 0))
		return true;
	for (size_t i = 0; i < hk_options_count; i++) {
		char name[64];
		env_name(name, sizeof name, hk_options[i].name);
		if (word_eq(var, len, name) ||
		    (hk_options[i].alias && word_eq(var, len, hk_options[i].alias)))
			return true;
	}
	return false;
}

static void check_env_names(void)
{
	for (char **e = environ; e && *e; e++) {
		if (strncmp(*e, "HAKMEM_", 7) != 0)
			continue;
		const char *eq = strchr(*e, '=');
		size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
		if (!env_known(*e, len))
			hk_message("%.*s: unknown setting ignored", (int)len, *e);
	}
}

void hk_options_init(void)
{
	for (size_t i = 0; i < hk_options_count; i++) {
		const struct hk_option *o = &hk_options[i];
		if (o->type == HK_OPT_TEXT)
			hk_option_set_text(o, o->def_text, strlen(o->def_text));
		else
			__atomic_store_n(o->value, o->def, __ATOMIC_RELAXED);
	}
	bool secure = getauxval(AT_SECURE) != 0;
	const char *conf = secure ? NULL : getenv("HAKMEM_CONF");
	read_file(conf && *conf ? conf : HAKMEM_CONF_FILE, secure);
	if (secure)
		return;
	for (size_t i = 0; i < hk_options_count; i++) {
		const struct hk_option *o = &hk_options[i];
		char var[64];
		if (o->alias)
			read_env_var(o, o->alias);
		if (o->value == &hk_opt.stats_print)
			read_env_var(o, legacy_counters_dump);
		env_name(var, sizeof var, o->name);
		read_env_var(o, var);
	}
	check_env_names();
}

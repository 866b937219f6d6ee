/* check.h - small helpers shared by the hakmem test programs.
 *
 * Why not DejaGnu's own <dejagnu.h>: its pass(), fail() and note() write
 * through stdio (printf), so a line can wait in a buffer when a test
 * aborts or is killed, interleave with another thread's, or come out twice
 * after fork() -- and these programs fork, run threads and abort on
 * purpose.  So this file re-creates the part of it they need (the PASS and
 * FAIL lines, the totals as the exit status), with one write(2) per line.
 *
 * Include this header FIRST in every test program (it defines _GNU_SOURCE).
 * The C++ test programs (*.cc) include it too: keep it valid C++ as well
 * (a void * is converted with a cast).
 *
 * Output protocol (read by tests/lib/hakmem.exp): one line per check,
 * "PASS: <name>" or "FAIL: <name>", written with a single write(2) to
 * stdout, so lines are never buffered, never interleaved between threads and
 * never duplicated across fork().  CHECK(cond, fmt, ...) formats the name;
 * measured values belong in a final "(...)" group, which is kept out of the
 * name and shown on a "note:" line after a FAIL, so names are stable from
 * run to run.  Informational lines start with "note: " (hk_note()).
 * A program ends with "return hk_done();", which exits 0 only when at least
 * one check ran and none failed.
 *
 * Also here: hk_quick() (HAKMEM_TEST_QUICK=1, the Valgrind pass),
 * hk_under_valgrind(), a deterministic RNG, address-keyed fill/verify
 * patterns, RSS / mapping counts from /proc, hakmem_ctl() stat readers, and
 * expect_abort() for misuse tests.
 *
 * Everything is static inline, so a program pulls in only what it uses.
 * The hakmem_ctl() helpers resolve the symbol at run time with dlsym(), so
 * they work in programs linked with hakmem, in programs run under LD_PRELOAD,
 * and (reporting "not available") against plain glibc.
 */
#ifndef HAKMEM_TEST_CHECK_H
#define HAKMEM_TEST_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "count_lines.h"

/* ------------------------------------------------------------------ */
/* Output and counters                                                  */
/* ------------------------------------------------------------------ */

static unsigned long hk_n_checks;	/* updated atomically */
static unsigned long hk_n_failed;

static inline void hk_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += w;
		len -= (size_t)w;
	}
}

/* Print an informational line, "note: ...", with one write(2): no heap
 * allocation, errno preserved, newlines in the message become spaces. */
__attribute__((format(printf, 1, 2)))
static inline void hk_note(const char *fmt, ...)
{
	char buf[1024];
	int saved = errno, r;
	size_t n;
	va_list ap;

	memcpy(buf, "note: ", 6);
	va_start(ap, fmt);
	r = vsnprintf(buf + 6, sizeof buf - 7, fmt, ap);
	va_end(ap);
	n = 6 + (r < 0 ? 0 : (size_t)r < sizeof buf - 7 ? (size_t)r
							: sizeof buf - 8);
	for (size_t i = 6; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	hk_write_all(STDOUT_FILENO, buf, n);
	errno = saved;
}

/* Split "name (details)" at the " (" that opens the final parenthesized
 * group; returns the index of the space, or len if there is no such group. */
static inline size_t hk_split_details(const char *msg, size_t len)
{
	int depth = 0;
	if (len < 3 || msg[len - 1] != ')')
		return len;
	for (size_t i = len; i-- > 0;) {
		if (msg[i] == ')')
			depth++;
		else if (msg[i] == '(' && --depth == 0)
			return (i > 0 && msg[i - 1] == ' ') ? i - 1 : len;
	}
	return len;
}

/* Prints "PASS: name" or "FAIL: name".  Measured values go in a final
 * parenthesized group, "name (details)": they are left out of the PASS/FAIL
 * line, so that the name of a check (what DejaGnu records) is the same from
 * run to run and for pass and fail; after a FAIL, a "note:" line gives the
 * source location and the details. */
__attribute__((format(printf, 4, 5)))
static inline bool hk_check_impl(bool ok, const char *file, int line,
				 const char *fmt, ...)
{
	char msg[900], out[1200];
	va_list ap;
	int saved = errno, r;
	size_t len, cut, n;

	__atomic_add_fetch(&hk_n_checks, 1, __ATOMIC_RELAXED);
	if (!ok)
		__atomic_add_fetch(&hk_n_failed, 1, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	r = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	len = r < 0 ? 0 : (size_t)r < sizeof msg ? (size_t)r : sizeof msg - 1;
	msg[len] = '\0';
	for (size_t i = 0; i < len; i++)	/* one check, one line */
		if (msg[i] == '\n')
			msg[i] = ' ';
	cut = hk_split_details(msg, len);
	r = snprintf(out, sizeof out, "%s: %.*s\n", ok ? "PASS" : "FAIL",
		     (int)cut, msg);
	n = r < 0 ? 0 : (size_t)r < sizeof out ? (size_t)r : sizeof out - 1;
	if (!ok) {
		const char *base = strrchr(file, '/');
		r = snprintf(out + n, sizeof out - n, "note:   at %s:%d %s\n",
			     base ? base + 1 : file, line,
			     cut < len ? msg + cut + 1 : "");
		n += r < 0 ? 0 : (size_t)r < sizeof out - n ? (size_t)r
							      : sizeof out - n - 1;
	}
	hk_write_all(STDOUT_FILENO, out, n);
	errno = saved;
	return ok;
}

/* CHECK(cond, fmt, ...): record and print one check; evaluates to cond. */
#define CHECK(cond, ...) \
	hk_check_impl(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Unconditional failure with a message. */
#define FAILED(...) CHECK(0, __VA_ARGS__)

/* Print the summary; returns the exit status for main(). */
static inline int hk_done(void)
{
	unsigned long n = __atomic_load_n(&hk_n_checks, __ATOMIC_RELAXED);
	unsigned long f = __atomic_load_n(&hk_n_failed, __ATOMIC_RELAXED);

	hk_note("%lu checks, %lu failed", n, f);
	if (n == 0) {
		hk_check_impl(false, __FILE__, __LINE__,
			      "program ran at least one check");
		return 1;
	}
	return f == 0 ? 0 : 1;
}

static inline unsigned long hk_failures(void)
{
	return __atomic_load_n(&hk_n_failed, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------ */
/* Environment                                                          */
/* ------------------------------------------------------------------ */

/* True when HAKMEM_TEST_QUICK=1 (valgrind pass): shrink the work. */
static inline bool hk_quick(void)
{
	const char *s = getenv("HAKMEM_TEST_QUICK");
	return s && strcmp(s, "1") == 0;
}

/* full normally, quick under HAKMEM_TEST_QUICK=1. */
static inline long hk_scale(long full, long quick)
{
	return hk_quick() ? quick : full;
}

/* True when running under valgrind (its preload objects are in LD_PRELOAD).
 * RSS and mapping counts then include valgrind's own memory. */
static inline bool hk_under_valgrind(void)
{
	const char *s = getenv("LD_PRELOAD");
	return s && strstr(s, "vgpreload") != NULL;
}

/* True when the program was compiled with AddressSanitizer,
 * ThreadSanitizer or MemorySanitizer (tools/check-sanitizers). RSS and
 * mapping counts then include the sanitizer's shadow memory. */
static inline bool hk_under_sanitizer(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

/* ------------------------------------------------------------------ */
/* Optimizer barriers                                                   */
/* ------------------------------------------------------------------ */

/* Hide a pointer's provenance from the compiler, so that it can neither
 * fold checks on malloc results nor warn about deliberate misuse. */
static inline void *hk_launder(void *p)
{
	__asm__ volatile("" : "+r"(p));
	return p;
}

/* Same for a size, so that huge constant requests don't trigger
 * -Walloc-size-larger-than and aren't folded. */
static inline size_t hk_size(size_t n)
{
	__asm__ volatile("" : "+r"(n));
	return n;
}

#define HK_PTRDIFF_MAX_PLUS_1 ((size_t)PTRDIFF_MAX + 1)

/* ------------------------------------------------------------------ */
/* Time and random numbers                                              */
/* ------------------------------------------------------------------ */

static inline double hk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void hk_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* xorshift64* - deterministic per-thread RNG. */
typedef struct {
	uint64_t s;
} hk_rng;

static inline void hk_rng_seed(hk_rng *r, uint64_t seed)
{
	/* splitmix64 step so that small seeds give good states */
	uint64_t z = seed + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

static inline uint64_t hk_rng_next(hk_rng *r)
{
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi] (inclusive). */
static inline uint64_t hk_rng_range(hk_rng *r, uint64_t lo, uint64_t hi)
{
	return lo + (hk_rng_next(r) >> 11) % (hi - lo + 1);
}

/* Roughly log-uniform in [lo, hi]: many small sizes, some big ones. */
static inline size_t hk_rng_logsize(hk_rng *r, size_t lo, size_t hi)
{
	unsigned lo_bits = 63u - (unsigned)__builtin_clzll(lo | 1);
	unsigned hi_bits = 63u - (unsigned)__builtin_clzll(hi | 1);
	unsigned b = (unsigned)hk_rng_range(r, lo_bits, hi_bits);
	uint64_t top = (2ull << b) - 1;
	uint64_t bot = 1ull << b;
	uint64_t v = hk_rng_range(r, bot, top);
	if (v < lo)
		v = lo;
	if (v > hi)
		v = hi;
	return (size_t)v;
}

/* ------------------------------------------------------------------ */
/* Patterns                                                             */
/* ------------------------------------------------------------------ */

/* Patterns: byte i of a block holds byte (i % 8) of the 64-bit word
 * seed ^ (i / 8) * K, so any prefix of a filled block can be verified with
 * the same seed (useful after realloc).  hk_fill/hk_verify derive the seed
 * from (address, size, salt), which also catches blocks handed out twice. */
static inline uint64_t hk_pattern_seed(const void *p, size_t n, uint64_t salt)
{
	uint64_t z = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
	z ^= (uint64_t)n * 0xC2B2AE3D27D4EB4Full;
	z ^= salt * 0x165667B19E3779F9ull;
	return z ^ (z >> 29);
}

#define HK_PATTERN_K 0xD6E8FEB86659FD93ull

static inline void hk_fill_seed(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = (unsigned char *)p;
	size_t words = n / 8, i;
	uint64_t v;

	for (i = 0; i < words; i++) {
		v = seed ^ ((uint64_t)i * HK_PATTERN_K);
		memcpy(b + i * 8, &v, 8);
	}
	if (n % 8) {
		v = seed ^ ((uint64_t)words * HK_PATTERN_K);
		memcpy(b + words * 8, &v, n % 8);
	}
}

/* Offset of the first byte of p[0..n) that differs from the pattern, or
 * -1 if intact. */
static inline long hk_verify_seed(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t words = n / 8, i;
	uint64_t v, w;

	for (i = 0; i < words; i++) {
		v = seed ^ ((uint64_t)i * HK_PATTERN_K);
		memcpy(&w, b + i * 8, 8);
		if (w != v)
			break;
	}
	if (i == words && n % 8 == 0)
		return -1;
	/* mismatch in word i, or check the tail */
	v = seed ^ ((uint64_t)i * HK_PATTERN_K);
	{
		const unsigned char *vb = (const unsigned char *)&v;
		size_t len = i * 8 + 8 <= n ? 8 : n - i * 8;
		for (size_t k = 0; k < len; k++)
			if (b[i * 8 + k] != vb[k])
				return (long)(i * 8 + k);
	}
	return -1;
}

static inline void hk_fill(void *p, size_t n, uint64_t salt)
{
	hk_fill_seed(p, n, hk_pattern_seed(p, n, salt));
}

static inline long hk_verify(const void *p, size_t n, uint64_t salt)
{
	return hk_verify_seed(p, n, hk_pattern_seed(p, n, salt));
}

/* True if all n bytes at p are zero. */
static inline bool hk_all_zero(const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		if (w)
			return false;
	}
	for (; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* Process memory                                                       */
/* ------------------------------------------------------------------ */

/* Read a small /proc file into buf without using the heap. */
static inline ssize_t hk_read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	if (fd < 0)
		return -1;
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, len - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	return (ssize_t)n;
}

/* Current resident set size in KiB (from /proc/self/statm), -1 on error. */
static inline long hk_rss_kb(void)
{
	char buf[256];
	unsigned long size, resident;
	if (hk_read_small("/proc/self/statm", buf, sizeof buf) <= 0)
		return -1;
	if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
		return -1;
	return (long)(resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024);
}

/* Current virtual size in bytes (first field of /proc/self/statm). */
static inline long long hk_vsize_bytes(void)
{
	char buf[256];
	unsigned long size;
	if (hk_read_small("/proc/self/statm", buf, sizeof buf) <= 0)
		return -1;
	if (sscanf(buf, "%lu", &size) != 1)
		return -1;
	return (long long)size * sysconf(_SC_PAGESIZE);
}

/* Peak RSS in KiB (getrusage ru_maxrss). */
static inline long hk_peak_rss_kb(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return ru.ru_maxrss;
}

/* Number of lines of /proc/self/maps (i.e. of mappings), -1 on error. */
static inline long hk_maps_count(void)
{
	return hk_count_lines("/proc/self/maps");
}

/* Free a list of blocks chained through their first word, as the tests
 * that fill memory keep what they got: in the blocks themselves. */
static inline void hk_free_chain(void *head)
{
	while (head) {
		void *next = *(void **)head;
		free(head);
		head = next;
	}
}

/* ------------------------------------------------------------------ */
/* hakmem_ctl() access                                                  */
/* ------------------------------------------------------------------ */

typedef int (*hk_ctl_fn)(const char *, void *, size_t *, const void *,
			 size_t);

/* hakmem_ctl as found in the process (linked or preloaded), or NULL. */
static inline hk_ctl_fn hk_ctl(void)
{
	static hk_ctl_fn fn;
	static int looked;
	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
		void *sym = dlsym(RTLD_DEFAULT, "hakmem_ctl");
		memcpy(&fn, &sym, sizeof fn);
		__atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
	}
	return fn;
}

static inline bool hk_have_ctl(void)
{
	return hk_ctl() != NULL;
}

/* Read a uint64_t stat; returns false (and leaves *val alone) on error. */
static inline bool hk_stat(const char *name, uint64_t *val)
{
	hk_ctl_fn fn = hk_ctl();
	uint64_t v = 0;
	size_t len = sizeof v;
	if (!fn)
		return false;
	if (fn(name, &v, &len, NULL, 0) != 0 || len != sizeof v)
		return false;
	*val = v;
	return true;
}

/* Read a stat that the test needs: a failure to read it is a FAIL. */
static inline uint64_t hk_stat_req(const char *name)
{
	uint64_t v = 0;
	if (!hk_stat(name, &v)) {
		hk_check_impl(false, __FILE__, __LINE__,
			      "hakmem_ctl(\"%s\") readable%s", name,
			      hk_have_ctl() ? "" : " (hakmem_ctl not found)");
		return 0;
	}
	return v;
}

/* Whether the VmFlags of the mapping holding p include flag ("hg", "nh");
 * -1 if smaps has no mapping for it. */
static inline int hk_vm_flag(const void *p, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], want[8];
	int in = 0, found = -1;
	uintptr_t a = (uintptr_t)p;
	if (!f)
		return -1;
	snprintf(want, sizeof want, " %s", flag);
	while (fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= lo && a < hi;
			continue;
		}
		if (in && strncmp(line, "VmFlags:", 8) == 0) {
			found = strstr(line, want) != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

/* hakmem keeps free memory for reuse for about opt.purge_decay_ms and
 * gives it back on a later allocation slow path. For a test that checks
 * that memory came back: wait two decay times, then make malloc run its
 * slow path (nine blocks of the largest small class, four to a slab, use
 * up at least one slab). */
static inline void hk_settle(void)
{
	void *v[9];
	uint64_t decay = hk_stat_req("opt.purge_decay_ms");

	hk_sleep_ms((long)(2 * decay + 10));
	for (int i = 0; i < 9; i++)
		v[i] = malloc(128 * 1024);
	for (int i = 0; i < 9; i++)
		free(v[i]);
}

/* ------------------------------------------------------------------ */
/* Expected aborts                                                      */
/* ------------------------------------------------------------------ */

/* Does line contain a hex number (with or without 0x, any zero padding)
 * equal to want? */
static inline bool hk_line_has_hex(const char *line, uint64_t want)
{
	const char *s = line;
	while (*s) {
		const char *start = s;
		uint64_t v = 0;
		int digits = 0;
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			s += 2;
		while (*s && strchr("0123456789abcdefABCDEF", *s)) {
			int d = *s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10;
			v = v * 16 + (uint64_t)d;
			digits++;
			s++;
		}
		if (digits > 0 && digits <= 16 && v == want)
			return true;
		if (s == start)
			s++;
	}
	return false;
}

/* Copy the next line of *text (without its newline, cut to size - 1
 * bytes) into buf and move *text past it; false when no line is left. */
static inline bool hk_next_line(const char **text, char *buf, size_t size)
{
	const char *line = *text;
	if (!*line)
		return false;
	const char *end = strchr(line, '\n');
	size_t len = end ? (size_t)(end - line) : strlen(line);
	*text = end ? end + 1 : line + len;
	if (len >= size)
		len = size - 1;
	memcpy(buf, line, len);
	buf[len] = '\0';
	return true;
}

/* Does a line of out contain both "hakmem:" and needle?  If needle is a
 * "0x..." number, any hex spelling of the same value also matches. */
static inline bool hk_output_matches(const char *out, const char *needle)
{
	bool is_hex = needle[0] == '0' && (needle[1] == 'x' || needle[1] == 'X');
	uint64_t want = is_hex ? strtoull(needle, NULL, 16) : 0;
	char buf[1024];

	while (hk_next_line(&out, buf, sizeof buf))
		if (strstr(buf, "hakmem:") &&
		    (strstr(buf, needle) ||
		     (is_hex && hk_line_has_hex(strstr(buf, "hakmem:"), want))))
			return true;
	return false;
}

#define expect_abort(fn, arg, substr) \
	hk_expect_abort(#fn, (fn), (arg), (substr))

/* ------------------------------------------------------------------ */
/* Children with their stderr captured                                 */
/* ------------------------------------------------------------------ */

/* How a child run by hk_run_child() ended, and what it wrote to stderr. */
struct hk_child {
	int status;		/* waitpid() status */
	bool timed_out;		/* killed after the deadline */
	bool ran;		/* fork() and pipe() worked */
	double seconds;
	char err[16384];	/* its stderr, NUL-terminated (may be cut) */
};

/* Run fn(arg) in a forked child whose stderr goes to a pipe (stdout stays
 * shared, so the child's own CHECK lines count); the child _exit()s with
 * 1 if any of its own checks failed, else 0, when fn returns. Killed after
 * `seconds`. No core dumps. */
static inline void hk_run_child(void (*fn)(void *), void *arg, double seconds,
				struct hk_child *c)
{
	int pfd[2];
	size_t got = 0;
	double start = hk_now(), deadline = start + seconds;
	pid_t pid;

	memset(c, 0, offsetof(struct hk_child, err) + 1);
	c->err[0] = '\0';
	fflush(NULL);
	if (pipe(pfd) != 0)
		return;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };
		unsigned long failed_before = hk_failures();
		setrlimit(RLIMIT_CORE, &nocore);
		signal(SIGABRT, SIG_DFL);
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		close(pfd[1]);
		fn(arg);
		_exit(hk_failures() > failed_before ? 1 : 0);
	}
	c->ran = true;
	close(pfd[1]);
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int ms = (int)((deadline - hk_now()) * 1000);
		if (ms <= 0) {
			c->timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		int r = poll(&p, 1, ms);
		if (r <= 0)
			continue;
		ssize_t n = read(pfd[0], c->err + got, sizeof c->err - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof c->err - 1) {
			char sink[512];	/* keep draining */
			while (read(pfd[0], sink, sizeof sink) > 0)
				;
			break;
		}
	}
	c->err[got] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->seconds = hk_now() - start;
}

/* "exited 0", "exited 3", "killed by signal 6 (Aborted)", "timed out". */
static inline const char *hk_child_how(const struct hk_child *c, char *buf,
				       size_t len)
{
	if (!c->ran)
		snprintf(buf, len, "could not be started");
	else if (c->timed_out)
		snprintf(buf, len, "timed out");
	else if (WIFSIGNALED(c->status))
		snprintf(buf, len, "killed by signal %d (%s)",
			 WTERMSIG(c->status), strsignal(WTERMSIG(c->status)));
	else
		snprintf(buf, len, "exited %d", WEXITSTATUS(c->status));
	return buf;
}

static inline bool hk_child_exited0(const struct hk_child *c)
{
	return c->ran && !c->timed_out && WIFEXITED(c->status) &&
	       WEXITSTATUS(c->status) == 0;
}

static inline bool hk_child_aborted(const struct hk_child *c)
{
	return c->ran && !c->timed_out && WIFSIGNALED(c->status) &&
	       WTERMSIG(c->status) == SIGABRT;
}

/* This program's path (to run itself again) in buf; false, and "", when
 * /proc/self/exe cannot be read. */
static inline bool hk_self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0;
}

/* What hk_exec_capture() saw: the program's stdout and stderr
 * (NUL-terminated, cut at their size) and its waitpid() status. */
struct hk_exec {
	char out[16384], err[16384];
	int status;
};

/* Run exe with the one argument arg and exactly the environment env (a
 * NULL-terminated "NAME=VALUE" list), as the user as_user unless that is
 * 0, and wait for it.  For a test that runs itself (/proc/self/exe) in a
 * fresh process: its settings are read once, at start-up. */
static inline void hk_exec_capture(struct hk_exec *r, const char *exe,
				   const char *arg, const char *const *env,
				   uid_t as_user)
{
	int out[2], err[2];
	memset(r, 0, sizeof *r);
	if (pipe(out) || pipe(err))
		abort();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (as_user && setuid(as_user) != 0)
			_exit(99);
		char *argv[] = { (char *)exe, (char *)arg, NULL };
		execve(exe, argv, (char **)env);
		_exit(98);
	}
	close(out[1]);
	close(err[1]);
	size_t no = 0, ne = 0;
	ssize_t n;
	while ((n = read(out[0], r->out + no, sizeof r->out - 1 - no)) > 0)
		no += (size_t)n;
	while ((n = read(err[0], r->err + ne, sizeof r->err - 1 - ne)) > 0)
		ne += (size_t)n;
	close(out[0]);
	close(err[0]);
	waitpid(pid, &r->status, 0);
}

/* How a program hk_exec_capture() ran ended: killed by SIGABRT; by
 * SIGSEGV; with status 0 and no "hakmem:" line on its stderr. */
static inline bool hk_exec_aborted(const struct hk_exec *r)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT;
}

static inline bool hk_exec_faulted(const struct hk_exec *r)
{
	return WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGSEGV;
}

static inline bool hk_exec_clean(const struct hk_exec *r)
{
	return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0 && !strstr(r->err, "hakmem:");
}

/* Run fn(arg) in a forked child whose stderr goes to a pipe; check that the
 * child is killed by SIGABRT and wrote a line containing "hakmem:" and
 * substr.  Records two checks; returns true if both passed. */
static inline bool hk_expect_abort(const char *what, void (*fn)(void *),
				   void *arg, const char *substr)
{
	struct hk_child c;
	char how[96];

	hk_run_child(fn, arg, 30.0, &c);
	bool aborted = hk_child_aborted(&c);
	if (!aborted)
		hk_note("%s: child %s", what, hk_child_how(&c, how, sizeof how));
	bool ok1 = CHECK(aborted, "%s: child died of SIGABRT", what);
	bool matched = hk_output_matches(c.err, substr);
	if (!matched)
		hk_note("%s: child stderr was: \"%.400s\"", what, c.err);
	bool ok2 = CHECK(matched,
			 "%s: stderr has a \"hakmem:\" line with the expected "
			 "text (\"%s\")", what, substr);
	return ok1 && ok2;
}

/* Number of lines of out that contain "hakmem:"; of those, *matching (if
 * not NULL) gets the number that also contain every one of the NULL-ended
 * strings after `matching` (a "0x..." string also matches any other hex
 * spelling of the same number, as in hk_output_matches()). */
static inline int hk_hakmem_lines(const char *out, int *matching, ...)
{
	int lines = 0, match = 0;
	char buf[1024];

	while (hk_next_line(&out, buf, sizeof buf)) {
		if (strstr(buf, "hakmem:")) {
			bool all = true;
			va_list ap;
			const char *needle;
			lines++;
			va_start(ap, matching);
			while ((needle = va_arg(ap, const char *)) != NULL)
				if (!hk_output_matches(buf, needle))
					all = false;
			va_end(ap);
			match += all;
		}
	}
	if (matching)
		*matching = match;
	return lines;
}

/* Set a hakmem_ctl() string option (e.g. "opt.misuse" to "report");
 * returns hakmem_ctl()'s result, or ENOSYS without hakmem. */
static inline int hk_set_str(const char *name, const char *value)
{
	hk_ctl_fn fn = hk_ctl();
	return fn ? fn(name, NULL, NULL, &value, sizeof value) : ENOSYS;
}

/* Set a hakmem_ctl() u64 option; returns hakmem_ctl()'s result. */
static inline int hk_set_u64(const char *name, uint64_t value)
{
	hk_ctl_fn fn = hk_ctl();
	return fn ? fn(name, NULL, NULL, &value, sizeof value) : ENOSYS;
}

/* Carry out a hakmem_ctl() action ("trim", "thread.flush", "epoch" is
 * written with hk_set_u64). */
static inline int hk_action(const char *name)
{
	hk_ctl_fn fn = hk_ctl();
	return fn ? fn(name, NULL, NULL, NULL, 0) : ENOSYS;
}

/* ------------------------------------------------------------------ */
/* Misuse in both settings of opt.misuse                               */
/* ------------------------------------------------------------------ */

struct hk_misuse_call {
	void (*fn)(void *);
	void *arg;
	const char *mode;
};

static inline void hk_misuse_child(void *a)
{
	struct hk_misuse_call *m = (struct hk_misuse_call *)a;
	if (hk_set_str("opt.misuse", m->mode) != 0) {
		FAILED("hakmem_ctl(\"opt.misuse\", \"%s\")", m->mode);
		_exit(3);
	}
	m->fn(m->arg);
}

static inline void hk_show_stderr(const char *what, const struct hk_child *c)
{
	char how[96];
	hk_note("%s: child %s after %.1f s; its stderr: \"%.600s\"", what,
		hk_child_how(c, how, sizeof how), c->seconds, c->err);
}

/* fn(arg) commits one heap misuse (computing its pointers before the
 * fork, so that the parent knows them), then, when the program goes on
 * (report mode), checks that the bad call did nothing harmful.  Runs it
 * twice in a child:
 *   opt.misuse=abort:  the child dies of SIGABRT;
 *   opt.misuse=report: the child goes on and exits 0 (its own checks pass);
 * and each time stderr holds exactly one "hakmem:" line, containing every
 * one of `text` and `addr` (NULL: not checked).  Four checks. */
static inline bool hk_expect_misuse(const char *what, void (*fn)(void *),
				    void *arg, const char *text,
				    const char *addr)
{
	static const char *const modes[] = { "abort", "report" };
	bool ok = true;

	for (int i = 0; i < 2; i++) {
		struct hk_misuse_call call = { fn, arg, modes[i] };
		struct hk_child c;
		char how[96];
		int match = 0, lines;

		hk_run_child(hk_misuse_child, &call, 60, &c);
		lines = hk_hakmem_lines(c.err, &match, text, addr,
					(const char *)NULL);
		bool died = i == 0 ? hk_child_aborted(&c)
				   : hk_child_exited0(&c);
		bool said = lines == 1 && match == 1;
		if (!died || !said)
			hk_show_stderr(what, &c);
		ok &= CHECK(died, "%s: misuse=%s: %s (%s)", what, modes[i],
			    i == 0 ? "the program dies of SIGABRT"
				   : "the program goes on",
			    hk_child_how(&c, how, sizeof how));
		ok &= CHECK(said,
			    "%s: misuse=%s: one \"hakmem:\" line naming the "
			    "error and the address (%d lines, %d with \"%s\" "
			    "and %s)", what, modes[i], lines, match, text,
			    addr ? addr : "-");
	}
	return ok;
}

/* fn(arg) does something legitimate: the child exits 0 and hakmem says
 * nothing. Two checks. */
static inline bool hk_expect_quiet(const char *what, void (*fn)(void *),
				   void *arg)
{
	struct hk_misuse_call call = { fn, arg, "abort" };
	struct hk_child c;
	char how[96];

	hk_run_child(hk_misuse_child, &call, 60, &c);
	int lines = hk_hakmem_lines(c.err, NULL, (const char *)NULL);
	if (!hk_child_exited0(&c) || lines)
		hk_show_stderr(what, &c);
	bool a = CHECK(hk_child_exited0(&c), "%s: the program goes on (%s)",
		       what, hk_child_how(&c, how, sizeof how));
	bool b = CHECK(lines == 0, "%s: no \"hakmem:\" message (%d lines)",
		       what, lines);
	return a && b;
}

/* "0x..." for p, in one of `n` rotating static buffers. */
static inline const char *hk_hex(const void *p)
{
	static char bufs[8][32];
	static unsigned next;
	char *b = bufs[next++ % 8];
	snprintf(b, sizeof bufs[0], "0x%" PRIxPTR, (uintptr_t)p);
	return b;
}

#endif /* HAKMEM_TEST_CHECK_H */

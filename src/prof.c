#define _GNU_SOURCE
#include "prof.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hardened.h"
#include "lock.h"
#include "log.h"
#include "meta.h"
#include "options.h"
#include "os.h"
#include "tcache.h"
#include "vg.h"

#define HK_PROF_SAMPLES ((size_t)1 << 15)	/* tracked blocks (table slots) */
#define HK_PROF_MAX_LIVE (HK_PROF_SAMPLES / 4 * 3)
#define HK_PROF_STACKS ((size_t)1 << 12)
#define HK_PROF_DEPTH 48

struct prof_stack {
	uint64_t hash;
	bool used;
	uint32_t depth;		/* 0 when the unwinder found no frame of the program */
	uint64_t live_n, live_bytes, alloc_n, alloc_bytes;
	uintptr_t frames[HK_PROF_DEPTH];
};

struct prof_sample {
	_Atomic uintptr_t addr;	/* 0: slot unused */
	size_t size;
	uint32_t stack;
};

bool hk_prof_hooked;

/* Tables: changed under prof_lock. Frees look a pointer up without the
 * lock (almost every free is of a block that was not sampled), inside a
 * sequence count that every change makes odd while it lasts. */
static hk_lock_t prof_lock = HK_LOCK_INIT;
static _Atomic uint32_t prof_seq;
static struct prof_sample *samples;
static struct prof_stack *stacks;
static _Atomic uint64_t live_samples, dropped;

/* on and the session generation: a thread whose gen differs sets its
 * fast-path heap on its next slow-path call. */
static _Atomic bool prof_on;
static _Atomic uint32_t prof_gen;
static _Atomic uint64_t dump_seq;
static _Atomic uint64_t last_dump_ms;

struct prof_thread {
	int64_t until;		/* bytes to allocate before the next sample */
	uint64_t rng;
	uint32_t gen;
	bool busy;		/* in the profiler: allocations are not sampled */
};
static __thread struct prof_thread prof_tls __attribute__((tls_model("initial-exec")));

/* The first and last byte of this library, to leave its own frames out of
 * the recorded stacks. (libhakmem is a shared object only; linked into a
 * program, as the sanitizer tests link the engine, these would span the
 * whole program and stacks would come out empty.) */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char _end[] __attribute__((visibility("hidden")));

/* --- Sampling intervals. ------------------------------------------------ */

static uint64_t next_random(struct prof_thread *t)
{
	if (!t->rng)
		t->rng = ((uintptr_t)t ^ hk_os_now_ms() * 0x9e3779b97f4a7c15ull) | 1;
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545f4914f6cdd1dull;
}

/* Natural logarithm of x in (0, 1], without libm: x = m * 2^e with m in
 * [1, 2), ln m = 2 atanh((m - 1) / (m + 1)) by its series (|z| <= 1/3,
 * error below 1e-6, far below what sampling needs). */
static double ln(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);
	double z = (v.d - 1) / (v.d + 1), z2 = z * z;
	double s = z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 * (1.0 / 9)))));
	return e * 0.6931471805599453 + 2 * s;
}

/* Bytes to the next sample: exponentially distributed with mean
 * prof_sample, which makes the sampling points a Poisson process over the
 * bytes allocated (what google-pprof's heap_v2 scaling assumes). */
static int64_t next_interval(struct prof_thread *t)
{
	double u = (double)((next_random(t) >> 11) + 1) / (double)((uint64_t)1 << 53);
	double n = -ln(u) * (double)HK_OPT(prof_sample);
	return n < 1 ? 1 : n > 9e18 ? INT64_MAX : (int64_t)n;
}

/* --- The tables. -------------------------------------------------------- */

static size_t sample_home(uintptr_t a)
{
	return (size_t)(((a >> 4) * 0x9e3779b97f4a7c15ull) >> 49) & (HK_PROF_SAMPLES - 1);
}

static void write_begin(void)
{
	atomic_store_explicit(&prof_seq, atomic_load_explicit(&prof_seq, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

static void write_end(void)
{
	atomic_store_explicit(&prof_seq, atomic_load_explicit(&prof_seq, memory_order_relaxed) + 1,
			      memory_order_release);
}

/* Slot of a, or SIZE_MAX (prof_lock held, or inside a read section). */
static size_t sample_find(uintptr_t a)
{
	for (size_t i = sample_home(a);; i = (i + 1) & (HK_PROF_SAMPLES - 1)) {
		uintptr_t x = atomic_load_explicit(&samples[i].addr, memory_order_relaxed);
		if (x == a)
			return i;
		if (!x)
			return SIZE_MAX;
	}
}

/* Remove slot i, moving later entries of its probe run back so that no
 * lookup stops early (prof_lock held, in a write section). */
static void sample_remove(size_t i)
{
	struct prof_sample *s = &samples[i];
	struct prof_stack *st = &stacks[s->stack];
	st->live_n--;
	st->live_bytes -= s->size;
	atomic_fetch_sub_explicit(&live_samples, 1, memory_order_relaxed);
	for (size_t j = i;;) {
		j = (j + 1) & (HK_PROF_SAMPLES - 1);
		uintptr_t a = atomic_load_explicit(&samples[j].addr, memory_order_relaxed);
		if (!a)
			break;
		size_t k = sample_home(a);
		if (j > i ? (k <= i || k > j) : (k <= i && k > j)) {
			samples[i].size = samples[j].size;
			samples[i].stack = samples[j].stack;
			atomic_store_explicit(&samples[i].addr, a, memory_order_relaxed);
			i = j;
		}
	}
	atomic_store_explicit(&samples[i].addr, 0, memory_order_relaxed);
}

static uint64_t stack_hash(const uintptr_t *f, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ n;
	for (size_t i = 0; i < n; i++)
		h = (h ^ f[i]) * 0x100000001b3ull;
	return h;
}

/* Index of the stack f[0..n), added if new; SIZE_MAX if the table is full
 * (prof_lock held). */
static size_t stack_find(const uintptr_t *f, size_t n)
{
	uint64_t h = stack_hash(f, n);
	size_t i = (size_t)(h >> 52) & (HK_PROF_STACKS - 1);
	for (size_t probes = 0; probes < HK_PROF_STACKS; probes++, i = (i + 1) & (HK_PROF_STACKS - 1)) {
		struct prof_stack *st = &stacks[i];
		if (!st->used) {
			st->used = true;
			st->hash = h;
			st->depth = (uint32_t)n;
			memcpy(st->frames, f, n * sizeof *f);
			return i;
		}
		if (st->hash == h && st->depth == n && memcmp(st->frames, f, n * sizeof *f) == 0)
			return i;
	}
	return SIZE_MAX;
}

static void record(void *p, size_t size, const uintptr_t *f, size_t n)
{
	uintptr_t a = (uintptr_t)p;
	hk_lock(&prof_lock);
	size_t si = stack_find(f, n);
	if (si == SIZE_MAX ||
	    atomic_load_explicit(&live_samples, memory_order_relaxed) >= HK_PROF_MAX_LIVE) {
		hk_unlock(&prof_lock);
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return;
	}
	write_begin();
	/* A block of an old sample freed where no hook saw it (a thread
	 * still on its fast paths when the profiler came on). */
	size_t old = sample_find(a);
	if (old != SIZE_MAX)
		sample_remove(old);
	size_t i = sample_home(a);
	while (atomic_load_explicit(&samples[i].addr, memory_order_relaxed))
		i = (i + 1) & (HK_PROF_SAMPLES - 1);
	samples[i].size = size;
	samples[i].stack = (uint32_t)si;
	atomic_store_explicit(&samples[i].addr, a, memory_order_relaxed);
	write_end();
	struct prof_stack *st = &stacks[si];
	st->live_n++;
	st->live_bytes += size;
	st->alloc_n++;
	st->alloc_bytes += size;
	atomic_fetch_add_explicit(&live_samples, 1, memory_order_relaxed);
	hk_unlock(&prof_lock);
}

/* --- Stacks. ------------------------------------------------------------ */

/* The unwinder is glibc's backtrace(): it follows the DWARF unwind tables
 * (.eh_frame) through libgcc_s, so it works in code built without frame
 * pointers, as Debian builds it; a frame-pointer walk would stop or go
 * astray there. Calling _Unwind_Backtrace directly would tie libhakmem to
 * libgcc_s at link time for the same result. backtrace() allocates once:
 * its first call dlopen()s libgcc_s. prime() makes that call when the
 * profiler is switched on, with no engine lock held and the thread marked
 * busy, so that the allocations of the dlopen (which reach hakmem's
 * malloc again) are not sampled; after it, taking a stack allocates
 * nothing. */
static void prime(void)
{
	struct prof_thread *t = &prof_tls;
	bool busy = t->busy;
	void *one[1];
	t->busy = true;
	backtrace(one, 1);
	t->busy = busy;
}

static size_t capture(uintptr_t *f)
{
	void *raw[HK_PROF_DEPTH + 16];
	int n = backtrace(raw, (int)(sizeof raw / sizeof raw[0]));
	int i = 0;
	while (i < n && (const char *)raw[i] >= __ehdr_start && (const char *)raw[i] < _end)
		i++;
	size_t k = 0;
	for (; i < n && k < HK_PROF_DEPTH; i++)
		f[k++] = (uintptr_t)raw[i];
	return k;
}

/* --- Profiles. ---------------------------------------------------------- */

struct out {
	int fd;
	size_t len;
	char buf[4096];
};

/* The buffer of write_profile, from the engine's metadata at the first
 * dump (a static one would share its page with hot variables). Set once,
 * under prof_lock. */
static struct out *out;

static void out_flush(struct out *o)
{
	hk_write_all(o->fd, o->buf, o->len);
	o->len = 0;
}

static void out_str(struct out *o, const char *s, size_t n)
{
	while (n) {
		if (o->len == sizeof o->buf)
			out_flush(o);
		size_t c = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
		memcpy(o->buf + o->len, s, c);
		o->len += c;
		s += c;
		n -= c;
	}
}

static void out_counts(struct out *o, uint64_t ln, uint64_t lb, uint64_t an, uint64_t ab)
{
	char line[128];
	size_t n = hk_fmt(line, sizeof line, "%6llu: %8llu [%6llu: %8llu] @", (unsigned long long)ln,
			  (unsigned long long)lb, (unsigned long long)an, (unsigned long long)ab);
	out_str(o, line, n);
}

/* The profile: header with the totals and the sampling rate, one line per
 * stack (return addresses; the first one less one, so that it points into
 * the call as google-pprof expects of a first frame), then the process's
 * mappings, which google-pprof uses to find the objects to symbolize.
 * prof_lock held. */
static void write_profile(int fd)
{
	struct out *o = out;
	o->fd = fd;
	o->len = 0;
	uint64_t t[4] = { 0, 0, 0, 0 };
	for (size_t i = 0; i < HK_PROF_STACKS; i++) {
		const struct prof_stack *st = &stacks[i];
		t[0] += st->live_n;
		t[1] += st->live_bytes;
		t[2] += st->alloc_n;
		t[3] += st->alloc_bytes;
	}
	char line[96];
	out_str(o, "heap profile: ", 14);
	out_counts(o, t[0], t[1], t[2], t[3]);
	out_str(o, line,
		hk_fmt(line, sizeof line, " heap_v2/%llu\n", (unsigned long long)HK_OPT(prof_sample)));
	for (size_t i = 0; i < HK_PROF_STACKS; i++) {
		const struct prof_stack *st = &stacks[i];
		if (!st->used || !st->alloc_n)
			continue;
		out_counts(o, st->live_n, st->live_bytes, st->alloc_n, st->alloc_bytes);
		if (!st->depth)
			out_str(o, " 0x0", 4);
		for (uint32_t k = 0; k < st->depth; k++)
			out_str(o, line,
				hk_fmt(line, sizeof line, " 0x%lx",
				       (unsigned long)(st->frames[k] - (k == 0))));
		out_str(o, "\n", 1);
	}
	out_str(o, "\nMAPPED_LIBRARIES:\n", 19);
	int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (maps >= 0) {
		for (;;) {
			if (o->len == sizeof o->buf)
				out_flush(o);
			ssize_t n = read(maps, o->buf + o->len, sizeof o->buf - o->len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			o->len += (size_t)n;
		}
		close(maps);
	}
	out_flush(o);
}

static int dump(char kind)
{
	if (!stacks)
		return EAGAIN;
	char prefix[HK_OPT_TEXT_SIZE], path[HK_OPT_TEXT_SIZE + 64];
	hk_option_text(hk_option_find("prof_prefix"), prefix, sizeof prefix);
	hk_fmt(path, sizeof path, "%s.%d.%llu.%c.heap", prefix, (int)getpid(),
	       (unsigned long long)atomic_fetch_add(&dump_seq, 1), kind);
	hk_lock(&prof_lock);
	if (!out)
		out = hk_meta_alloc(sizeof *out);
	bool have = out != NULL;
	hk_unlock(&prof_lock);
	if (!have)
		return ENOMEM;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;
		hk_message("heap profile %s: cannot create it (errno %d)", path, err);
		return err;
	}
	hk_lock(&prof_lock);
	write_profile(fd);
	hk_unlock(&prof_lock);
	close(fd);
	return 0;
}

int hk_prof_dump(void)
{
	int saved = errno;
	struct prof_thread *t = &prof_tls;
	bool busy = t->busy;
	t->busy = true;
	int err = atomic_load_explicit(&prof_on, memory_order_relaxed) ? dump('u') : EAGAIN;
	t->busy = busy;
	errno = saved;
	return err;
}

__attribute__((destructor)) static void dump_at_exit(void)
{
	if (atomic_load_explicit(&prof_on, memory_order_relaxed)) {
		prof_tls.busy = true;
		dump('f');
	}
}

static void maybe_dump_periodic(void)
{
	uint64_t every = HK_OPT(prof_interval_ms);
	if (!every)
		return;
	uint64_t now = hk_os_now_ms();
	uint64_t last = atomic_load_explicit(&last_dump_ms, memory_order_relaxed);
	if (!last) {
		atomic_compare_exchange_strong(&last_dump_ms, &last, now);
		return;
	}
	if (now - last >= every && atomic_compare_exchange_strong(&last_dump_ms, &last, now))
		dump('i');
}

/* --- Hooks. ------------------------------------------------------------- */

/* Point the calling thread's fast paths where the profiler's state wants
 * them: nowhere (&hk_empty_heap) while it is on, else back to the thread's
 * heap, unless Valgrind or a hardened mechanism keeps them off (as
 * hk_thread_attach decides). */
static void sync_thread(struct prof_thread *t)
{
	t->gen = atomic_load_explicit(&prof_gen, memory_order_acquire);
	bool slow = atomic_load_explicit(&prof_on, memory_order_relaxed) || hk_vg_on ||
		    hk_hard_slow();
	hk_tls_heap = slow ? &hk_empty_heap : hk_tls_self;
}

void *hk_prof_alloc(void *p, size_t size)
{
	struct prof_thread *t = &prof_tls;
	if (HK_UNLIKELY(t->gen != atomic_load_explicit(&prof_gen, memory_order_relaxed)))
		sync_thread(t);
	if (!atomic_load_explicit(&prof_on, memory_order_relaxed) || t->busy)
		return p;
	if (!t->until)
		t->until = next_interval(t);
	t->until -= (int64_t)(size < INT64_MAX ? size : INT64_MAX);
	if (HK_LIKELY(t->until > 0))
		return p;
	/* The next point starts afresh past this block: the process is
	 * memoryless, so the points this block covers beyond the first are
	 * simply dropped. */
	t->until = next_interval(t);
	int saved = errno;
	t->busy = true;
	uintptr_t f[HK_PROF_DEPTH];
	size_t n = capture(f);
	record(p, size, f, n);
	maybe_dump_periodic();
	t->busy = false;
	errno = saved;
	return p;
}

void hk_prof_free(void *p)
{
	struct prof_thread *t = &prof_tls;
	if (HK_UNLIKELY(t->gen != atomic_load_explicit(&prof_gen, memory_order_relaxed)))
		sync_thread(t);
	if (!p || !atomic_load_explicit(&live_samples, memory_order_relaxed))
		return;
	uint32_t seq = atomic_load_explicit(&prof_seq, memory_order_acquire);
	if (!(seq & 1)) {
		size_t i = sample_find((uintptr_t)p);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&prof_seq, memory_order_relaxed) == seq && i == SIZE_MAX)
			return;
	}
	hk_lock(&prof_lock);
	size_t i = samples ? sample_find((uintptr_t)p) : SIZE_MAX;
	if (i != SIZE_MAX) {
		write_begin();
		sample_remove(i);
		write_end();
	}
	hk_unlock(&prof_lock);
}

void *hk_prof_realloc(void *old, void *p, size_t size)
{
	hk_prof_free(old);
	return hk_prof_alloc(p, size);
}

/* --- Control. ----------------------------------------------------------- */

void hk_prof_update(void)
{
	bool want = HK_OPT(prof) != 0;
	hk_lock(&prof_lock);
	bool was = atomic_load_explicit(&prof_on, memory_order_relaxed);
	if (want && !was) {
		if (stacks) {
			/* A new session. (Fresh tables are zero and untouched:
			 * only the pages used become resident.) */
			write_begin();
			memset(samples, 0, HK_PROF_SAMPLES * sizeof *samples);
			memset(stacks, 0, HK_PROF_STACKS * sizeof *stacks);
			atomic_store_explicit(&live_samples, 0, memory_order_relaxed);
			atomic_store_explicit(&dropped, 0, memory_order_relaxed);
			write_end();
		} else {
			samples = hk_meta_alloc(HK_PROF_SAMPLES * sizeof *samples);
			stacks = samples ? hk_meta_alloc(HK_PROF_STACKS * sizeof *stacks) : NULL;
		}
		if (!stacks) {
			hk_unlock(&prof_lock);
			hk_message("heap profiler: no memory for its tables; it stays off");
			__atomic_store_n(&hk_opt.prof, 0, __ATOMIC_RELAXED);
			return;
		}
		__atomic_store_n(&hk_prof_hooked, true, __ATOMIC_RELAXED);
	}
	if (want != was) {
		atomic_store_explicit(&prof_on, want, memory_order_relaxed);
		atomic_fetch_add_explicit(&prof_gen, 1, memory_order_release);
	}
	hk_unlock(&prof_lock);
	if (want && !was)
		prime();
	if (want != was)
		sync_thread(&prof_tls);
}

uint64_t hk_prof_samples(void)
{
	return atomic_load_explicit(&live_samples, memory_order_relaxed);
}

uint64_t hk_prof_dropped(void)
{
	return atomic_load_explicit(&dropped, memory_order_relaxed);
}

void hk_prof_fork_prepare(void)
{
	hk_lock(&prof_lock);
}

void hk_prof_fork_parent(void)
{
	hk_unlock(&prof_lock);
}

void hk_prof_fork_child(void)
{
	hk_lock_reset(&prof_lock);
}

/* Blocks of glibc's own malloc reaching hakmem's free().
 *
 * A library loaded with dlopen(..., RTLD_NOW | RTLD_DEEPBIND) binds its
 * calls to malloc & co. to glibc's even when hakmem is preloaded, and hands
 * the blocks to the program, which frees them with hakmem's free (PHP-FPM
 * with its extensions is the known case; under other preloaded allocators
 * it crashes).  hakmem recognises such a block and gives it back to glibc.
 *
 * The module (tests/lib/deepbind_mod.c, built next to this program) is
 * loaded that way; the program, under LD_PRELOAD, takes from it blocks of
 * glibc's main arena (small, 300 KB), mmapped chunks (64 MiB), calloc'd
 * and strdup'd blocks, and blocks of another arena (allocated in a second
 * thread), and uses hakmem's functions on them: free, realloc to a larger
 * and a smaller size (content kept), malloc_usable_size, free_sized.
 * Checks: the module really binds to glibc's malloc; nothing crashes;
 * contents survive realloc; glibc's bytes in use (mallinfo2 seen from the
 * module) return to where they were, so the blocks went back to glibc;
 * stderr holds exactly one "hakmem:" line about it, with the address of the
 * first block freed.  Not under Valgrind: memcheck replaces glibc's malloc,
 * so the module's blocks would not be glibc's. */
/* hakmem-test: preload */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/mman.h>

static void *(*mod_malloc)(size_t);
static void *(*mod_calloc)(size_t, size_t);
static void *(*mod_realloc)(void *, size_t);
static char *(*mod_strdup)(const char *);
static size_t (*mod_in_use)(void);
static const char *(*mod_malloc_owner)(void);

/* Expected content of byte i of a mod_malloc block. */
static bool mod_pattern_ok(const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n && i < 4096; i++)
		if (b[i] != (unsigned char)(i * 31 + 7))
			return false;
	return true;
}

static char mod_path[PATH_MAX + 64];
static uintptr_t *shared_first;	/* the first block freed, for the parent */

static bool load(void)
{
	void *h = dlopen(mod_path, RTLD_NOW | RTLD_DEEPBIND);
	if (!CHECK(h != NULL, "dlopen(deepbind_mod.so, RTLD_NOW | RTLD_DEEPBIND) "
		   "(%s)", h ? "ok" : dlerror()))
		return false;
#define SYM(name)                                                   \
	do {                                                        \
		void *s = dlsym(h, #name);                          \
		memcpy(&name, &s, sizeof s);                        \
		if (!CHECK(s != NULL, "dlsym(%s)", #name))          \
			return false;                               \
	} while (0)
	SYM(mod_malloc);
	SYM(mod_calloc);
	SYM(mod_realloc);
	SYM(mod_strdup);
	SYM(mod_in_use);
	SYM(mod_malloc_owner);
#undef SYM
	return true;
}

static void *thread_blocks[2];

static void *in_thread(void *arg)
{
	(void)arg;
	thread_blocks[0] = mod_malloc(200);
	thread_blocks[1] = mod_malloc(300000);
	return NULL;
}

static void scenario(void *arg)
{
	(void)arg;
	if (!load())
		return;

	const char *owner = mod_malloc_owner();
	CHECK(strstr(owner, "libc.so") != NULL,
	      "the module's malloc is glibc's (%s)", owner);
	Dl_info info = { 0 };
	void *(*ours)(size_t) = malloc;
	void *sym;
	memcpy(&sym, &ours, sizeof sym);
	/* Before CHECK: the order in which its arguments (the condition and
	 * the message's) are evaluated is unspecified. */
	int found = dladdr(sym, &info);
	CHECK(found && info.dli_fname &&
	      strstr(info.dli_fname, "libhakmem"),
	      "the program's malloc is hakmem's (%s)",
	      info.dli_fname ? info.dli_fname : "?");

	/* free() of a small block from glibc's main arena */
	void *p = mod_malloc(24);
	if (CHECK(p != NULL, "module malloc(24)")) {
		size_t us = malloc_usable_size(p);
		CHECK(us >= 24, "malloc_usable_size of a glibc block (%zu)", us);
		*shared_first = (uintptr_t)p;
		free(p);
	}

	/* realloc, larger and smaller: the content moves to a hakmem block */
	p = mod_malloc(1000);
	void *q = realloc(p, 5000);
	CHECK(q && mod_pattern_ok(q, 1000),
	      "realloc(glibc block, larger) keeps the content");
	free(q);
	p = mod_malloc(1000);
	q = realloc(p, 100);
	CHECK(q && mod_pattern_ok(q, 100),
	      "realloc(glibc block, smaller) keeps the content");
	free(q);
	p = mod_malloc(1000);
	q = reallocarray(p, 10, 500);
	CHECK(q && mod_pattern_ok(q, 1000),
	      "reallocarray(glibc block) keeps the content");
	free(q);

	/* a big block from the main arena, and mmapped chunks */
	static const size_t bigs[] = { 300000, (size_t)64 << 20, 200000 };
	for (size_t i = 0; i < 3; i++) {
		p = mod_malloc(bigs[i]);
		if (!CHECK(p != NULL, "module malloc(%zu)", bigs[i]))
			continue;
		CHECK(malloc_usable_size(p) >= bigs[i],
		      "malloc_usable_size of a %zu-byte glibc block", bigs[i]);
		if (i == 2) {
			q = realloc(p, bigs[i] * 3);
			CHECK(q && mod_pattern_ok(q, 4096),
			      "realloc(%zu-byte glibc block) keeps the content",
			      bigs[i]);
			free(q);
		} else {
			free(p);
		}
	}

	/* calloc, strdup, free_sized */
	p = mod_calloc(10, 100);
	CHECK(p && hk_all_zero(p, 1000), "module calloc block is zeroed");
	free(p);
	char *s = mod_strdup("a string from a deep-bound library");
	CHECK(s && strcmp(s, "a string from a deep-bound library") == 0,
	      "module strdup");
	free(s);
	void (*fsized)(void *, size_t);
	void *fs = dlsym(RTLD_DEFAULT, "free_sized");	/* not in glibc 2.36 */
	memcpy(&fsized, &fs, sizeof fs);
	if (CHECK(fs != NULL, "free_sized found (hakmem's)")) {
		p = mod_malloc(100);
		fsized(p, 100);
	}

	/* blocks of another glibc arena */
	pthread_t t;
	if (CHECK(pthread_create(&t, NULL, in_thread, NULL) == 0,
		  "pthread_create")) {
		pthread_join(t, NULL);
		CHECK(thread_blocks[0] && thread_blocks[1],
		      "module malloc in another thread");
		free(thread_blocks[0]);
		q = realloc(thread_blocks[1], 400000);
		CHECK(q && mod_pattern_ok(q, 4096),
		      "realloc(block of another glibc arena) keeps the content");
		free(q);
	}

	/* many, of mixed sizes */
	hk_rng r;
	hk_rng_seed(&r, 7);
	static void *v[2000];
	int nulls = 0;
	for (int i = 0; i < 2000; i++) {
		v[i] = mod_malloc(hk_rng_logsize(&r, 1, 200000));
		nulls += v[i] == NULL;
	}
	for (int i = 0; i < 2000; i++)
		free(v[i]);
	CHECK(nulls == 0, "2000 glibc blocks of mixed sizes freed by hakmem");

	/* Did the blocks go back to glibc?  Chunks that glibc's free puts in
	 * its per-thread cache (up to 1032 bytes) still count as in use in
	 * mallinfo2, so count with bigger ones only. */
	size_t base = mod_in_use();
	for (int i = 0; i < 500; i++)
		v[i] = mod_malloc(hk_rng_logsize(&r, 2048, 1 << 20));
	size_t held = mod_in_use();
	for (int i = 0; i < 500; i++)
		free(v[i]);
	size_t after = mod_in_use();
	CHECK(held > base + 500 * 2048 && after <= base + 4096,
	      "glibc's bytes in use back to where they were: the blocks went "
	      "back to glibc (%zu -> %zu -> %zu)", base, held, after);

	/* hakmem itself is fine */
	int bad = 0;
	for (int i = 0; i < 1000; i++) {
		void *x = hk_launder(malloc((size_t)i * 11 + 1));
		bad += x == NULL;
		free(x);
	}
	CHECK(bad == 0, "hakmem still allocates normally");
}

int main(void)
{
	char exe[PATH_MAX];
	if (!CHECK(hk_self_exe(exe, sizeof exe), "readlink(/proc/self/exe)"))
		return hk_done();
	char *slash = strrchr(exe, '/');
	*slash = '\0';
	/* <tests>/hakmem.api/deepbind -> <tests>/lib/.libs/deepbind_mod.so */
	snprintf(mod_path, sizeof mod_path, "%s/../lib/.libs/deepbind_mod.so",
		 exe);
	if (!CHECK(access(mod_path, R_OK) == 0, "module built (%s)", mod_path))
		return hk_done();
	if (!CHECK(hk_have_ctl(), "running on hakmem (LD_PRELOAD)"))
		return hk_done();

	shared_first = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!CHECK(shared_first != MAP_FAILED, "shared mapping"))
		return hk_done();

	struct hk_child c;
	char how[96];
	hk_run_child(scenario, NULL, 60, &c);
	CHECK(hk_child_exited0(&c),
	      "no crash: the program ran to the end (%s)",
	      hk_child_how(&c, how, sizeof how));
	int match = 0;
	int lines = hk_hakmem_lines(c.err, &match,
				    "comes from the C library's malloc",
				    hk_hex((void *)*shared_first),
				    (const char *)NULL);
	if (lines != 1 || match != 1)
		hk_show_stderr("deepbind", &c);
	else
		hk_note("stderr: %.300s", c.err);
	CHECK(lines == 1 && match == 1,
	      "exactly one \"hakmem:\" line, saying the first glibc block "
	      "freed came from the C library's malloc (%d lines, %d matching)",
	      lines, match);
	return hk_done();
}

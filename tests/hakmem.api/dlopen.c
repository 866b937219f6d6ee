/* libhakmem.so.1 loaded with dlopen() for its prefixed API, by a program
 * that is not linked with it and already runs four threads: those threads
 * and four started after the load allocate with hakmem_malloc and free
 * with hakmem_free (each other's blocks too), then the library is closed.
 * hakmem's thread-local variables use the initial-exec TLS model, so
 * dlopen places them in glibc's static TLS surplus, in every thread
 * already running as well: this keeps that working (see hakmem(3), NOTES). */
/* hakmem-test: timeout 120 */
#include "../lib/check.h"

#include <dlfcn.h>
#include <pthread.h>

#ifndef HK_LIB_PATH
#error "HK_LIB_PATH: the built libhakmem.so.1 (tests/programs.am defines it)"
#endif

#define THREADS 4
#define BLOCKS 2000

static void *(*h_malloc)(size_t);
static void (*h_free)(void *);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool loaded;

/* Blocks handed from one thread to the next, freed there. */
static void *handed[2 * THREADS][BLOCKS];

/* Allocate BLOCKS blocks of varied sizes with hakmem_malloc, fill and
 * check them, keep them in handed[slot], and free those of the slot
 * before (allocated by another thread). Returns the blocks that failed. */
static long work(int slot)
{
	long bad = 0;
	for (int i = 0; i < BLOCKS; i++) {
		size_t n = 16 + (size_t)(i * 37 + slot * 101) % 5000;
		if (i % 500 == 0)
			n = (size_t)300 << 10;	/* a large block now and then */
		char *p = h_malloc(n);
		if (!p) {
			bad++;
			continue;
		}
		hk_fill(p, n, (uint64_t)slot * BLOCKS + (uint64_t)i);
		if (hk_verify(p, n, (uint64_t)slot * BLOCKS + (uint64_t)i) >= 0)
			bad++;
		handed[slot][i] = p;
	}
	return bad;
}

static void release(int slot)
{
	for (int i = 0; i < BLOCKS; i++) {
		h_free(handed[slot][i]);
		handed[slot][i] = NULL;
	}
}

/* A thread started before the load: glibc's malloc until then. */
static void *early(void *arg)
{
	int slot = (int)(intptr_t)arg;
	void *mine = malloc(100);
	pthread_mutex_lock(&lock);
	while (!loaded)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	long bad = work(slot);
	free(mine);
	return (void *)(intptr_t)bad;
}

static void *late(void *arg)
{
	int slot = (int)(intptr_t)arg;
	long bad = work(slot);
	/* The blocks of an early thread, freed from this one. */
	release(slot - THREADS);
	return (void *)(intptr_t)bad;
}

int main(void)
{
	pthread_t t[2 * THREADS];
	for (int i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, early, (void *)(intptr_t)i) != 0)
			return FAILED("pthread_create"), hk_done();

	void *h = dlopen(HK_LIB_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!CHECK(h != NULL, "dlopen(%s) with %d threads running: %s", HK_LIB_PATH, THREADS,
		   h ? "ok" : dlerror()))
		return hk_done();
	void *m = dlsym(h, "hakmem_malloc"), *f = dlsym(h, "hakmem_free");
	CHECK(dlsym(RTLD_DEFAULT, "hakmem_malloc") == NULL,
	      "loaded RTLD_LOCAL: the program's malloc is still glibc's");
	if (!CHECK(m && f, "hakmem_malloc and hakmem_free found"))
		return hk_done();
	memcpy(&h_malloc, &m, sizeof m);
	memcpy(&h_free, &f, sizeof f);

	pthread_mutex_lock(&lock);
	loaded = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);

	long bad = 0;
	for (int i = 0; i < THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)(intptr_t)r;
	}
	CHECK(bad == 0, "threads started before dlopen: hakmem_malloc blocks usable (%ld bad)", bad);

	for (int i = THREADS; i < 2 * THREADS; i++)
		if (pthread_create(&t[i], NULL, late, (void *)(intptr_t)i) != 0)
			return FAILED("pthread_create after dlopen"), hk_done();
	bad = 0;
	for (int i = THREADS; i < 2 * THREADS; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)(intptr_t)r;
	}
	CHECK(bad == 0, "threads started after dlopen: hakmem_malloc blocks usable (%ld bad)", bad);
	for (int i = THREADS; i < 2 * THREADS; i++)
		release(i);
	CHECK(dlclose(h) == 0, "dlclose");
	return hk_done();
}

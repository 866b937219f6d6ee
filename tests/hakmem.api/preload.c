/* LD_PRELOAD interposition: this program is NOT linked with hakmem; the
 * driver runs it with LD_PRELOAD=libhakmem.so.1.  It checks that hakmem
 * really is the process's malloc (hakmem_ctl is found with dlsym, malloc
 * resolves into libhakmem, large mallocs show up in stats.large.live), and
 * that libc functions which allocate internally (strdup, asprintf, getline,
 * open_memstream, realpath, fopen, scandir, qsort...) work and their
 * results can be freed.  Threads too. */
/* hakmem-test: preload */
#include "../lib/check.h"

#include <dirent.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <regex.h>
#include <wchar.h>

static hk_ctl_fn ctl;

static uint64_t large_live(void)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	if (!ctl || ctl("stats.large.live", &v, &len, NULL, 0) != 0)
		return UINT64_MAX;
	return v;
}

static void check_interposed(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "hakmem_ctl");
	CHECK(sym != NULL, "dlsym(RTLD_DEFAULT, \"hakmem_ctl\") is non-NULL");
	memcpy(&ctl, &sym, sizeof ctl);

	/* The malloc this program calls lives in libhakmem. */
	Dl_info info;
	void *(*m)(size_t) = malloc;
	void *mp;
	memcpy(&mp, &m, sizeof mp);
	if (CHECK(dladdr(mp, &info) != 0 && info.dli_fname,
		  "dladdr(malloc) resolves"))
		CHECK(strstr(info.dli_fname, "hakmem") != NULL,
		      "malloc is defined by libhakmem (%s)", info.dli_fname);
	void *fsym = dlsym(RTLD_DEFAULT, "free");
	if (CHECK(fsym && dladdr(fsym, &info) != 0 && info.dli_fname,
		  "dladdr(dlsym(\"free\")) resolves"))
		CHECK(strstr(info.dli_fname, "hakmem") != NULL,
		      "free is defined by libhakmem (%s)", info.dli_fname);

	if (!ctl)
		return;
	enum { N = 64 };
	void *p[N];
	uint64_t before = large_live();
	int nulls = 0;
	for (int i = 0; i < N; i++) {
		p[i] = hk_launder(malloc(200 * 1024));
		if (!p[i])
			nulls++;
		else
			memset(p[i], i, 200 * 1024);
	}
	uint64_t during = large_live();
	for (int i = 0; i < N; i++)
		free(p[i]);
	uint64_t after = large_live();
	CHECK(nulls == 0 && during == before + N,
	      "64 x malloc(200 KiB) raise stats.large.live by 64 (%" PRIu64
	      " -> %" PRIu64 ")", before, during);
	CHECK(after == before,
	      "freeing them brings stats.large.live back (%" PRIu64 ")",
	      after);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int libc_users(void)
{
	int bad = 0;

	/* strdup / strndup */
	char *s = strdup("hello, hakmem");
	if (!s || strcmp(s, "hello, hakmem") != 0)
		bad++;
	free(s);
	s = strndup("abcdefghijklmnop", 5);
	if (!s || strcmp(s, "abcde") != 0)
		bad++;
	free(s);

	/* asprintf with a long result */
	char *a = NULL;
	if (asprintf(&a, "%s-%d-%0500d", "x", 42, 7) != 505 || !a ||
	    strncmp(a, "x-42-000", 8) != 0)
		bad++;
	free(a);

	/* open_memstream + getline/getdelim */
	char *buf = NULL;
	size_t sz = 0;
	FILE *ms = open_memstream(&buf, &sz);
	if (!ms) {
		bad++;
	} else {
		for (int i = 0; i < 2000; i++)
			fprintf(ms, "line %d %0*d\n", i, i % 300, i);
		fclose(ms);
		FILE *in = fmemopen(buf, sz, "r");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		int lines = 0;
		while (in && (n = getline(&line, &cap, in)) > 0) {
			int num = -1;
			if (sscanf(line, "line %d", &num) != 1 || num != lines)
				bad++;
			lines++;
		}
		if (lines != 2000)
			bad++;
		free(line);
		if (in)
			fclose(in);
		free(buf);
	}

	/* realpath(…, NULL) allocates */
	char *rp = realpath("/proc/self/..", NULL);
	if (!rp || strcmp(rp, "/proc") != 0)
		bad++;
	free(rp);

	/* stdio buffers */
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f) {
		bad++;
	} else {
		char *l = NULL;
		size_t c = 0;
		int nl = 0;
		while (getdelim(&l, &c, '\n', f) > 0)
			nl++;
		free(l);
		fclose(f);
		if (nl < 5)
			bad++;
	}

	/* scandir allocates the list and each entry */
	struct dirent **list = NULL;
	int nd = scandir("/proc/self", &list, NULL, alphasort);
	if (nd < 5) {
		bad++;
	} else {
		for (int i = 0; i < nd; i++)
			free(list[i]);
		free(list);
	}

	/* qsort of a big array may malloc a temp buffer */
	enum { Q = 100000 };
	int *arr = malloc(Q * sizeof *arr);
	if (!arr) {
		bad++;
	} else {
		for (int i = 0; i < Q; i++)
			arr[i] = (i * 7919) % Q;
		qsort(arr, Q, sizeof *arr, cmp_int);
		for (int i = 0; i < Q; i++)
			if (arr[i] != i) {
				bad++;
				break;
			}
		free(arr);
	}

	/* regcomp/regexec allocate a lot of little blocks */
	regex_t re;
	if (regcomp(&re, "^([a-z]+)-([0-9]+)$", REG_EXTENDED) != 0) {
		bad++;
	} else {
		regmatch_t m[3];
		if (regexec(&re, "abc-123", 3, m, 0) != 0 || m[2].rm_so != 4)
			bad++;
		regfree(&re);
	}

	/* wide strings */
	wchar_t *w = wcsdup(L"wide");
	if (!w || wcscmp(w, L"wide") != 0)
		bad++;
	free(w);

	/* usable size of a libc-made block is sane */
	char *d = strdup("0123456789");
	if (!d || malloc_usable_size(d) < 11)
		bad++;
	free(d);
	return bad;
}

static void *thread_main(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)libc_users();
}

static void check_libc(void)
{
	int bad = libc_users();
	CHECK(bad == 0,
	      "libc functions that allocate work and their results free() "
	      "cleanly (%d problems)", bad);

	pthread_t t[4];
	int created = 0;
	bad = 0;
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL) == 0)
			created++;
	for (int i = 0; i < created; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (int)(intptr_t)r;
	}
	CHECK(created == 4 && bad == 0,
	      "the same in 4 threads (%d created, %d problems)", created, bad);

	/* A block allocated by a libc function in a thread, freed here. */
	char *msg = NULL;
	if (asprintf(&msg, "%d", 12345) > 0) {
		free(msg);
		CHECK(1, "free() of an asprintf result");
	} else {
		FAILED("asprintf");
	}
}

int main(void)
{
	check_interposed();
	check_libc();
	return hk_done();
}

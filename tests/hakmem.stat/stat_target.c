/* The program hakmem-stat.py drives: a process on hakmem that allocates
 * in a background thread on request and reports its own figures, read
 * with hakmem_ctl(), for the test to compare with what hakmem-stat reads
 * from outside. Commands, one per line on stdin; every answer is one line
 * on stdout, written with write(2) (stdio would allocate):
 *   bg on | bg off   start or stop (and join) the background load
 *   snap             publish (write "epoch"), then print the figures read
 *                    with hakmem_ctl as a JSON object
 *   json             print hakmem_ctl("stats.json")
 *   fork             fork; the child changes its heap, prints
 *                    "child PID" and its snap, then waits for SIGTERM
 *   quit             exit */
#include "../lib/check.h"

#include <pthread.h>
#include <stdatomic.h>

#include "hakmem.h"

#define RING 4096

static void *ring[RING];
static pthread_t bg;
static _Atomic bool bg_stop;
static bool bg_running;

static void *bg_load(void *arg)
{
	(void)arg;
	hk_rng r;
	hk_rng_seed(&r, 42);
	for (unsigned long i = 0; !atomic_load(&bg_stop); i++) {
		size_t slot = i % RING;
		free(ring[slot]);
		size_t size = i % 97 == 0 ? hk_rng_range(&r, 140000, 400000)
					  : hk_rng_logsize(&r, 16, 20000);
		ring[slot] = malloc(size);
		if (ring[slot])
			memset(ring[slot], 1, size < 64 ? size : 64);
	}
	return NULL;
}

static uint64_t get(const char *name)
{
	uint64_t v = 0;
	size_t len = sizeof v;
	if (hakmem_ctl(name, &v, &len, NULL, 0) != 0)
		return UINT64_MAX;
	return v;
}

struct out {
	char buf[16384];
	size_t len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n < sizeof o->buf - o->len ? (size_t)n : sizeof o->buf - o->len - 1;
}

static void snap(void)
{
	uint64_t one = 0;
	hakmem_ctl("epoch", NULL, NULL, &one, sizeof one);
	static struct out o;
	o.len = 0;
	put(&o, "{\"pid\":%d,\"epoch\":%" PRIu64, (int)getpid(), get("epoch"));
	static const char *const flat[] = { "allocated", "resident", "metadata", "mapped",
					    "mappings", "dirty", "purged", "remote_pending" };
	for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
		char name[64];
		snprintf(name, sizeof name, "stats.%s", flat[i]);
		put(&o, ",\"%s\":%" PRIu64, flat[i], get(name));
	}
	put(&o, ",\"superslabs\":{\"live\":%" PRIu64 ",\"created\":%" PRIu64
		",\"released\":%" PRIu64 "}",
	    get("stats.superslabs.live"), get("stats.superslabs.created"),
	    get("stats.superslabs.released"));
	put(&o, ",\"large\":{\"live\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"cached\":%" PRIu64 "}",
	    get("stats.large.live"), get("stats.large.bytes"), get("stats.large.cached"));
	put(&o, ",\"frees\":{\"local\":%" PRIu64 ",\"remote\":%" PRIu64 "}",
	    get("stats.frees.local"), get("stats.frees.remote"));
	put(&o, ",\"classes\":[");
	uint64_t n = get("stats.classes.count");
	for (uint64_t c = 0; c < n; c++) {
		char a[64], b[64], s[64];
		snprintf(s, sizeof s, "stats.classes.%" PRIu64 ".size", c);
		snprintf(b, sizeof b, "stats.classes.%" PRIu64 ".blocks", c);
		snprintf(a, sizeof a, "stats.classes.%" PRIu64 ".slabs", c);
		put(&o, "%s{\"size\":%" PRIu64 ",\"blocks\":%" PRIu64 ",\"slabs\":%" PRIu64 "}",
		    c ? "," : "", get(s), get(b), get(a));
	}
	put(&o, "]}\n");
	hk_write_all(1, o.buf, o.len);
}

static void json(void)
{
	static char buf[16384];
	size_t len = sizeof buf - 1;
	int rc = hakmem_ctl("stats.json", buf, &len, NULL, 0);
	if (rc != 0)
		snprintf(buf, sizeof buf, "error %d", rc);
	size_t n = strlen(buf);
	buf[n++] = '\n';
	hk_write_all(1, buf, n);
}

static void child(void)
{
	for (size_t i = 0; i < 3000; i++)
		hk_launder(malloc(5000)); /* kept: the child's heap differs */
	char line[64];
	int n = snprintf(line, sizeof line, "child %d\n", (int)getpid());
	hk_write_all(1, line, (size_t)n);
	snap();
	for (;;)
		pause();
}

int main(void)
{
	char line[256];
	setvbuf(stdin, NULL, _IONBF, 0);
	while (fgets(line, sizeof line, stdin)) {
		if (strcmp(line, "bg on\n") == 0 && !bg_running) {
			atomic_store(&bg_stop, false);
			bg_running = pthread_create(&bg, NULL, bg_load, NULL) == 0;
			hk_write_all(1, "ok\n", 3);
		} else if (strcmp(line, "bg off\n") == 0) {
			atomic_store(&bg_stop, true);
			if (bg_running)
				pthread_join(bg, NULL);
			bg_running = false;
			hk_write_all(1, "ok\n", 3);
		} else if (strcmp(line, "snap\n") == 0) {
			snap();
		} else if (strcmp(line, "json\n") == 0) {
			json();
		} else if (strcmp(line, "fork\n") == 0) {
			pid_t pid = fork();
			if (pid == 0)
				child();
			snap();
		} else if (strcmp(line, "quit\n") == 0) {
			break;
		} else {
			hk_write_all(1, "?\n", 2);
		}
	}
	return 0;
}

/* The statistics page (see statpage.h for the mechanism and the format).
 * Everything here runs at start-up, on a report, on fork, or when a reader
 * has asked for figures: never on an allocation fast path. */
#define _GNU_SOURCE
#include "statpage.h"

#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "options.h"
#include "os.h"

/* The descriptor is moved to the lowest free number from here: out of the
 * way of programs that expect their first open() to return 3, and under
 * 64, so that the kernel's initial descriptor table need not grow. */
#define PAGE_FD_MIN 48

static struct hk_statpage placeholder;
struct hk_statpage *hk_statpage = &placeholder;
static int page_fd = -1;
/* The memfd's identity: the program may have closed page_fd and reused
 * its number, and then the descriptor is not ours to close or replace. */
static dev_t page_dev;
static ino_t page_ino;
/* The address of a page turned off (see destroy), reused if turned on. */
static void *kept;

/* Serialises publications, and creation and removal of the page. */
static hk_lock_t page_lock = HK_LOCK_INIT;

/* A sealed memfd of one page, its descriptor moved high; -1 on failure. */
static int make_fd(void)
{
	int fd = memfd_create(HK_STATPAGE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	/* Sealed, so that a reader cannot shrink it under the writer (which
	 * would then take SIGBUS). */
	if (ftruncate(fd, HK_STATPAGE_SIZE) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		close(fd);
		return -1;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > PAGE_FD_MIN) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, PAGE_FD_MIN);
		if (high >= 0) {
			close(fd);
			fd = high;
		}
	}
	return fd;
}

static void remember(int fd)
{
	struct stat st;
	page_fd = fd;
	page_dev = 0;
	page_ino = 0;
	if (fstat(fd, &st) == 0) {
		page_dev = st.st_dev;
		page_ino = st.st_ino;
	}
}

static bool still_ours(void)
{
	struct stat st;
	return page_fd >= 0 && fstat(page_fd, &st) == 0 && st.st_dev == page_dev &&
	       st.st_ino == page_ino;
}

static void fill_header(struct hk_statpage *p)
{
	p->magic = HK_STATPAGE_MAGIC;
	p->version = HK_STATPAGE_VERSION;
	p->size = HK_STATPAGE_SIZE;
	p->header = (uint32_t)offsetof(struct hk_statpage, f);
	p->pid = (uint64_t)getpid();
	hk_fmt(p->version_string, sizeof p->version_string, "%s", PACKAGE_VERSION);
}

static void create(void)
{
	int fd = make_fd();
	if (fd < 0)
		return;
	void *p = mmap(kept, HK_STATPAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (kept ? MAP_FIXED : 0), fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return;
	}
	fill_header(p);
	remember(fd);
	__atomic_store_n(&hk_statpage, (struct hk_statpage *)p, __ATOMIC_RELEASE);
}

static void destroy(void)
{
	struct hk_statpage *p = hk_statpage;
	__atomic_store_n(&hk_statpage, &placeholder, __ATOMIC_RELEASE);
	/* A poller may still read the old page's request word: keep the
	 * mapping (for the next create) but drop the descriptor, so that
	 * readers no longer find it. */
	kept = p;
	if (still_ours())
		close(page_fd);
	page_fd = -1;
}

void hk_statpage_update(void)
{
	hk_lock(&page_lock);
	bool want = HK_OPT(stats_page) != 0, have = hk_statpage != &placeholder;
	if (want && !have)
		create();
	else if (!want && have)
		destroy();
	hk_unlock(&page_lock);
}

void hk_statpage_publish(void (*collect)(struct hk_figures *), struct hk_figures *out)
{
	struct hk_figures f;
	hk_lock(&page_lock);
	struct hk_statpage *p = hk_statpage;
	uint64_t req = __atomic_load_n(&p->request, __ATOMIC_RELAXED);
	collect(&f);
	uint64_t seq = __atomic_load_n(&p->seq, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, seq + 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	memcpy(&p->f, &f, sizeof f);
	__atomic_store_n(&p->time_ms, hk_os_now_ms(), __ATOMIC_RELAXED);
	__atomic_store_n(&p->publications, p->publications + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&p->served, req, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, seq + 2, __ATOMIC_RELEASE);
	hk_unlock(&page_lock);
	if (out)
		*out = f;
}

static void fork_prepare(void)
{
	hk_lock(&page_lock);
}

static void fork_parent(void)
{
	hk_unlock(&page_lock);
}

/* The child shares the parent's page (a shared mapping, an inherited
 * descriptor): it gets a copy of its own at the same address and under
 * the same descriptor number, or none. */
static void fork_child(void)
{
	hk_lock_reset(&page_lock);
	struct hk_statpage *p = hk_statpage;
	if (p == &placeholder)
		return;
	bool ours = still_ours();
	int fd = make_fd();
	if (fd >= 0 && write(fd, p, HK_STATPAGE_SIZE) == (ssize_t)HK_STATPAGE_SIZE &&
	    mmap(p, HK_STATPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == p) {
		/* Under the inherited number if that is still the page's. */
		if (ours && dup3(fd, page_fd, O_CLOEXEC) == page_fd) {
			close(fd);
			fd = page_fd;
		}
		remember(fd);
		p->pid = (uint64_t)getpid();
		return;
	}
	if (fd >= 0)
		close(fd);
	/* No copy: the child must stop writing into the parent's page. A
	 * private page over it keeps the address valid for a poller that
	 * still holds the old pointer. */
	mmap(p, HK_STATPAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
	     -1, 0);
	hk_statpage = &placeholder;
	if (ours)
		close(page_fd);
	page_fd = -1;
}

void hk_statpage_init(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	hk_statpage_update();
}

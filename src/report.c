#define _GNU_SOURCE
#include "report.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h> /* rename(2) only: no stream is used */
#include <string.h>
#include <unistd.h>

#include "init.h"
#include "large.h"
#include "log.h"
#include "meta.h"
#include "os.h"
#include "pool.h"
#include "size_class.h"
#include "superslab.h"
#include "thread.h"

_Static_assert(HK_NCLASSES <= HK_STATPAGE_MAX_CLASSES, "the page holds every class");

/* Reads a slab's used count while its owner may change it: the figure is
 * a snapshot, exact only when the program is quiet. */
static void count_slab(const hk_slab *s, void *arg)
{
	struct hk_stats_snapshot *snap = arg;
	uint32_t used = __atomic_load_n(&s->used, __ATOMIC_RELAXED) -
			__atomic_load_n(&s->pinned, __ATOMIC_RELAXED);
	snap->class_blocks[s->cls] += used;
	snap->class_slabs[s->cls]++;
	snap->allocated += (uint64_t)used * s->block_size;
	/* Pages up to the bump pointer have been handed out, so touched. */
	const char *bump = __atomic_load_n(&s->bump, __ATOMIC_RELAXED);
	const char *base = (const char *)((uintptr_t)s->start & ~(HK_SLOT_SIZE - 1));
	if (bump > base)
		snap->resident += hk_align_up((size_t)(bump - base), HK_PAGE_SIZE);
	if (atomic_load_explicit(&s->xtf, memory_order_relaxed) & ~HK_XTF_STATE)
		snap->remote_pending++;
}

uint64_t hk_report_refresh(void)
{
	struct hk_stats_snapshot fresh = { 0 };
	hk_pool_each_slab(count_slab, &fresh);
	uint64_t large = hk_stats_get(&hk_gstats.large_bytes);
	uint64_t large_headers = hk_stats_get(&hk_gstats.large_live) * HK_LARGE_HEADER;
	uint64_t engine = hk_stats_get(&hk_gstats.ss_live) *
			  hk_align_up(sizeof(hk_superslab), HK_PAGE_SIZE) +
			  hk_meta_mapped_bytes();
	uint64_t dirty, purged;
	hk_pool_counts(&dirty, &purged);
	fresh.allocated += large;
	fresh.metadata = engine + large_headers;
	/* Large headers lie in the large mappings, already counted. */
	fresh.resident += dirty + large + hk_stats_get(&hk_gstats.large_cached) + engine;
	return hk_stats_publish(&fresh);
}

void hk_report_snapshot(struct hk_stats_snapshot *out)
{
	if (!hk_stats_latest(out)) {
		hk_report_refresh();
		hk_stats_latest(out);
	}
}

uint64_t hk_report_local_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, local_frees));
}

uint64_t hk_report_remote_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, remote_frees)) +
	       hk_stats_get(&hk_gstats.remote_frees);
}

void hk_report_collect(struct hk_figures *f, bool refresh)
{
	struct hk_stats_snapshot s;
	if (refresh)
		hk_report_refresh();
	hk_report_snapshot(&s);
	memset(f, 0, sizeof *f);
	f->epoch = s.epoch;
	f->allocated = s.allocated;
	f->resident = s.resident;
	f->metadata = s.metadata;
	f->remote_pending = s.remote_pending;
	f->mapped = hk_os_mapped_bytes();
	f->mappings = hk_os_mappings();
	f->superslabs_live = hk_stats_get(&hk_gstats.ss_live);
	f->superslabs_created = hk_stats_get(&hk_gstats.ss_created);
	f->superslabs_released = hk_stats_get(&hk_gstats.ss_released);
	hk_pool_counts(&f->dirty, &f->purged);
	f->large_live = hk_stats_get(&hk_gstats.large_live);
	f->large_bytes = hk_stats_get(&hk_gstats.large_bytes);
	f->large_cached = hk_stats_get(&hk_gstats.large_cached);
	f->frees_local = hk_report_local_frees();
	f->frees_remote = hk_report_remote_frees();
	f->nclasses = HK_NCLASSES;
	for (unsigned c = 0; c < HK_NCLASSES; c++) {
		f->classes[c].size = hk_class_size(c);
		f->classes[c].blocks = s.class_blocks[c];
		f->classes[c].slabs = s.class_slabs[c];
	}
}

static void collect_fresh(struct hk_figures *f)
{
	hk_report_collect(f, true);
}

void hk_report_publish(struct hk_figures *f)
{
	hk_statpage_publish(collect_fresh, f);
}

/* Output to a buffer (fd < 0: what does not fit is counted, not written)
 * or, through a stack buffer, to a descriptor. */
struct sink {
	int fd;
	char *buf;
	size_t size, len;
	char tmp[2048];
	size_t tlen;
};

static void flush(struct sink *k)
{
	hk_write_all(k->fd, k->tmp, k->tlen);
	k->tlen = 0;
}

static void emit(struct sink *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct sink *k, const char *fmt, ...)
{
	char piece[256];
	va_list ap;
	va_start(ap, fmt);
	size_t n = hk_vfmt(piece, sizeof piece, fmt, ap);
	va_end(ap);
	if (k->fd >= 0) {
		if (k->tlen + n > sizeof k->tmp)
			flush(k);
		memcpy(k->tmp + k->tlen, piece, n);
		k->tlen += n;
		return;
	}
	if (k->len + 1 < k->size) {
		size_t room = k->size - 1 - k->len;
		memcpy(k->buf + k->len, piece, n < room ? n : room);
	}
	k->len += n;
}

#define U(x) ((unsigned long long)(x))

static void json(struct sink *k, const struct hk_figures *f)
{
	emit(k, "{\"version\":\"%s\",\"pid\":%d,\"epoch\":%llu", PACKAGE_VERSION, (int)getpid(),
	     U(f->epoch));
	emit(k, ",\"allocated\":%llu,\"resident\":%llu,\"metadata\":%llu", U(f->allocated),
	     U(f->resident), U(f->metadata));
	emit(k, ",\"mapped\":%llu,\"mappings\":%llu", U(f->mapped), U(f->mappings));
	emit(k, ",\"superslabs\":{\"live\":%llu,\"created\":%llu,\"released\":%llu}",
	     U(f->superslabs_live), U(f->superslabs_created), U(f->superslabs_released));
	emit(k, ",\"dirty\":%llu,\"purged\":%llu", U(f->dirty), U(f->purged));
	emit(k, ",\"large\":{\"live\":%llu,\"bytes\":%llu,\"cached\":%llu}", U(f->large_live),
	     U(f->large_bytes), U(f->large_cached));
	emit(k, ",\"frees\":{\"local\":%llu,\"remote\":%llu}", U(f->frees_local),
	     U(f->frees_remote));
	emit(k, ",\"remote_pending\":%llu,\"classes\":[", U(f->remote_pending));
	for (unsigned c = 0; c < f->nclasses; c++)
		emit(k, "%s{\"size\":%llu,\"blocks\":%llu,\"slabs\":%llu}", c ? "," : "",
		     U(f->classes[c].size), U(f->classes[c].blocks), U(f->classes[c].slabs));
	emit(k, "]}");
}

static void text(struct sink *k, const struct hk_figures *f)
{
	emit(k, "hakmem statistics (process %d)\n", (int)getpid());
	emit(k, "  allocated          %12llu bytes in blocks in use\n", U(f->allocated));
	emit(k, "  resident           %12llu bytes at most, %llu of them metadata\n",
	     U(f->resident), U(f->metadata));
	emit(k, "  mapped             %12llu bytes in %llu mappings\n", U(f->mapped),
	     U(f->mappings));
	emit(k, "  superslabs         %12llu live, %llu created, %llu released\n",
	     U(f->superslabs_live), U(f->superslabs_created), U(f->superslabs_released));
	emit(k, "  free slots         %12llu bytes resident, %llu decommitted so far\n",
	     U(f->dirty), U(f->purged));
	emit(k, "  large blocks       %12llu live, %llu bytes\n", U(f->large_live),
	     U(f->large_bytes));
	emit(k, "  frees              %12llu local, %llu remote\n", U(f->frees_local),
	     U(f->frees_remote));
	emit(k, "  class  block size  blocks in use  slabs\n");
	for (unsigned c = 0; c < f->nclasses; c++)
		if (f->classes[c].slabs)
			emit(k, "  %5u  %10llu  %13llu  %5llu\n", c, U(f->classes[c].size),
			     U(f->classes[c].blocks), U(f->classes[c].slabs));
}

size_t hk_report_json(char *buf, size_t size)
{
	struct hk_figures f;
	hk_report_collect(&f, false);
	struct sink k = { .fd = -1, .buf = buf, .size = buf ? size : 0 };
	json(&k, &f);
	if (k.size)
		buf[k.len < k.size ? k.len : k.size - 1] = '\0';
	return k.len;
}

void hk_report_print(int fd)
{
	struct hk_figures f;
	hk_report_publish(&f);
	struct sink k = { .fd = fd };
	text(&k, &f);
	flush(&k);
}

/* opt.stats_file with %p replaced by the PID (%% by %). */
static bool report_path(char *path, size_t size)
{
	char tmpl[HK_OPT_TEXT_SIZE];
	hk_option_text(hk_option_find("stats_file"), tmpl, sizeof tmpl);
	if (!tmpl[0])
		return false;
	size_t n = 0;
	for (const char *t = tmpl; *t && n + 1 < size; t++) {
		if (t[0] == '%' && t[1] == 'p') {
			n += hk_fmt(path + n, size - n, "%d", (int)getpid());
			t++;
		} else {
			if (t[0] == '%' && t[1] == '%')
				t++;
			path[n++] = *t;
		}
	}
	path[n] = '\0';
	return true;
}

/* A report, in opt.stats_format, to stderr or to the stats file; the file
 * is replaced whole (written beside it, then renamed), so a reader never
 * sees half a report. */
static void report(void)
{
	struct hk_figures f;
	hk_report_publish(&f);
	bool as_json = HK_OPT(stats_format) == HK_STATS_JSON;
	char path[HK_OPT_TEXT_SIZE + 32], tmp[sizeof path + 8];
	struct sink k = { .fd = 2 };
	if (report_path(path, sizeof path)) {
		hk_fmt(tmp, sizeof tmp, "%s.tmp", path);
		k.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (k.fd < 0) {
			static _Atomic bool told;
			if (!atomic_exchange(&told, true))
				hk_message("stats_file %s: cannot write the report", tmp);
			return;
		}
	}
	if (as_json) {
		json(&k, &f);
		emit(&k, "\n");
	} else
		text(&k, &f);
	flush(&k);
	if (k.fd != 2) {
		close(k.fd);
		rename(tmp, path);
	}
}

void hk_report_tick(void)
{
	uint64_t interval = HK_OPT(stats_interval_ms);
	if (interval) {
		static _Atomic uint64_t last_ms;
		uint64_t now = hk_os_now_ms();
		uint64_t last = atomic_load_explicit(&last_ms, memory_order_relaxed);
		/* The first slow path starts the period. */
		if (!last)
			atomic_compare_exchange_strong(&last_ms, &last, now);
		else if (now - last >= interval &&
			 atomic_compare_exchange_strong(&last_ms, &last, now))
			report(); /* publishes, so answers any request too */
	}
	struct hk_statpage *p = __atomic_load_n(&hk_statpage, __ATOMIC_RELAXED);
	if (__atomic_load_n(&p->request, __ATOMIC_RELAXED) !=
	    __atomic_load_n(&p->served, __ATOMIC_RELAXED))
		hk_report_publish(NULL);
}

/* The statistics page is made at start-up, once the options are read. */
__attribute__((constructor)) static void report_at_start(void)
{
	hk_global_init();
	hk_statpage_init();
}

__attribute__((destructor)) static void report_at_exit(void)
{
	if (HK_OPT(stats_print))
		report();
}

#include "stats.h"

#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "options.h"
#include "os.h"
#include "pool.h"
#include "thread.h"

struct hk_global_stats hk_gstats;

static hk_lock_t snapshot_lock = HK_LOCK_INIT;
static struct hk_stats_snapshot snapshot;

void hk_stats_superslab_created(size_t size)
{
	(void)size;
	hk_stats_add(&hk_gstats.ss_live, 1);
	hk_stats_add(&hk_gstats.ss_created, 1);
}

void hk_stats_superslab_released(size_t size)
{
	(void)size;
	hk_stats_add(&hk_gstats.ss_live, -1);
	hk_stats_add(&hk_gstats.ss_released, 1);
}

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
}

uint64_t hk_stats_refresh(void)
{
	struct hk_stats_snapshot fresh = { 0 };
	hk_pool_each_slab(count_slab, &fresh);
	fresh.allocated += hk_stats_get(&hk_gstats.large_bytes);
	hk_lock(&snapshot_lock);
	fresh.epoch = snapshot.epoch + 1;
	snapshot = fresh;
	hk_unlock(&snapshot_lock);
	return fresh.epoch;
}

void hk_stats_snapshot(struct hk_stats_snapshot *out)
{
	hk_lock(&snapshot_lock);
	bool none = snapshot.epoch == 0;
	hk_unlock(&snapshot_lock);
	if (none)
		hk_stats_refresh();
	hk_lock(&snapshot_lock);
	*out = snapshot;
	hk_unlock(&snapshot_lock);
}

uint64_t hk_stats_local_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, local_frees));
}

uint64_t hk_stats_remote_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, remote_frees)) +
	       hk_stats_get(&hk_gstats.remote_frees);
}

static void line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line(int fd, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	size_t n = hk_vfmt(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	hk_write_all(fd, buf, n);
}

void hk_stats_print(int fd)
{
	hk_stats_refresh();
	struct hk_stats_snapshot s;
	hk_stats_snapshot(&s);
	line(fd, "hakmem statistics (process %d)", (int)getpid());
	line(fd, "  allocated          %12llu bytes in blocks in use",
	     (unsigned long long)s.allocated);
	line(fd, "  mapped             %12llu bytes in %llu mappings",
	     (unsigned long long)hk_os_mapped_bytes(), (unsigned long long)hk_os_mappings());
	line(fd, "  superslabs         %12llu live, %llu created, %llu released",
	     (unsigned long long)hk_stats_get(&hk_gstats.ss_live),
	     (unsigned long long)hk_stats_get(&hk_gstats.ss_created),
	     (unsigned long long)hk_stats_get(&hk_gstats.ss_released));
	uint64_t dirty, purged;
	hk_pool_counts(&dirty, &purged);
	line(fd, "  free slots         %12llu bytes resident, %llu decommitted so far",
	     (unsigned long long)dirty, (unsigned long long)purged);
	line(fd, "  large blocks       %12llu live, %llu bytes",
	     (unsigned long long)hk_stats_get(&hk_gstats.large_live),
	     (unsigned long long)hk_stats_get(&hk_gstats.large_bytes));
	line(fd, "  frees              %12llu local, %llu remote",
	     (unsigned long long)hk_stats_local_frees(), (unsigned long long)hk_stats_remote_frees());
	line(fd, "  class  block size  blocks in use  slabs");
	for (unsigned c = 0; c < HK_NCLASSES; c++)
		if (s.class_slabs[c])
			line(fd, "  %5u  %10u  %13llu  %5llu", c, (unsigned)hk_class_size(c),
			     (unsigned long long)s.class_blocks[c], (unsigned long long)s.class_slabs[c]);
}

__attribute__((destructor)) static void print_at_exit(void)
{
	if (HK_OPT(stats_print))
		hk_stats_print(2);
}

void hk_stats_fork_prepare(void)
{
	hk_lock(&snapshot_lock);
}

void hk_stats_fork_parent(void)
{
	hk_unlock(&snapshot_lock);
}

void hk_stats_fork_child(void)
{
	hk_lock_reset(&snapshot_lock);
}

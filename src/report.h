/* Reports of the statistics: every figure of the tree (stats, pool, os),
 * as the readable table or as JSON (opt.stats_format), to stderr or to
 * the file opt.stats_file names (%p: the PID). Written at exit
 * (opt.stats_print), every opt.stats_interval_ms from the allocation slow
 * path (no thread), by malloc_stats(), and as ctl's stats.json. The slow
 * path's poll also answers the statistics page's requests (statpage.h).
 * The snapshot's walk over every slab and thread heap is here too, above
 * the engine; stats.h only keeps the latest. Nothing here allocates. */
#ifndef HK_REPORT_H
#define HK_REPORT_H

#include "common.h"
#include "options.h"
#include "statpage.h"
#include "stats.h"

/* Take a new snapshot: walk every slab in use (hk_pool_each_slab) and add
 * the counters; returns its epoch. */
uint64_t hk_report_refresh(void);

/* Copy of the latest snapshot (taken on first use if there is none). */
void hk_report_snapshot(struct hk_stats_snapshot *out);

/* The free counts of every thread heap, summed (hk_thread_sum). */
uint64_t hk_report_local_frees(void);
uint64_t hk_report_remote_frees(void);

/* The figures of the latest snapshot (taking one first if refresh) and
 * the current counters. */
void hk_report_collect(struct hk_figures *f, bool refresh);

/* Take a fresh snapshot, collect the figures into f if not NULL and write
 * them to the statistics page (hakmem_ctl's epoch, every report). */
void hk_report_publish(struct hk_figures *f);

/* The tree as one line of JSON (latest snapshot) into buf, always NUL-
 * terminated when size > 0; returns the length it needs, without the NUL. */
size_t hk_report_json(char *buf, size_t size);

/* The readable table (a fresh snapshot) to fd. */
void hk_report_print(int fd);

/* The slow path's work: a periodic report when due, and the page's
 * pending request. */
void hk_report_tick(void);

/* Called from the allocation slow path (tcache.c), next to the periodic
 * trim, and from large allocations (large.c): a few loads when nothing is
 * due. */
HK_INLINE void hk_report_poll(void)
{
	const struct hk_statpage *p = __atomic_load_n(&hk_statpage, __ATOMIC_RELAXED);
	if (HK_UNLIKELY(HK_OPT(stats_interval_ms) != 0 ||
			__atomic_load_n(&p->request, __ATOMIC_RELAXED) !=
				__atomic_load_n(&p->served, __ATOMIC_RELAXED)))
		hk_report_tick();
}

#endif

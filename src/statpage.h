/* The statistics page: how another process (hakmem-stat, run by the same
 * user or root) reads a running program's figures without its help.
 *
 * At start-up the library makes a 4 KiB memfd named "hakmem-stats" (sealed
 * against resizing), maps it shared, and keeps its descriptor open (close-
 * on-exec, moved to a high number). A reader finds the descriptor in
 * /proc/PID/fd, which the kernel lets only the process's owner and root
 * open (the ptrace read check), and maps it too.
 *
 * The figures are written ("published") when the snapshot is refreshed for
 * the process itself (hakmem_ctl's epoch, the reports) and when a reader
 * asks: it increments request; the next allocation slow path (or large
 * allocation) of any thread sees request != served, publishes, and sets served to the request
 * it answered. A process that makes no slow path does not answer; the
 * reader then shows the last figures with their age. Nothing on the fast
 * paths reads or writes the page.
 *
 * Consistency: seq is odd while the figures are written; a reader copies
 * the page, and retries if seq was odd or changed meanwhile. The figures
 * themselves are the process's snapshot (stats.h): per-class counts are
 * read racily from the slabs, exact when the program is quiet.
 *
 * This header is the wire format, shared with system/hakmem-stat.c: plain
 * C, no engine headers; fields only ever added at the end, with version
 * bumped when a field changes meaning. Access the words with __atomic
 * builtins (relaxed; seq with acquire/release). */
#ifndef HK_STATPAGE_H
#define HK_STATPAGE_H

#include <stdint.h>

#define HK_STATPAGE_NAME "hakmem-stats"
#define HK_STATPAGE_MAGIC 0x54534b48u /* "HKST" */
#define HK_STATPAGE_VERSION 1u
#define HK_STATPAGE_SIZE 4096u
#define HK_STATPAGE_MAX_CLASSES 64u

/* Every figure of the statistics tree, as in hakmem_ctl's stats.* (the
 * JSON keys are these names, with '.' for '_' where ctl nests them). */
struct hk_figures {
	uint64_t epoch;
	uint64_t allocated, resident, metadata;
	uint64_t mapped, mappings;
	uint64_t superslabs_live, superslabs_created, superslabs_released;
	uint64_t dirty, purged;
	uint64_t large_live, large_bytes, large_cached;
	uint64_t frees_local, frees_remote;
	uint64_t remote_pending;
	uint32_t nclasses, pad;
	struct hk_figures_class {
		uint64_t size, blocks, slabs;
	} classes[HK_STATPAGE_MAX_CLASSES];
};

struct hk_statpage {
	uint32_t magic, version;
	uint32_t size, header;	/* the page's size; offsetof(struct hk_statpage, f) */
	uint64_t seq;		/* odd while the process writes */
	uint64_t request;	/* incremented by readers that want fresh figures */
	uint64_t served;	/* the request the figures answer */
	uint64_t pid;		/* the writer, as the process sees itself */
	uint64_t time_ms;	/* CLOCK_MONOTONIC_COARSE at the last publication */
	uint64_t publications;	/* how many times the figures were written */
	char version_string[32];	/* the library's PACKAGE_VERSION */
	struct hk_figures f;
};

_Static_assert(sizeof(struct hk_statpage) <= HK_STATPAGE_SIZE, "the page holds the figures");

/* In the library (statpage.c); the tool uses none of these. */

/* The page, or a private placeholder when there is none: never NULL. */
extern struct hk_statpage *hk_statpage;

/* Make or remove the page, as opt.stats_page says. */
void hk_statpage_update(void);

/* Register the fork handlers and make the page if opt.stats_page says so;
 * called once at start-up, after the options are read (report.c). */
void hk_statpage_init(void);

/* Collect the figures with collect (report.c: a fresh snapshot), under
 * the page's lock so that publications do not overtake each other, into
 * f if not NULL, and write them to the page; answers any pending
 * request. */
void hk_statpage_publish(void (*collect)(struct hk_figures *), struct hk_figures *f);

#endif

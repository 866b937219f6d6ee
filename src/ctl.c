/* hakmem_ctl(): the name tree over statistics (and, later, options). */
#include "common.h"

#include <errno.h>
#include <string.h>

#include "hakmem.h"
#include "os.h"
#include "stats.h"
#include "thread.h"

enum ctl_type { CTL_U64, CTL_STR };

struct ctl_entry {
	const char *name;
	enum ctl_type type;
	uint64_t (*u64)(void);
	const char *str;
};

#define GLOBAL(fn, field) \
	static uint64_t fn(void) { return hk_stats_get(&hk_gstats.field); }
GLOBAL(ss_live, ss_live)
GLOBAL(ss_created, ss_created)
GLOBAL(ss_released, ss_released)
GLOBAL(large_live, large_live)

static uint64_t remote_frees(void)
{
	return hk_thread_sum(offsetof(hk_heap, remote_frees)) +
	       hk_stats_get(&hk_gstats.remote_frees);
}

static const struct ctl_entry entries[] = {
	{ "version", CTL_STR, NULL, PACKAGE_VERSION },
	{ "stats.superslabs.live", CTL_U64, ss_live, NULL },
	{ "stats.superslabs.created", CTL_U64, ss_created, NULL },
	{ "stats.superslabs.released", CTL_U64, ss_released, NULL },
	{ "stats.mappings", CTL_U64, hk_os_mappings, NULL },
	{ "stats.mapped", CTL_U64, hk_os_mapped_bytes, NULL },
	{ "stats.large.live", CTL_U64, large_live, NULL },
	{ "stats.remote_frees", CTL_U64, remote_frees, NULL },
};

HK_EXPORT int hakmem_ctl(const char *name, void *oldp, size_t *oldlenp, const void *newp,
			 size_t newlen)
{
	if (!name)
		return EINVAL;
	const struct ctl_entry *e = NULL;
	for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
		if (strcmp(entries[i].name, name) == 0)
			e = &entries[i];
	if (!e)
		return ENOENT;
	if (newp || newlen)
		return EPERM;
	size_t size = e->type == CTL_U64 ? sizeof(uint64_t) : sizeof(const char *);
	if (oldp) {
		if (!oldlenp || *oldlenp != size)
			return EINVAL;
		if (e->type == CTL_U64) {
			uint64_t v = e->u64();
			memcpy(oldp, &v, size);
		} else {
			memcpy(oldp, &e->str, size);
		}
	} else if (oldlenp) {
		*oldlenp = size;
	}
	return 0;
}

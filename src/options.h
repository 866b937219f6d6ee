/* The tunables, in one table. Defaults are built in; start-up overrides
 * and hakmem_ctl() writes come through options.c. */
#ifndef HK_OPTIONS_H
#define HK_OPTIONS_H

#include "common.h"

struct hk_options {
	unsigned ss_shift;	/* log2 SuperSlab size: 20 or 21 */
	unsigned ss_reserve;	/* empty SuperSlabs kept mapped */
	unsigned log_mask;	/* debug-log subsystems (debug builds only) */
};

extern struct hk_options hk_opt;

/* Read start-up settings; called once, before the first allocation, and
 * must not allocate. */
void hk_options_init(void);

#endif

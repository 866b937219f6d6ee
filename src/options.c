#include "options.h"

struct hk_options hk_opt = {
	.ss_shift = 21,
	.ss_reserve = 2,
	.log_mask = 0,
};

void hk_options_init(void)
{
}

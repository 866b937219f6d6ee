/* early_mod.c - a shared library for tests/hakmem.api/early_block.c.
 *
 * Its constructor allocates. With hakmem preloaded, the dynamic loader
 * runs the constructors of the program's libraries before those of the
 * preloaded ones, so this block is the first of the process and is made
 * before hakmem's constructor has read the options. Not linked with
 * hakmem. */
#include <stdlib.h>
#include <string.h>

static char *early;

__attribute__((constructor)) static void make_early(void)
{
	early = malloc(37);
	if (early)
		memset(early, 'e', 37);
}

char *early_block(void);

char *early_block(void)
{
	return early;
}

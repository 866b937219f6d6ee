/* A block made before hakmem's constructor ran (by a library's
 * constructor: the loader runs those first when hakmem is preloaded) must
 * be made as the options say: with canary = all, with its trailer, or the
 * first realloc or free of it, or of the block after it, reports a broken
 * canary (redis-server under canary = all stopped at its first realloc). */
/* hakmem-test: preload */
/* hakmem-test: no-valgrind */
/* hakmem-test: env HAKMEM_CANARY=all */
#include "../lib/check.h"

#include <malloc.h>

char *early_block(void);

int main(void)
{
	char *p = early_block();
	if (!CHECK(p != NULL, "the library's constructor allocated a block"))
		return hk_done();
	CHECK(malloc_usable_size(p) == 37,
	      "its usable size is the 37 bytes asked for: it has its trailer (%zu)",
	      malloc_usable_size(p));
	char *q = hk_launder(malloc(37));
	p = realloc(p, 40);
	CHECK(p && !memcmp(p, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 37),
	      "realloc keeps its contents");
	free(q);
	free(p);
	return hk_done();
}

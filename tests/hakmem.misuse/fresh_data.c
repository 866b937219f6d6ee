/* A fresh allocation showing the previous owner's data: fill a block, free
 * it, then allocate (and free) the same size many times; any block that
 * still holds a word of the fill is a miss. Zeroing on free or on
 * allocation prevents it. */
/* misuse-class: new block shows the previous owner's data */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	long times = n > 65536 ? 1000 : 100000;
	char *p = misuse_launder(malloc(n));
	if (!p)
		return 1;
	misuse_fill(p, n);
	free(p);
	for (long i = 0; i < times; i++) {
		char *q = misuse_launder(malloc(n));
		if (!q)
			return 1;
		size_t old = misuse_old_words(q, n);
		if (old > 0)
			misuse_missed("allocation %ld (%p) held %zu words of the "
				      "freed block's data", i + 1, (void *)q, old);
		free(q);
	}
	misuse_prevented("no old data in %ld allocations of %zu bytes", times,
			 n);
}

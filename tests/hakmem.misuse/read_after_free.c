/* Read after free: fill a block, free it, read it. Finding any of the old
 * contents is a miss; zeros (or another fill) prevent the leak, and a fault
 * catches the read. */
/* misuse-class: read after free sees old data */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	char *p = misuse_launder(malloc(n));
	if (!p)
		return 1;
	misuse_fill(p, n);
	char *stale = misuse_launder(p);
	free(p);
	size_t old = misuse_old_words(stale, n);
	if (old > 0)
		misuse_missed("%zu of %zu words of the freed block unchanged",
			      old, n / 8);
	misuse_prevented("no word of the freed %zu-byte block unchanged", n);
}

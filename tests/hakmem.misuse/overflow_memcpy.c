/* Overflow by 32 bytes: a memcpy that starts at the end of the block
 * (its usable size) and writes 32 bytes past it. */
/* misuse-class: overflow by 32 bytes (memcpy from the end) */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	char src[32];
	char *p = misuse_launder(malloc(n));
	if (!p)
		return 1;
	memset(p, 'a', n);
	memset(src, 'b', sizeof src);
	size_t usable = malloc_usable_size(p);
	memcpy(misuse_launder(p + usable), src, sizeof src);
	free(misuse_launder(p));
	misuse_churn(n, 100);
	misuse_missed("wrote bytes %zu..%zu of a %zu-byte block", usable,
		      usable + sizeof src - 1, n);
}

/* Overflow by 32 bytes: a memcpy that starts at the end of the block
 * (its usable size) and writes 32 bytes past it. */
/* misuse-class: overflow by 32 bytes (memcpy from the end) */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char src[32];
	char *p = misuse_block(argc, argv, &n);
	memset(src, 'b', sizeof src);
	size_t usable = malloc_usable_size(p);
	memcpy(misuse_launder(p + usable), src, sizeof src);
	misuse_free_churn(p, n);
	misuse_missed("wrote bytes %zu..%zu of a %zu-byte block", usable,
		      usable + sizeof src - 1, n);
}

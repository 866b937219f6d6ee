/* A far overflow: memset of 1 MiB starting at the end of a large block.
 * Only a guard region or an unmapped neighbour stops it. */
/* misuse-class: overflow by 1 MiB (memset from the end) */
/* misuse-args: large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	size_t usable = malloc_usable_size(p);
	memset(misuse_launder(p + usable), 'c', 1 << 20);
	misuse_free_churn(p, n);
	misuse_missed("wrote 1 MiB past a %zu-byte block", n);
}

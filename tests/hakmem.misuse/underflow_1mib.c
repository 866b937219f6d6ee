/* A far underflow: memset of the 1 MiB before a large block. Only a
 * guard region or an unmapped neighbour stops it. */
/* misuse-class: underflow by 1 MiB (memset ending at p) */
/* misuse-args: large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	memset(misuse_launder(p - (1 << 20)), 'c', 1 << 20);
	misuse_free_churn(p, n);
	misuse_missed("wrote 1 MiB before a %zu-byte block", n);
}

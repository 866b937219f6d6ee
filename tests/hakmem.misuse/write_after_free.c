/* Write after free: one byte in the middle of a freed block, then the
 * size is allocated and freed many times, so that an allocator that checks
 * freed blocks when it reuses them (a quarantine, a fill pattern) gets the
 * chance. A large block should fault at once (it was unmapped). */
/* misuse-class: write after free */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	char *stale = misuse_launder(p);
	free(p);
	stale[n / 2] ^= 1;
	misuse_churn(n, n > 65536 ? 1000 : 100000);
	misuse_missed("wrote byte %zu of a freed %zu-byte block", n / 2, n);
}

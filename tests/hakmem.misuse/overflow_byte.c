/* Overflow by one byte, a direct write to p[malloc_usable_size(p)], as
 * hardened_malloc's tests do: an allocator that reports the requested size
 * as the usable size is tested against its canary there. The free and the
 * reuse that follow are where a canary or a neighbour's header is checked. */
/* misuse-class: overflow by 1 byte past the usable size */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	size_t usable = malloc_usable_size(p);
	/* XOR, so the byte changes whatever a canary held there */
	((volatile char *)p)[usable] ^= 1;
	misuse_free_churn(p, n);
	misuse_missed("wrote byte %zu of a %zu-byte block", usable, n);
}

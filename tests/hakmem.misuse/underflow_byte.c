/* Underflow by one byte: a direct write to p[-1], where many allocators
 * keep the block's header. */
/* misuse-class: underflow by 1 byte (p[-1]) */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	((volatile char *)misuse_launder(p - 1))[0] ^= 1;
	misuse_free_churn(p, n);
	misuse_missed("wrote the byte before a %zu-byte block", n);
}

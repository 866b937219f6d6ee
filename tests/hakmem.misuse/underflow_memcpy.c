/* Underflow by 32 bytes: a memcpy that ends where the block starts. */
/* misuse-class: underflow by 32 bytes (memcpy ending at p) */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char src[32];
	char *p = misuse_block(argc, argv, &n);
	memset(src, 'b', sizeof src);
	memcpy(misuse_launder(p - sizeof src), src, sizeof src);
	misuse_free_churn(p, n);
	misuse_missed("wrote the %zu bytes before a %zu-byte block", sizeof src,
		      n);
}

/* Underflow by 32 bytes: a memcpy that ends where the block starts. */
/* misuse-class: underflow by 32 bytes (memcpy ending at p) */
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
	memcpy(misuse_launder(p - sizeof src), src, sizeof src);
	free(misuse_launder(p));
	misuse_churn(n, 100);
	misuse_missed("wrote the %zu bytes before a %zu-byte block", sizeof src,
		      n);
}

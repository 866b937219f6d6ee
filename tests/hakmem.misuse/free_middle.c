/* free() of a pointer into the middle of a block (16-byte aligned, so
 * that only knowing where blocks start can tell it from a block). */
/* misuse-class: free of a pointer into the middle of a block */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n;
	char *p = misuse_block(argc, argv, &n);
	size_t off = (n / 2) & ~(size_t)15;
	if (off == 0)
		off = 16;
	free(misuse_launder(p + off));
	misuse_churn(n, 100);
	misuse_missed("freed %p, %zu bytes into a %zu-byte block", p + off, off,
		      n);
}

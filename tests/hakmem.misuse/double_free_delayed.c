/* Delayed double free: another block of the size is allocated and freed
 * between the two frees, so the freed block is no longer the most recent
 * one (an allocator that only compares with the last free misses it). */
/* misuse-class: double free, delayed */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	void *p = misuse_launder(malloc(n));
	void *q = misuse_launder(malloc(n));
	if (!p || !q)
		return 1;
	free(misuse_launder(p));
	free(q);
	free(misuse_launder(p));
	void *a = misuse_launder(malloc(n));
	void *b = misuse_launder(malloc(n));
	void *c = misuse_launder(malloc(n));
	misuse_missed("freed %p twice; then malloc gave %p, %p and %p%s", p, a,
		      b, c, a == b || b == c || a == c ? " (a block twice)" : "");
}

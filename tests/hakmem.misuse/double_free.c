/* Immediate double free: free(p); free(p). Afterwards two allocations of
 * the size show whether the block is handed out twice. */
/* misuse-class: double free, immediate */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	void *p = misuse_launder(malloc(n));
	if (!p)
		return 1;
	free(misuse_launder(p));
	free(misuse_launder(p));
	void *a = misuse_launder(malloc(n));
	void *b = misuse_launder(malloc(n));
	misuse_missed("freed %p twice; then malloc gave %p and %p%s", p, a, b,
		      a == b ? " (the same block twice)" : "");
}

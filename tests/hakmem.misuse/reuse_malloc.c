/* Immediate reuse: the next malloc of the same size returns the block just
 * freed, so a dangling pointer to it now reaches the new owner's data. */
/* misuse-class: malloc returns the block just freed */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	void *p = misuse_launder(malloc(n));
	if (!p)
		return 1;
	uintptr_t freed = (uintptr_t)p;
	free(misuse_launder(p));
	void *q = misuse_launder(malloc(n));
	if (!q)
		return 1;
	if ((uintptr_t)q == freed)
		misuse_missed("malloc(%zu) returned %p again", n, q);
	misuse_prevented("malloc(%zu) returned %p, not the freed %p", n, q,
			 (void *)freed);
}

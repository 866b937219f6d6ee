/* Immediate reuse through realloc: another block grows to the size of a
 * block just freed; realloc returning the freed block is a miss. A live
 * block after the one grown keeps allocators that grow in place into the
 * next chunk from doing so (a realloc that still grows in place reuses
 * nothing: prevented). */
/* misuse-class: realloc returns the block just freed */
/* misuse-args: small medium large */
#include "misuse.h"

int main(int argc, char **argv)
{
	size_t n = misuse_size(argc, argv);
	void *p = misuse_launder(malloc(n));
	void *r = misuse_launder(malloc(1));
	void *fence = misuse_launder(malloc(1));
	if (!p || !r || !fence)
		return 1;
	uintptr_t freed = (uintptr_t)p, old = (uintptr_t)r;
	free(misuse_launder(p));
	void *q = misuse_launder(realloc(misuse_launder(r), n));
	if (!q)
		return 1;
	if ((uintptr_t)q == freed)
		misuse_missed("realloc(%p, %zu) returned the freed %p",
			      (void *)old, n, q);
	misuse_prevented("realloc(%p, %zu) returned %p, not the freed %p%s",
			 (void *)old, n, q, (void *)freed,
			 (uintptr_t)q == old ? " (in place)" : "");
}

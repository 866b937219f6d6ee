/* Write through a zero-size allocation, then free it: an inaccessible
 * block or a canary checked at free catches it. */
/* misuse-class: write through malloc(0) */
/* misuse-args: - */
#include "misuse.h"

int main(void)
{
	volatile char *p = misuse_launder(malloc(0));
	if (!p)
		misuse_prevented("malloc(0) returned NULL");
	p[0] ^= 1;
	free(misuse_launder((void *)p));
	misuse_churn(0, 100);
	misuse_missed("wrote through malloc(0) = %p", (void *)p);
}

/* Read through a zero-size allocation: malloc(0) returns a block with no
 * bytes to read; only an inaccessible one catches the read. */
/* misuse-class: read through malloc(0) */
/* misuse-args: - */
#include "misuse.h"

int main(void)
{
	volatile char *p = misuse_launder(malloc(0));
	if (!p)
		misuse_prevented("malloc(0) returned NULL");
	char c = p[0];
	misuse_missed("read 0x%02x through malloc(0) = %p", (unsigned char)c,
		      (void *)p);
}

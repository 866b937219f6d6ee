/* Prints hakmem_ctl's ctl.names (every name, its type and rw/ro, one a
 * line) for tests/hakmem.doc/doc.exp, which checks that hakmem_ctl(3)
 * documents each name. Not a test by itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "hakmem.h"

int main(void)
{
	size_t len = 0;
	int rc = hakmem_ctl("ctl.names", NULL, &len, NULL, 0);
	if (rc != 0 || len == 0) {
		fprintf(stderr, "ctl_names: hakmem_ctl(\"ctl.names\") size: %d\n", rc);
		return 1;
	}
	char *text = malloc(len);
	if (!text || (rc = hakmem_ctl("ctl.names", text, &len, NULL, 0)) != 0) {
		fprintf(stderr, "ctl_names: hakmem_ctl(\"ctl.names\"): %d\n", rc);
		return 1;
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

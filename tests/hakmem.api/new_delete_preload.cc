/* The C++ operators in a program not linked with hakmem, run with
 * LD_PRELOAD: hakmem's unversioned operators take the place of
 * libstdc++'s versioned ones, as its malloc does glibc's. The checks are
 * in ../lib/new_delete.h (shared with hakmem.api/new_delete.cc). */
/* hakmem-test: preload */
#include "../lib/check.h"
#include "../lib/new_delete.h"

int main()
{
	return hk_new_delete_main();
}

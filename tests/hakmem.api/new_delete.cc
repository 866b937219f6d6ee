/* The C++ operators in a program linked with hakmem (-lhakmem before
 * libstdc++, so the program's references bind to hakmem's operators).
 * The checks are in ../lib/new_delete.h; hakmem.api/new_delete_preload.cc
 * runs them under LD_PRELOAD. */
#include "../lib/check.h"
#include "../lib/new_delete.h"

int main()
{
	return hk_new_delete_main();
}

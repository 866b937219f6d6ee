/* Which C++ operator made a block: scalar new or new[]. new_delete.c
 * passes it from every operator to its one allocating and its one freeing
 * function, so that a check that delete matches new (delete of a new[]
 * block, delete[] of a new block) has it where it needs it. */
#ifndef HK_NEW_KIND_H
#define HK_NEW_KIND_H

enum hk_new_kind {
	HK_NEW_SCALAR,	/* operator new, operator delete */
	HK_NEW_ARRAY,	/* operator new[], operator delete[] */
};

#endif

// delete (not delete[]) of an array from new[]. For a type with a
// non-trivial destructor, new[] keeps the element count in front of the
// array, so delete hands operator delete a pointer into the block.
/* misuse-class: C++ delete of new[] */
/* misuse-args: int class */
#include "misuse.h"

template <typename T> static void misuse()
{
	T *a = static_cast<T *>(misuse_launder(new T[8]));
	delete a;
}

int main(int argc, char **argv)
{
	misuse_by_type(argc, argv, misuse<int>, misuse<misuse_counted>);
	misuse_churn(64, 100);
	misuse_missed("delete of new %s[8] went through", argv[1]);
}

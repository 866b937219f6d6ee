// delete[] of a single object from new. For a type with a non-trivial
// destructor, delete[] reads an element count from before the object
// (allocator metadata) and hands operator delete[] a pointer before the
// block.
/* misuse-class: C++ delete[] of new */
/* misuse-args: int class */
#include "misuse.h"

template <typename T> static void misuse()
{
	T *a = static_cast<T *>(misuse_launder(new T()));
	delete[] a;
}

int main(int argc, char **argv)
{
	misuse_by_type(argc, argv, misuse<int>, misuse<misuse_counted>);
	misuse_churn(64, 100);
	misuse_missed("delete[] of new %s went through", argv[1]);
}

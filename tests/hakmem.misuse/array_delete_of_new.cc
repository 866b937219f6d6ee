// delete[] of a single object from new. For a type with a non-trivial
// destructor, delete[] reads an element count from before the object
// (allocator metadata) and hands operator delete[] a pointer before the
// block.
/* misuse-class: C++ delete[] of new */
/* misuse-args: int class */
#include "misuse.h"

static volatile int sink;

struct counted {
	int v = 1;
	~counted() { sink = v; }
};

template <typename T> static void misuse()
{
	T *a = static_cast<T *>(misuse_launder(new T()));
	delete[] a;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "int") == 0)
		misuse<int>();
	else if (argc == 2 && strcmp(argv[1], "class") == 0)
		misuse<counted>();
	else
		return MISUSE_USAGE;
	misuse_churn(64, 100);
	misuse_missed("delete[] of new %s went through", argv[1]);
}

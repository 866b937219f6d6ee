// Sized delete with the wrong size: a 1-byte char from new, deleted as a
// 32-byte struct, so that operator delete(void *, size_t) is told 32.
// An allocator that checks the size against the block catches it.
/* misuse-class: C++ sized delete with a wrong size (1 byte as 32) */
/* misuse-args: - */
#include "misuse.h"

struct thirty_two {
	char bytes[32];
};

int main()
{
	char *c = new char('a');
	thirty_two *t = static_cast<thirty_two *>(misuse_launder(c));
	delete t;
	misuse_churn(1, 100);
	misuse_missed("deleted a 1-byte new as %zu bytes", sizeof(thirty_two));
}

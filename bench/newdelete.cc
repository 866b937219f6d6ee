/* newdelete - the C++ operators' fast paths, one thread, for callgrind.
 *
 *   newdelete scalar N:  N times { delete new obj; }   (obj: 64 bytes; the
 *                        compiler calls operator new and the sized
 *                        operator delete(void *, size_t))
 *   newdelete array N:   N times { delete[] new long[8]; }   (operator
 *                        new[] and the unsized operator delete[])
 *   newdelete empty N:   the same loop without the calls, to subtract
 *
 * Instructions per new+delete pair: (Ir(2N) - Ir(N)) / N under
 * valgrind --tool=callgrind, minus the same for empty (doc/performance.md,
 * "C++ operators"). */
#include <cstdio>
#include <cstdlib>
#include <cstring>

struct obj {
	long v[8];
};

static obj dummy;

#define ESCAPE(p) __asm__ volatile("" : : "g"(p) : "memory")
#define OPAQUE(p) __asm__ volatile("" : "+r"(p) : : "memory")

/* noinline: the three loops differ only in their calls. */
static __attribute__((noinline)) unsigned long run(const char *mode, unsigned long n)
{
	unsigned long check = 0;
	if (strcmp(mode, "scalar") == 0) {
		for (unsigned long i = 0; i < n; i++) {
			obj *p = new obj;
			ESCAPE(p);
			check += p == nullptr;
			delete p;
		}
	} else if (strcmp(mode, "array") == 0) {
		for (unsigned long i = 0; i < n; i++) {
			long *p = new long[8];
			ESCAPE(p);
			check += p == nullptr;
			delete[] p;
		}
	} else {
		for (unsigned long i = 0; i < n; i++) {
			obj *p = &dummy;
			OPAQUE(p);
			check += p == nullptr;
		}
	}
	return check;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "scalar") && strcmp(argv[1], "array") &&
			  strcmp(argv[1], "empty"))) {
		fprintf(stderr, "usage: newdelete scalar|array|empty N\n");
		return 2;
	}
	unsigned long n = strtoul(argv[2], nullptr, 10);
	return run(argv[1], n) != 0;
}

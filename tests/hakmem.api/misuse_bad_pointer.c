/* free() of pointers hakmem never returned: addresses on the stack, in
 * static data (.data, .bss, a string literal), in memory the program
 * mapped itself with mmap, unaligned pointers into a block, interior
 * pointers of small and large blocks, and an address inside a SuperSlab
 * that is not a block (its header).
 *
 * Each case runs in a child with opt.misuse=abort (it must die of SIGABRT)
 * and with opt.misuse=report (it must go on); both times stderr holds one
 * "hakmem:" line saying the pointer "was not returned by malloc", with its
 * address.  In report mode the child then checks that nothing was done to
 * the memory: the stack, static and mapped bytes are unchanged (and still
 * mapped), and a block whose interior was passed is still live, intact and
 * never handed out again. */
/* hakmem-test: no-valgrind */
#include "../lib/check.h"

#include <malloc.h>
#include <sys/mman.h>

static char data_buf[256] __attribute__((aligned(64))) = "initialised data";
static char bss_buf[256] __attribute__((aligned(64)));

struct bcase {
	const char *what;
	char *ptr;		/* passed to free() */
	char *mem;		/* what it points into, to check afterwards */
	size_t len;		/* bytes of mem to check */
	char *block;		/* when ptr is inside a heap block: the block */
	size_t block_size;
	unsigned char expect[256];	/* first bytes of mem before */
};

static bool mem_intact(const struct bcase *b)
{
	size_t n = b->len < sizeof b->expect ? b->len : sizeof b->expect;
	return memcmp(b->mem, b->expect, n) == 0;
}

static void bad_free(void *arg)
{
	struct bcase *b = arg;
	free(hk_launder(b->ptr));
	/* report mode: nothing happened */
	CHECK(mem_intact(b), "%s: the memory is unchanged", b->what);
	if (b->block) {
		size_t us = malloc_usable_size(b->block);
		CHECK(us >= b->block_size,
		      "%s: the block is still live (usable %zu)", b->what, us);
		/* the bad pointer is not handed out by its class */
		int seen = 0, n = b->block_size >= 65536 ? 40 : 300;
		void *v[300];
		for (int i = 0; i < n; i++) {
			v[i] = hk_launder(malloc(b->block_size));
			seen += v[i] == (void *)b->ptr || v[i] == (void *)b->block;
		}
		for (int i = 0; i < n; i++)
			free(v[i]);
		CHECK(seen == 0,
		      "%s: neither pointer is handed out afterwards (%d)",
		      b->what, seen);
		free(b->block);		/* a normal free: no message */
	}
}

/* Check that free(ptr) is caught as the misuse "what". */
static void run(struct bcase *b, const char *what, char *ptr)
{
	b->what = what;
	b->ptr = ptr;
	size_t n = b->len < sizeof b->expect ? b->len : sizeof b->expect;
	memcpy(b->expect, b->mem, n);
	hk_expect_misuse(b->what, bad_free, b, "was not returned by malloc",
			 hk_hex(b->ptr));
}

static void on_stack(void)
{
	char local[256];
	struct bcase b = { 0 };

	for (size_t i = 0; i < sizeof local; i++)
		local[i] = (char)i;
	b.mem = local;
	b.len = sizeof local;
	run(&b, "free(stack address)", local + 3);
	run(&b, "free(16-aligned stack address)",
	    (char *)(((uintptr_t)local + 31) & ~(uintptr_t)15));
}

int main(void)
{
	struct bcase b;

	on_stack();

	memset(&b, 0, sizeof b);
	b.mem = data_buf;
	b.len = sizeof data_buf;
	run(&b, "free(address in .data)", data_buf);

	memset(bss_buf, 0x21, sizeof bss_buf);
	memset(&b, 0, sizeof b);
	b.mem = bss_buf;
	b.len = sizeof bss_buf;
	run(&b, "free(address in .bss)", bss_buf + 64);

	static const char literal[] = "a string literal, read-only";
	memset(&b, 0, sizeof b);
	b.mem = (char *)literal;
	b.len = sizeof literal;
	run(&b, "free(string literal)", (char *)literal);

	char *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (CHECK(m != MAP_FAILED, "mmap 64 KiB")) {
		for (int i = 0; i < 65536; i++)
			m[i] = (char)(i * 7);
		memset(&b, 0, sizeof b);
		b.mem = m;
		b.len = 256;
		run(&b, "free(start of an mmap'd region)", m);
		run(&b, "free(mmap'd region + 16)", m + 16);
		b.mem = m + 4096;
		run(&b, "free(mmap'd region + 4096)", m + 4096);
		munmap(m, 65536);
	}

	/* Unaligned and interior pointers of small blocks. */
	static const size_t sizes[] = { 32, 256, 4096, 65536 };
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		char *blk = malloc(n);
		char what[96];
		if (!CHECK(blk != NULL, "malloc(%zu)", n))
			continue;
		for (size_t i = 0; i < n; i++)
			blk[i] = (char)(i ^ 0x5a);
		memset(&b, 0, sizeof b);
		b.mem = blk;
		b.len = n;
		b.block = blk;
		b.block_size = n;
		snprintf(what, sizeof what, "free(%zu-byte block + 1)", n);
		run(&b, what, blk + 1);
		snprintf(what, sizeof what, "free(%zu-byte block + 8)", n);
		run(&b, what, blk + 8);
		snprintf(what, sizeof what, "free(%zu-byte block + 16)", n);
		run(&b, what, blk + 16);
		snprintf(what, sizeof what, "free(middle of a %zu-byte block)",
			 n);
		run(&b, what, blk + n / 2);
		free(blk);
	}

	/* Interior pointers of a large block. */
	size_t big = (size_t)1 << 20;
	char *lb = malloc(big);
	if (CHECK(lb != NULL, "malloc(1 MiB)")) {
		for (size_t i = 0; i < 256; i++)
			lb[i] = (char)i;
		memset(&b, 0, sizeof b);
		b.mem = lb;
		b.len = 256;
		b.block = lb;
		b.block_size = big;
		run(&b, "free(1 MiB block + 16)", lb + 16);
		run(&b, "free(1 MiB block + 4096)", lb + 4096);
		run(&b, "free(1 MiB block + 1 MiB - 16)", lb + big - 16);
		run(&b, "free(1 MiB block - 64: its header)", lb - 64);
		free(lb);
	}

	/* A SuperSlab's header: inside hakmem's memory, but no block. */
	char *small = malloc(48);
	if (CHECK(small != NULL, "malloc(48)")) {
		uintptr_t ss_size = 0;
		/* SuperSlabs are 1 or 2 MiB, aligned to their size. */
		uint64_t lg = 21;
		size_t len = sizeof lg;
		hk_ctl_fn fn = hk_ctl();
		if (fn && fn("opt.superslab_lg", &lg, &len, NULL, 0) == 0)
			ss_size = (uintptr_t)1 << lg;
		char *ss = (char *)((uintptr_t)small & ~(ss_size - 1));
		memset(&b, 0, sizeof b);
		b.mem = small;
		b.len = 48;
		memset(small, 0x66, 48);
		run(&b, "free(SuperSlab header + 4096)", ss + 4096);
		run(&b, "free(SuperSlab header + 64)", ss + 64);
		free(small);
	}

	/* The parent is unaffected. */
	int bad = 0;
	for (int i = 0; i < 2000; i++) {
		void *p = hk_launder(malloc((size_t)i * 13 + 1));
		bad += p == NULL;
		free(p);
	}
	CHECK(bad == 0, "the parent still allocates normally (%d NULL)", bad);
	return hk_done();
}

/* The remote-free list of a slab (remote.h): blocks pushed by other
 * threads, while the owner drains and splices concurrently, reach the
 * free list exactly once, with the local key, and the counts (used, xsum)
 * follow; the walk of hk_remote_splice refuses a block without the remote
 * key or not at a block start, and cuts the list there; a parked slab
 * sends its first remote free to the owner heap's delayed list. */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>

#include "log.h"
#include "remote.h"
#include "size_class.h"
#include "slab.h"
#include "tcache.h"

#define CLS 0			/* 16-byte blocks: the most blocks a slot holds */
#define NPUSHERS 3

static hk_slab slab;
static char *start;
static uint32_t nblocks;	/* bumped, and counted in slab.used */

static hk_block *block(uint32_t i)
{
	return (hk_block *)(start + (size_t)i * hk_classes[CLS].block_size);
}

/* A fresh slab with n blocks handed out, as malloc would leave it. */
static void fresh_slab(uint32_t n)
{
	hk_slab_init(&slab, CLS, start, true);
	for (uint32_t i = 0; i < n; i++)
		hk_slab_bump(&slab);
	slab.used = nblocks = n;
}

struct pusher {
	pthread_t thread;
	unsigned index;
	uint32_t refused;	/* hk_remote_push returned false */
};

/* Pushes every NPUSHERS-th block, from block index on. */
static void *push_blocks(void *arg)
{
	struct pusher *p = arg;
	for (uint32_t i = p->index; i < nblocks; i += NPUSHERS)
		p->refused += !hk_remote_push(&slab, block(i));
	return NULL;
}

/* Index of b in the slab, or nblocks when it is not a block start. */
static uint32_t index_of(const hk_block *b)
{
	size_t off = (size_t)((const char *)b - start), bs = hk_classes[CLS].block_size;
	return off % bs == 0 && off / bs < nblocks ? (uint32_t)(off / bs) : nblocks;
}

/* Other threads push every block while this one, the owner, drains and
 * splices as it goes. */
static void concurrent(void)
{
	struct pusher p[NPUSHERS];
	uint32_t spliced = 0, splices = 0, refused = 0;

	fresh_slab(hk_classes[CLS].capacity);
	for (unsigned i = 0; i < NPUSHERS; i++) {
		p[i] = (struct pusher){ .index = i };
		if (pthread_create(&p[i].thread, NULL, push_blocks, &p[i]) != 0) {
			FAILED("pthread_create");
			return;
		}
	}
	double deadline = hk_now() + 60;
	while (spliced < nblocks && hk_now() < deadline) {
		hk_block *list = hk_remote_drain(&slab);
		if (list) {
			spliced += hk_remote_splice(&slab, list);
			splices++;
		} else if (hk_under_valgrind()) {
			/* Valgrind runs one thread at a time: let a pusher
			 * on (elsewhere, spinning meets more pushes). */
			sched_yield();
		}
	}
	for (unsigned i = 0; i < NPUSHERS; i++) {
		pthread_join(p[i].thread, NULL);
		refused += p[i].refused;
	}
	spliced += hk_remote_splice(&slab, hk_remote_drain(&slab));
	hk_note("%u blocks in %u splices", spliced, splices);

	CHECK(refused == 0, "hk_remote_push takes every block of an owned slab (%u refused)", refused);
	CHECK(spliced == nblocks, "the splices count every pushed block (%u of %u)", spliced, nblocks);
	CHECK(slab.used == 0, "used drops to 0 (%u)", slab.used);
	CHECK(hk_remote_drain(&slab) == NULL, "the remote list is empty afterwards");

	/* The free list: each block exactly once, with the local key. */
	static uint8_t seen[HK_SLOT_SIZE / 16];
	uint32_t n = 0, stray = 0, twice = 0, bad_key = 0;
	uintptr_t x = 0;
	memset(seen, 0, sizeof seen);
	for (hk_block *b = slab.free; b && n <= nblocks; b = b->next, n++) {
		uint32_t i = index_of(b);
		if (i == nblocks) {
			stray++;
			break;
		}
		twice += seen[i]++ != 0;
		bad_key += b->key != hk_free_key.value;
		x ^= (uintptr_t)b;
	}
	CHECK(n == nblocks && stray == 0 && twice == 0,
	      "every block is on the free list exactly once (%u listed, %u not blocks, %u twice)", n,
	      stray, twice);
	CHECK(bad_key == 0, "every spliced block has the local key (%u without)", bad_key);
	CHECK(slab.xsum == x && x == slab.bumpx,
	      "xsum is the XOR of the free list, which is every block bumped");
	CHECK(hk_slab_check_empty(&slab), "the emptied slab passes hk_slab_check_empty");
}

/* Links blocks idx[0..n) into a list as pushes would leave it: remote key,
 * first index at the head. */
static hk_block *make_list(const uint32_t *idx, unsigned n)
{
	hk_block *head = NULL;
	for (unsigned i = n; i-- > 0;) {
		hk_block *b = block(idx[i]);
		b->key = hk_free_key.remote;
		b->next = head;
		head = b;
	}
	return head;
}

static const uint32_t bad_list[] = { 9, 3, 7, 5, 1 };
#define BAD_AT 3		/* bad_list[BAD_AT] is spoilt */

static void splice_bad_key(void *arg)
{
	(void)arg;
	fresh_slab(16);
	hk_block *list = make_list(bad_list, 5);
	block(bad_list[BAD_AT])->key = hk_free_key.value;
	hk_remote_splice(&slab, list);
}

/* A block with the wrong key, or a pointer into the middle of a block:
 * splice reports it and takes only the blocks before it. */
static void refused(void)
{
	struct hk_child c;
	char how[96];

	hk_run_child(splice_bad_key, NULL, 30, &c);
	CHECK(hk_child_aborted(&c), "misuse=abort: a block with the local key on a remote list "
	      "aborts (%s)", hk_child_how(&c, how, sizeof how));
	CHECK(hk_output_matches(c.err, hk_hex(block(bad_list[BAD_AT]))) &&
	      hk_output_matches(c.err, "double free"),
	      "misuse=abort: the message names a double free and the block (stderr: %.200s)", c.err);

	__atomic_store_n(&hk_log_misuse, HK_MISUSE_REPORT, __ATOMIC_RELAXED);
	for (int kind = 0; kind < 2; kind++) {
		const char *what = kind == 0 ? "a block with the local key" : "a pointer inside a block";
		fresh_slab(16);
		hk_block *list = make_list(bad_list, 5);
		hk_block *prev = block(bad_list[BAD_AT - 1]);
		if (kind == 0) {
			block(bad_list[BAD_AT])->key = hk_free_key.value;
		} else {
			hk_block *inner = (hk_block *)((char *)block(bad_list[BAD_AT]) + 8);
			inner->key = hk_free_key.remote;
			inner->next = NULL;
			prev->next = inner;
		}
		uint32_t n = hk_remote_splice(&slab, list);
		uint32_t listed = 0, before = 0;
		for (hk_block *b = slab.free; b && listed < 16; b = b->next, listed++)
			for (unsigned i = 0; i < BAD_AT; i++)
				before += b == block(bad_list[i]) && b->key == hk_free_key.value;
		CHECK(n == BAD_AT && slab.used == 16 - BAD_AT,
		      "misuse=report, %s: splice takes the blocks before it (%u taken, used %u)", what,
		      n, slab.used);
		CHECK(listed == BAD_AT && before == BAD_AT,
		      "misuse=report, %s: exactly those are on the free list, with the local key "
		      "(%u listed, %u of them)", what, listed, before);
		CHECK(prev->next == NULL, "misuse=report, %s: the list is cut before it", what);
	}
	__atomic_store_n(&hk_log_misuse, HK_MISUSE_ABORT, __ATOMIC_RELAXED);
}

/* Parked (NOTIFY): the first remote free goes to the owner heap's delayed
 * list and unparks the slab; later ones go to the slab; with no owner,
 * push says so. */
static void parked(void)
{
	static hk_heap heap;

	fresh_slab(4);
	hk_slab_set_owner(&slab, &heap, false);
	CHECK(hk_remote_drain_park(&slab) == NULL, "park an empty remote list");
	CHECK(hk_remote_push(&slab, block(0)), "push into a parked slab");
	CHECK(atomic_load(&heap.delayed) == block(0) && block(0)->key == hk_free_key.remote,
	      "the first push into a parked slab lands on the owner's delayed list");
	CHECK(hk_remote_drain(&slab) == NULL, "... and not on the slab's list");
	CHECK(hk_remote_push(&slab, block(1)) && hk_remote_drain(&slab) == block(1),
	      "the next push goes to the slab's list (unparked)");

	hk_slab_set_owner(&slab, NULL, false);
	hk_remote_drain_park(&slab);
	CHECK(!hk_remote_push(&slab, block(2)), "push into a parked slab without owner is refused");
	CHECK(atomic_load(&heap.delayed) == block(0), "... and the delayed list is left alone");
}

int main(void)
{
	char *map = mmap(NULL, 2 * HK_SLOT_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		FAILED("mmap (%s)", strerror(errno));
		return hk_done();
	}
	start = (char *)hk_align_up((uintptr_t)map, HK_SLOT_SIZE);
	/* The engine's start-up sets random keys; a test build must not
	 * depend on it having run. */
	if (hk_free_key.value == hk_free_key.remote) {
		hk_free_key.value = 0x5a5a5a5a5a5a5a50;
		hk_free_key.remote = 0xa5a5a5a5a5a5a5a0;
	}

	concurrent();
	refused();
	parked();
	munmap(map, 2 * HK_SLOT_SIZE);
	return hk_done();
}

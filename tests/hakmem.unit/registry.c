/* The registry (registry.h): one entry per 64 KiB slot of the 47-bit
 * address space, in leaves of 2^14 slots. Entries at the lowest and the
 * highest slot it covers, across a leaf boundary, around a set range (the
 * slots next to it stay 0), for unaligned ranges; addresses at or beyond
 * 2^47 and NULL are never found, however their low bits read; clearing, also of a
 * range whose second leaf was never prepared (a failed large mapping).
 * Only the addresses are used: lookup never reads the memory. */
#include "check.h"

#include "registry.h"

#define SLOT ((uintptr_t)HK_SLOT_SIZE)
#define LEAF_SPAN ((uintptr_t)1 << (HK_REG_SHIFT + HK_REG_LEAF_BITS))
#define TOP ((uintptr_t)1 << HK_REG_ADDR_BITS)

static const void *ptr(uintptr_t a)
{
	return (const void *)a;
}

/* lookup(a) == want, as one check named by what. */
static bool expect(uintptr_t a, uintptr_t want, const char *what)
{
	uintptr_t got = hk_registry_lookup(ptr(a));
	return CHECK(got == want, "%s (lookup(%#" PRIxPTR ") = %#" PRIxPTR ", want %#" PRIxPTR ")",
		     what, a, got, want);
}

static void lowest(void)
{
	expect(0, 0, "NULL is not found before anything is registered");
	CHECK(hk_registry_prepare(ptr(0), SLOT), "prepare the lowest slot");
	expect(0, 0, "NULL is not found in a prepared, unset slot");
	hk_registry_set(ptr(0), SLOT, 0x1230);
	expect(0, 0x1230, "lowest slot: its first byte (NULL)");
	expect(SLOT - 1, 0x1230, "lowest slot: its last byte");
	expect(SLOT, 0, "lowest slot: the next slot is not set");
	hk_registry_set(ptr(0), SLOT, 0);
	expect(0, 0, "lowest slot: cleared");
	expect(SLOT - 1, 0, "lowest slot: cleared, last byte");
}

static void highest(void)
{
	uintptr_t last = TOP - SLOT;
	CHECK(hk_registry_prepare(ptr(last), SLOT), "prepare the highest slot below 2^47");
	hk_registry_set(ptr(last), SLOT, 0x4560);
	expect(last, 0x4560, "highest slot: its first byte");
	expect(TOP - 1, 0x4560, "highest slot: its last byte (2^47 - 1)");
	expect(last - 1, 0, "highest slot: the slot below is not set");
	/* Same low 47 bits as the set slot: must not alias it. */
	expect(TOP, 0, "2^47 is beyond the registry");
	expect(TOP | last, 0, "2^47 + the highest slot is beyond the registry");
	expect(((uintptr_t)1 << 63) | last, 0, "bit 63 + the highest slot is beyond the registry");
	expect(UINTPTR_MAX, 0, "the last address is beyond the registry");
	expect(UINTPTR_MAX - SLOT + 1, 0, "the last slot of the address space is beyond the registry");
	hk_registry_set(ptr(last), SLOT, 0);
	expect(TOP - 1, 0, "highest slot: cleared");

	CHECK(!hk_registry_prepare(ptr(last), 2 * SLOT), "prepare refuses a range that ends beyond 2^47");
	CHECK(!hk_registry_prepare(ptr(TOP), SLOT), "prepare refuses a range at 2^47");
	CHECK(!hk_registry_prepare(ptr(UINTPTR_MAX - 9), 100),
	      "prepare refuses a range that wraps around the address space");
}

/* A range across the boundary between leaves 0 and 1 (at 1 GiB). */
static void leaf_boundary(void)
{
	uintptr_t base = LEAF_SPAN - 2 * SLOT;
	CHECK(hk_registry_prepare(ptr(base), 4 * SLOT), "prepare a range across a leaf boundary");
	CHECK(atomic_load(&hk_reg_top[0]) != NULL && atomic_load(&hk_reg_top[1]) != NULL,
	      "both leaves of the range are mapped");
	hk_registry_set(ptr(base), 4 * SLOT, 0x7890);
	expect(base - 1, 0, "leaf boundary: the byte before the range");
	expect(base, 0x7890, "leaf boundary: the first byte of the range");
	expect(LEAF_SPAN - 1, 0x7890, "leaf boundary: the last byte of the first leaf");
	expect(LEAF_SPAN, 0x7890, "leaf boundary: the first byte of the second leaf");
	expect(base + 4 * SLOT - 1, 0x7890, "leaf boundary: the last byte of the range");
	expect(base + 4 * SLOT, 0, "leaf boundary: the byte after the range");
	hk_registry_set(ptr(base), 4 * SLOT, 0);
	expect(LEAF_SPAN - 1, 0, "leaf boundary: cleared, first leaf");
	expect(LEAF_SPAN, 0, "leaf boundary: cleared, second leaf");
}

/* Set ranges side by side: each slot keeps its own entry. */
static void neighbours(void)
{
	uintptr_t base = LEAF_SPAN + 100 * SLOT;
	size_t wrong = 0;
	CHECK(hk_registry_prepare(ptr(base - SLOT), 6 * SLOT), "prepare a range and its neighbours");
	hk_registry_set(ptr(base), 3 * SLOT, 0xa0);
	hk_registry_set(ptr(base + 3 * SLOT), SLOT, 0xb0);
	expect(base - 1, 0, "neighbours: the slot before a set range is not set");
	for (uintptr_t a = base; a < base + 3 * SLOT; a += SLOT / 4)
		wrong += hk_registry_lookup(ptr(a)) != 0xa0 || hk_registry_lookup(ptr(a + SLOT / 4 - 1)) != 0xa0;
	CHECK(wrong == 0, "neighbours: every byte of a three-slot range finds its entry (%zu wrong)",
	      wrong);
	expect(base + 3 * SLOT - 1, 0xa0, "neighbours: the last byte of the range");
	expect(base + 3 * SLOT, 0xb0, "neighbours: the next range's own entry");
	expect(base + 4 * SLOT, 0, "neighbours: the slot after both is not set");
	hk_registry_set(ptr(base + SLOT), SLOT, 0);
	expect(base + SLOT, 0, "neighbours: a slot cleared inside the range");
	expect(base + SLOT - 1, 0xa0, "neighbours: the slot before the cleared one is kept");
	expect(base + 2 * SLOT, 0xa0, "neighbours: the slot after the cleared one is kept");

	/* Not slot-aligned: every slot the bytes touch gets the entry. */
	hk_registry_set(ptr(base), 4 * SLOT, 0);
	hk_registry_set(ptr(base + 100), SLOT, 0xc0);
	expect(base, 0xc0, "unaligned range: the slot of its first byte");
	expect(base + SLOT + 99, 0xc0, "unaligned range: the slot of its last byte");
	expect(base + 2 * SLOT, 0, "unaligned range: the slot after it is not set");
	hk_registry_set(ptr(base + 100), SLOT, 0);
	expect(base, 0, "unaligned range: cleared, first slot");
	expect(base + SLOT, 0, "unaligned range: cleared, second slot");
}

/* A leaf nobody prepared: lookups find nothing (and read no leaf). */
static void unprepared(void)
{
	uintptr_t far = 5 * LEAF_SPAN + 7 * SLOT;
	CHECK(atomic_load(&hk_reg_top[5]) == NULL, "an address range nobody prepared has no leaf");
	expect(far, 0, "an address in a leaf that does not exist is not found");

	/* A range across leaves 5 and 6 of which only 5 was prepared, as
	 * when a large mapping's prepare failed at its second leaf: clearing
	 * it (the failure path) must not touch leaf 6. */
	uintptr_t edge = 6 * LEAF_SPAN - 2 * SLOT;
	CHECK(hk_registry_prepare(ptr(edge), SLOT), "prepare the first slot of a range across a leaf boundary");
	CHECK(atomic_load(&hk_reg_top[6]) == NULL, "the second leaf of that range does not exist");
	hk_registry_set(ptr(edge), SLOT, 0xd0);
	hk_registry_set(ptr(edge), 5 * SLOT, 0);
	expect(edge, 0, "clearing a range with a missing leaf clears the slots of the leaf it has");
	CHECK(atomic_load(&hk_reg_top[6]) == NULL, "clearing does not make the missing leaf");
}

int main(void)
{
	lowest();
	highest();
	leaf_boundary();
	neighbours();
	unprepared();
	return hk_done();
}

"""hkbench.runner.make_plan: the order of the runs (rotation)."""

import collections
import unittest

from hkbench.runner import make_plan

ALLOCS = [("glibc", None), ("mimalloc", "m.so"), ("hakmem", "h.so")]
CONFIGS = [("larson", 1), ("larson", 4), ("sizemix", 1), ("perl", 1)]


class Rotation(unittest.TestCase):
    def setUp(self):
        self.plan = make_plan(CONFIGS, ALLOCS, 3)

    def test_every_allocator_once_per_configuration_and_repetition(self):
        n = collections.Counter((rep, w, t, a) for rep, w, t, a, _ in self.plan)
        self.assertEqual(len(self.plan), 3 * len(CONFIGS) * len(ALLOCS))
        self.assertEqual(set(n.values()), {1})

    def test_repetitions_go_round_the_whole_suite(self):
        reps = [rep for rep, *_ in self.plan]
        self.assertEqual(reps, sorted(reps))

    def test_first_allocator_rotates(self):
        firsts = [self.plan[i][3] for i in range(0, len(self.plan), len(ALLOCS))]
        self.assertEqual(firsts[:4], ["glibc", "mimalloc", "hakmem", "glibc"])
        # each configuration starts with a different allocator each repetition
        by_config = collections.defaultdict(list)
        for i in range(0, len(self.plan), len(ALLOCS)):
            rep, w, t, a, _ = self.plan[i]
            by_config[(w, t)].append(a)
        for firsts in by_config.values():
            self.assertEqual(sorted(firsts), sorted(a for a, _ in ALLOCS))

    def test_order_is_a_rotation_not_a_shuffle(self):
        names = [a for a, _ in ALLOCS]
        for i in range(0, len(self.plan), len(ALLOCS)):
            group = [p[3] for p in self.plan[i:i + len(ALLOCS)]]
            k = names.index(group[0])
            self.assertEqual(group, names[k:] + names[:k])

    def test_libraries_follow_their_allocator(self):
        libs = dict(ALLOCS)
        for _, _, _, a, lib in self.plan:
            self.assertEqual(lib, libs[a])


if __name__ == "__main__":
    unittest.main()

"""hkbench.workloads: thread counts and the selection of workloads."""

import unittest

from hkbench.workloads import WORKLOADS, WORKLOADS_BY_NAME, select


class ThreadCounts(unittest.TestCase):
    def test_single_threaded(self):
        self.assertEqual(WORKLOADS_BY_NAME["tight-pair"].thread_counts([1, 4, 16]), [1])

    def test_even_threads_only(self):
        w = WORKLOADS_BY_NAME["prodcons"]
        self.assertEqual(w.thread_counts([1, 2, 3, 4, 16]), [2, 4, 16])
        self.assertEqual(w.thread_counts([1]), [2])

    def test_own_counts_unless_given(self):
        w = WORKLOADS_BY_NAME["xbatch"]
        self.assertEqual(w.thread_counts([1, 4], "quick", explicit=False), [2, 4])
        self.assertEqual(w.thread_counts([1, 4, 16], "quick", explicit=True), [4, 16])
        self.assertEqual(w.thread_counts([1], "quick", explicit=True), [2])


class Select(unittest.TestCase):
    def test_groups_and_globs(self):
        names = [w.name for w in select(["xbatch*", "programs"])]
        self.assertEqual(names[:2], ["xbatch", "xbatch-large"])
        self.assertIn("redis", names)
        self.assertNotIn("larson", names)

    def test_no_duplicates(self):
        self.assertEqual(len(select(["larson-std*", "micro"])),
                         len([w for w in WORKLOADS if w.kind == "micro"]))

    def test_unknown_name(self):
        with self.assertRaises(SystemExit):
            select(["no-such-workload"])


if __name__ == "__main__":
    unittest.main()

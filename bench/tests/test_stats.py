"""hkbench.stats: medians of a figure's runs and ratios to the best other
allocator."""

import math
import unittest

from hkbench.runner import Run
from hkbench.stats import Cell, geomean, ratios


def run(time=None, rss=None, tput=None, other_cpu="0.0", error="", user="1", sys_="0"):
    return Run(time_s="" if time is None else str(time), maxrss_kb="" if rss is None else str(rss),
               ops_per_s="" if tput is None else str(tput), other_cpu=other_cpu,
               user_s=user, sys_s=sys_, error=error)


class Medians(unittest.TestCase):
    def test_odd_count(self):
        c = Cell([run(3.0), run(1.0), run(2.0)])
        self.assertEqual(c.time, 2.0)
        self.assertEqual((c.time_min, c.time_max), (1.0, 3.0))
        self.assertEqual(c.n, 3)

    def test_even_count_is_the_mean_of_the_middle_two(self):
        self.assertEqual(Cell([run(1.0), run(2.0), run(4.0), run(10.0)]).time, 3.0)

    def test_spread(self):
        self.assertAlmostEqual(Cell([run(1.0), run(2.0), run(3.0)]).spread, 1.0)

    def test_failed_runs_do_not_count(self):
        c = Cell([run(1.0), run(100.0, error="exit status 1"), run(3.0)])
        self.assertEqual(c.time, 2.0)
        self.assertEqual(c.errors, ["exit status 1"])

    def test_disturbed_runs_left_out_when_enough_are_clean(self):
        rs = [run(1.0), run(2.0), run(3.0), run(50.0, other_cpu="0.9")]
        c = Cell(rs, need=3)
        self.assertEqual(c.time, 2.0)
        self.assertFalse(c.disturbed)
        self.assertEqual((c.n, c.n_all), (3, 4))

    def test_disturbed_runs_kept_when_too_few_are_clean(self):
        rs = [run(1.0), run(2.0, other_cpu="0.5"), run(9.0, other_cpu="0.5")]
        c = Cell(rs, need=3)
        self.assertTrue(c.disturbed)
        self.assertEqual(c.time, 2.0)

    def test_clock_workload_has_throughput_but_no_time(self):
        c = Cell([run(5.0, tput=100), run(5.0, tput=300), run(5.0, tput=200)], clock=True)
        self.assertIsNone(c.time)
        self.assertIsNone(c.cpu)
        self.assertEqual(c.tput, 200)
        self.assertAlmostEqual(c.spread, 1.0)

    def test_rss_and_cpu(self):
        c = Cell([run(1, rss=100, user="1", sys_="1"), run(1, rss=300, user="2", sys_="2")])
        self.assertEqual(c.rss, 200)
        self.assertEqual(c.cpu, 3.0)


class Ratios(unittest.TestCase):
    def cells(self, **times):
        cs = {a: Cell([run(t, rss=1000 * t, tput=1 / t)]) for a, t in times.items()}
        ratios(cs)
        return cs

    def test_time_against_the_best_other(self):
        cs = self.cells(glibc=4.0, mimalloc=2.0, hakmem=1.0)
        self.assertEqual(cs["hakmem"].ratio_time, 0.5)   # best other: mimalloc
        self.assertEqual(cs["mimalloc"].ratio_time, 2.0)  # best other: hakmem
        self.assertEqual(cs["glibc"].ratio_time, 4.0)

    def test_rss_lower_is_better_throughput_higher(self):
        cs = self.cells(glibc=4.0, hakmem=2.0)
        self.assertEqual(cs["hakmem"].ratio_rss, 0.5)
        self.assertEqual(cs["hakmem"].ratio_tput, 2.0)
        self.assertEqual(cs["glibc"].ratio_tput, 0.5)

    def test_no_other_no_ratio(self):
        cs = self.cells(hakmem=1.0)
        self.assertIsNone(cs["hakmem"].ratio_time)

    def test_geomean(self):
        self.assertAlmostEqual(geomean([1.0, 4.0]), 2.0)
        self.assertAlmostEqual(geomean([2.0, None, 0, 8.0]), 4.0)
        self.assertIsNone(geomean([]))
        self.assertTrue(math.isclose(geomean([3.0]), 3.0))


if __name__ == "__main__":
    unittest.main()

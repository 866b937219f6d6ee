"""hakmem's benchmark suite, run by bench/run (its --help says how).

workloads: what the suite runs; prepare: set-up; runner: the runs;
machine: CPU load and machine.txt; redis: the redis-server harness
(shared with tools/check-programs); stats: medians and ratios; report:
results.md and results.csv; plots: gnuplot; cli: the options and main.
"""

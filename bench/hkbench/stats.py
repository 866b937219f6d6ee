"""The statistics of the report: medians of a figure's runs (undisturbed
ones when there are enough) and ratios to the best other allocator."""

import math
import statistics


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


CLEAN_CPU = 0.2   # a run is undisturbed when others used < 0.2 cores meanwhile


def is_clean(r):
    oc = fnum(r.other_cpu)
    return oc is not None and oc < CLEAN_CPU


def clean_needed(repeat):
    return min(3, repeat)


class Cell:
    """Medians of one (workload, threads, allocator). When enough runs were
    undisturbed by other processes, only those count. A workload that runs
    by the clock (clock=True) has no time or CPU-time figure: it took as
    long as it was told to; its spread is that of its throughput."""

    def __init__(self, runs, need=1, clock=False):
        good = [r for r in runs if r.ok()]
        clean = [r for r in good if is_clean(r)]
        self.n_all = len(good)
        self.disturbed = len(clean) < need and len(good) > len(clean)
        if not self.disturbed:
            good = clean or good
        self.n = len(good)
        self.errors = [r.error for r in runs if not r.ok()]
        t = [fnum(r.time_s) for r in good if fnum(r.time_s) and not clock]
        rss = [fnum(r.maxrss_kb) for r in good if fnum(r.maxrss_kb)]
        tp = [fnum(r.ops_per_s) for r in good if fnum(r.ops_per_s)]
        oc = [fnum(r.other_cpu) for r in good if fnum(r.other_cpu) is not None]
        self.time = statistics.median(t) if t else None
        self.time_min = min(t) if t else None
        self.time_max = max(t) if t else None
        self.rss = statistics.median(rss) if rss else None
        self.rss_min = min(rss) if rss else None
        self.rss_max = max(rss) if rss else None
        self.tput = statistics.median(tp) if tp else None
        self.other_cpu = statistics.median(oc) if oc else None
        self.minflt = statistics.median([fnum(r.minflt) for r in good if fnum(r.minflt)] or [0])
        # Minor page faults per million operations (the operations the run
        # reported; for real programs, their allocations, counted once).
        fpm = [fnum(r.minflt) * 1e6 / fnum(r.ops) for r in good
               if fnum(r.minflt) is not None and fnum(r.ops)]
        self.flt_mop = statistics.median(fpm) if fpm else None
        ops = [fnum(r.ops) for r in good if fnum(r.ops)]
        self.ops = statistics.median(ops) if ops else None
        self.sys = statistics.median([fnum(r.sys_s) for r in good if fnum(r.sys_s) is not None] or [0])
        self.user = statistics.median([fnum(r.user_s) for r in good if fnum(r.user_s) is not None] or [0])
        self.spread = ((self.time_max - self.time_min) / self.time) if t and self.time else None
        if clock and tp and self.tput:
            self.spread = (max(tp) - min(tp)) / self.tput
        cpu = [fnum(r.user_s) + fnum(r.sys_s) for r in good
               if fnum(r.user_s) is not None and fnum(r.sys_s) is not None and not clock]
        self.cpu = statistics.median(cpu) if cpu else None
        self.ratio_time = self.ratio_rss = self.ratio_tput = self.ratio_cpu = None
        self.ratio_flt = None


def ratios(cells):
    """Each allocator's medians as ratios to the best *other* allocator."""
    for a, c in cells.items():
        others = [o for b, o in cells.items() if b != a]
        ot = [o.time for o in others if o.time]
        orss = [o.rss for o in others if o.rss]
        otp = [o.tput for o in others if o.tput]
        ocpu = [o.cpu for o in others if o.cpu]
        oflt = [o.flt_mop for o in others if o.flt_mop]
        c.ratio_flt = c.flt_mop / min(oflt) if c.flt_mop and oflt else None
        c.ratio_cpu = c.cpu / min(ocpu) if c.cpu and ocpu else None
        c.ratio_time = c.time / min(ot) if c.time and ot else None
        c.ratio_rss = c.rss / min(orss) if c.rss and orss else None
        c.ratio_tput = c.tput / max(otp) if c.tput and otp else None

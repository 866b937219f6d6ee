"""bench/run: run hakmem's benchmark suite against the other allocators.

usage: bench/run [--quick | --full] [--only LIST] [--skip LIST]
                 [--allocators LIST] [--repeat N] [--threads LIST]
                 [--out DIR] [--hakmem LIB] [--build-dir DIR] [--bin-dir DIR]
                 [--hakmem-callgrind LIB] [--idle-wait S] [--retry-budget S]
                 [--note TEXT] [--no-install] [--no-plots] [--list]
       bench/run --report-from DIR

Runs every workload of the suite (the programs in bench/, real programs
from Debian's packages, a Larson soak test and a callgrind count of the
tight loop) under hakmem and under each other allocator present: glibc's
malloc (nothing preloaded), mimalloc, jemalloc and tcmalloc from Debian
through LD_PRELOAD. Within each repetition every workload runs under every
allocator, in an order that rotates from one repetition to the next, and
repetitions go round the whole suite, so that a slow spell of the machine
hits one sample of many figures instead of every sample of one. The
report gives medians of time (or throughput) and of peak RSS (measured
from the outside, the same way for every allocator: the command's VmHWM
when it exits, or wait4()'s figure where that is larger), each as a ratio
to the best *other* allocator of the same run.

Output (in --out, default ./bench-results): results.md (tables, targets),
results.csv (medians and ratios), raw.csv (every run), meta.json,
machine.txt, plots/*.png (gnuplot), logs/ (output of failed runs), soak/
(RSS samples).

Modes: --full (the default; about forty minutes on a 2-core machine) is for
people; --quick (about a minute) proves that the suite works and is what CI
runs. The exit status is non-zero when a run failed or a workload's output
differed between allocators, never because of a performance ratio.

Options:
  --quick, --full        mode (sizes, thread counts, repetitions)
  --only LIST            comma-separated workload names or globs, or the
                         groups micro, programs, soak, callgrind
  --skip LIST            the same, to leave out
  --allocators LIST      default: glibc,mimalloc,jemalloc,tcmalloc,hakmem
  --repeat N             repetitions (default: full 5, quick 1)
  --threads LIST         thread counts of threaded workloads
                         (default: full 1,2,4,8,16; quick 1,4; but
                         larson-std 1,2,4, larson-std-cxx 2, xbatch 2,4,8
                         (quick 2,4) and xbatch-large 8 unless this is given)
  --out DIR              output directory (default ./bench-results)
  --hakmem LIB           libhakmem.so.1 to test (default: found in
                         --build-dir, ./_build, or the source tree)
  --build-dir DIR        a configured hakmem build directory
  --bin-dir DIR          where the workload programs are built (default:
                         DIR/bench of the build dir when they are there,
                         else they are compiled into OUT/bin)
  --hakmem-callgrind LIB hakmem built without Valgrind client requests, for
                         the callgrind count (default: built from the source
                         tree into OUT/hakmem-novg; under Valgrind the
                         normal build takes its memcheck-reporting path)
  --idle-wait S          before each run, wait up to S seconds for other
                         processes to leave the CPUs idle, and at most 5
                         minutes in all (default: full 5, quick 0)
  --note TEXT            a note for the report (e.g. which hakmem commit)
  --retry-budget S       seconds to spend, after the repetitions, running
                         again the figures that have fewer than 3 runs
                         undisturbed by other processes (default: full 300,
                         quick 0); medians use only undisturbed runs when
                         there are 3 of them
  --no-install           do not apt-get missing allocators and programs
  --no-plots             skip gnuplot
  --report-from DIR      write the report of an earlier run in DIR again
                         (from its raw.csv, meta.json and soak/)
  --list                 list the workloads and exit
"""

import argparse
import csv
import datetime
import json
import os
import shutil
import sys

from .common import Progress, die, fmt_dur, note
from .machine import machine_info
from .plots import plots
from .prepare import DEFAULT_ALLOCATORS, Context, setup
from .report import Report
from .runner import Run, run_suite, soak_summary
from .workloads import WORKLOADS, WORKLOADS_BY_NAME, select



def split_list(s):
    return [x.strip() for x in s.split(",") if x.strip()]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run", add_help=False)
    p.add_argument("-h", "--help", action="store_true")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="mode", action="store_const", const="quick")
    g.add_argument("--full", dest="mode", action="store_const", const="full")
    p.add_argument("--only")
    p.add_argument("--skip")
    p.add_argument("--allocators")
    p.add_argument("--repeat", type=int)
    p.add_argument("--threads")
    p.add_argument("--out", default="bench-results")
    p.add_argument("--hakmem")
    p.add_argument("--build-dir")
    p.add_argument("--bin-dir")
    p.add_argument("--hakmem-callgrind")
    p.add_argument("--idle-wait", type=float)
    p.add_argument("--retry-budget", type=float)
    p.add_argument("--timeout", type=int, default=900, help=argparse.SUPPRESS)
    p.add_argument("--scale", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--note")
    p.add_argument("--report-from")
    p.add_argument("--no-install", action="store_true")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.help:
        sys.stdout.write(__doc__)
        sys.exit(0)
    args.mode = args.mode or "full"
    args.allocators = split_list(args.allocators) if args.allocators else list(DEFAULT_ALLOCATORS)
    if args.repeat is None:
        args.repeat = 5 if args.mode == "full" else 1
    if args.repeat < 1:
        die("--repeat must be at least 1")
    args.threads_explicit = bool(args.threads)
    if args.threads:
        try:
            args.threads = [int(x) for x in split_list(args.threads)]
        except ValueError:
            die("--threads takes a list of numbers")
        if not args.threads or min(args.threads) < 1:
            die("--threads: thread counts are at least 1")
    else:
        args.threads = [1, 2, 4, 8, 16] if args.mode == "full" else [1, 4]
    if args.retry_budget is None:
        args.retry_budget = 300.0 if args.mode == "full" else 0.0
    if args.idle_wait is None:
        args.idle_wait = 5.0 if args.mode == "full" else 0.0
    return args


def main(argv):
    args = parse_args(argv)
    if args.report_from:
        return report_only(args, argv)
    if args.list:
        for w in WORKLOADS:
            print("%-22s %-9s %s" % (w.name, w.group, w.desc))
        return 0
    ctx = Context(args)
    ctx.ops_scale = args.scale
    sel = select(split_list(args.only)) if args.only else list(WORKLOADS)
    if args.skip:
        skip = select(split_list(args.skip))
        sel = [w for w in sel if w not in skip]
    ctx.selected = sel
    started = datetime.datetime.now()
    setup(ctx)
    for s in ctx.skipped:
        note("skipping " + s)
    machine = machine_info(ctx)

    runs, configs, cg, cg_notes, soak, elapsed = run_suite(ctx)

    finished = datetime.datetime.now()
    machine.append(("load average at end", " ".join(open("/proc/loadavg").read().split()[:3])))
    meta = {"argv": ["bench/run"] + argv, "mode": ctx.mode, "repeat": args.repeat,
            "threads": args.threads, "note": args.note,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "allocators": ctx.allocators, "selected": [w.name for w in ctx.selected],
            "skipped": ctx.skipped, "hakmem": ctx.hakmem, "machine": machine,
            "callgrind": [[m, a, v] for (m, a), v in cg.items()], "callgrind_notes": cg_notes}
    with open(os.path.join(ctx.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    with open(os.path.join(ctx.out, "raw.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(Run.FIELDS)
        for r in runs:
            wr.writerow(r.row())
    return write_report(ctx, runs, configs, cg, cg_notes, soak, started, finished,
                        ["bench/run"] + argv, machine, elapsed)


def write_report(ctx, runs, configs, cg, cg_notes, soak, started, finished, argv, machine,
                 elapsed):
    rep = Report(ctx, runs, configs, cg, cg_notes, soak, started, finished, argv)
    rep.machine = machine
    if not ctx.args.no_plots and shutil.which("gnuplot"):
        plots(rep)
    rep.write_csv(os.path.join(ctx.out, "results.csv"))
    md = rep.md()
    with open(os.path.join(ctx.out, "results.md"), "w") as f:
        f.write(md + "\n")
    with open(os.path.join(ctx.out, "machine.txt"), "w") as f:
        for k, v in machine:
            f.write("%s: %s\n" % (k, v))

    # Summary on stdout
    print("bench/run: %d runs in %s; results in %s/results.md (and .csv, plots/)" % (
        len(runs), fmt_dur(elapsed), os.path.relpath(ctx.out)))
    tg = rep.targets()
    for t, res, ok in tg:
        print("  [%s] %s: %s" % ("met " if ok else "MISS", t, res))
    bad = [r for r in runs if not r.ok()] + [k for k, v in cg.items() if v is None]
    if bad:
        print("bench/run: %d run(s) failed or gave different output; see results.md" % len(bad))
    # Runs that worked and agreed with the others, and those that did not.
    print("bench: %d passed, %d failed" % (len(runs) + len(cg) - len(bad), len(bad)))
    return 1 if bad else 0


def report_only(args, argv):
    """Write results.md, results.csv and the plots again from a run's
    raw.csv, meta.json and soak/ (e.g. after changing the report)."""
    out = os.path.abspath(args.report_from)
    try:
        meta = json.load(open(os.path.join(out, "meta.json")))
    except (OSError, ValueError) as e:
        die("--report-from %s: no readable meta.json (%s)" % (out, e))
    args.mode = meta["mode"]
    args.repeat = meta["repeat"]
    args.note = meta.get("note")
    args.out = out
    ctx = Context(args)
    ctx.allocators = [tuple(a) for a in meta["allocators"]]
    ctx.hakmem = meta.get("hakmem")
    ctx.skipped = meta.get("skipped", [])
    ctx.selected = [WORKLOADS_BY_NAME[n] for n in meta["selected"] if n in WORKLOADS_BY_NAME]
    ctx.logs = os.path.join(out, "logs")
    os.makedirs(ctx.logs, exist_ok=True)
    runs = []
    with open(os.path.join(out, "raw.csv")) as f:
        for row in csv.DictReader(f):
            r = Run(**row)
            r.threads = int(r.threads)
            runs.append(r)
    configs = []
    for w in ctx.selected:
        if w.kind not in ("micro", "program", "redis"):
            continue
        for t in sorted({r.threads for r in runs if r.workload == w.name}):
            configs.append((w, t))
    soak = {}
    for r in runs:
        if r.workload == "larson-soak":
            pts = []
            path = os.path.join(out, "soak", r.allocator + ".txt")
            if os.path.exists(path):
                for ln in open(path):
                    p = ln.split()
                    if len(p) == 3:
                        pts.append((float(p[0]), int(p[1]), int(p[2])))
            soak[r.allocator] = (r, soak_summary(pts))
    cg = {(m, a): v for m, a, v in meta.get("callgrind", [])}
    started = datetime.datetime.fromisoformat(meta["started"])
    finished = datetime.datetime.fromisoformat(meta["finished"])
    machine = [tuple(x) for x in meta.get("machine", [])]
    return write_report(ctx, runs, configs, cg, meta.get("callgrind_notes", []), soak,
                        started, finished, meta["argv"], machine,
                        (finished - started).total_seconds())


def run_main(argv):
    """main, with ^C as a short message and status 130."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        Progress.clear()
        sys.stderr.write("bench/run: interrupted\n")
        return 130

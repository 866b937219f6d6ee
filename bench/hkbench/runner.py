"""Running the workloads: one measured run (under bench/measure, with the
allocator preloaded), the order of the runs, the extra runs of disturbed
figures, the soak test and the callgrind count."""

import hashlib
import os
import re
import resource
import shutil
import statistics
import subprocess
import time

from . import redis
from .common import Progress, fmt_dur, note, sha256_file
from .machine import CLK_TCK, cpu_busy, wait_idle
from .prepare import build_counter, build_hakmem_novg, find_lib
from .stats import clean_needed, is_clean
from .workloads import REDIS_TESTS, program_argv


RESULT_RE = re.compile(r"(\S+?)=(\S+)")


def parse_kv(line):
    return dict(RESULT_RE.findall(line))


class Run:
    """One measured run."""
    FIELDS = ["workload", "threads", "allocator", "rep", "status", "time_s", "ops",
              "ops_per_s", "maxrss_kb", "wall_s", "user_s", "sys_s", "minflt", "nivcsw",
              "other_cpu", "check", "error", "wait4_kb", "hwm_kb"]

    def __init__(self, **kw):
        for f in self.FIELDS:
            setattr(self, f, kw.get(f, ""))

    def ok(self):
        return not self.error

    def row(self):
        return [getattr(self, f) for f in self.FIELDS]


def base_env(extra=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def run_measured(ctx, argv, lib, env, tag, stdin=None, timeout=600, samples=None):
    """Run argv under bench/measure with LD_PRELOAD=lib. Returns
    (measure dict, stdout text, stderr path)."""
    mfile = os.path.join(ctx.work, "measure.out")
    ofile = os.path.join(ctx.work, "stdout.txt")
    efile = os.path.join(ctx.logs, "%s.stderr" % tag)
    cmd = [ctx.bin("measure"), "--out", mfile, "--timeout", str(timeout)]
    if lib:
        cmd += ["--preload", lib]
    if samples:
        cmd += ["--sample-ms", "500", "--samples", samples]
    cmd += ["--"] + argv
    for f in (mfile,):
        if os.path.exists(f):
            os.unlink(f)
    with open(ofile, "w") as out, open(efile, "w") as err:
        fin = open(stdin) if stdin else subprocess.DEVNULL
        try:
            subprocess.run(cmd, stdout=out, stderr=err, stdin=fin, env=env, cwd=ctx.work)
        finally:
            if stdin:
                fin.close()
    m = {}
    if os.path.exists(mfile):
        with open(mfile) as f:
            m = parse_kv(f.read())
    with open(ofile, errors="replace") as f:
        text = f.read()
    return m, text, efile


def finish_run(run, m, efile):
    """Fill the fields measure reported; keep stderr only when the run failed."""
    run.wall_s = m.get("wall", "")
    run.user_s = m.get("user", "")
    run.sys_s = m.get("sys", "")
    # The peak: the command's own, exact (measure's hwm_kb, VmHWM at its
    # exit), or wait4()'s, which also covers the children it waited for
    # but counts a few hundred KiB short at most (see bench/measure.c).
    run.wait4_kb = m.get("maxrss_kb", "")
    run.hwm_kb = m.get("hwm_kb", "")
    peaks = [int(v) for v in (run.wait4_kb, run.hwm_kb) if v.lstrip("-").isdigit()]
    run.maxrss_kb = str(max(peaks)) if peaks and max(peaks) > 0 else ""
    run.minflt = m.get("minflt", "")
    run.nivcsw = m.get("nivcsw", "")
    st = m.get("status", "?")
    run.status = st
    if st != "0" and not run.error:
        run.error = "exit status %s" % st
    if run.error:
        run.error += " (stderr: logs/%s)" % os.path.basename(efile)
    elif os.path.exists(efile):
        os.unlink(efile)


def run_micro(ctx, w, threads, alloc, lib, rep):
    argv = w.argv(ctx, threads, ctx.mode)
    tag = "%s-t%d-%s-r%d" % (w.name, threads, alloc, rep)
    m, text, efile = run_measured(ctx, argv, lib, base_env(w.env), tag,
                                  timeout=ctx.args.timeout)
    run = Run(workload=w.name, threads=threads, allocator=alloc, rep=rep)
    line = [ln for ln in text.splitlines() if ":" in ln and "seconds=" in ln]
    if not line:
        run.error = "no result line"
    else:
        kv = parse_kv(line[-1])
        run.time_s = kv.get("seconds", "")
        run.ops = kv.get("ops", "")
        run.ops_per_s = kv.get("ops/s", "")
        run.check = kv.get("check", "")
    finish_run(run, m, efile)
    return run


def run_program(ctx, w, alloc, lib, rep):
    argv, stdin = program_argv(ctx, w)
    for f in ("bench.db", "big.o"):
        p = os.path.join(ctx.work, f)
        if os.path.exists(p):
            os.unlink(p)
    tag = "%s-%s-r%d" % (w.name, alloc, rep)
    m, text, efile = run_measured(ctx, argv, lib, base_env(w.env), tag, stdin=stdin,
                                  timeout=ctx.args.timeout)
    run = Run(workload=w.name, threads=1, allocator=alloc, rep=rep)
    run.time_s = m.get("wall", "")
    if w.name == "gcc":
        obj = os.path.join(ctx.work, "big.o")
        run.check = sha256_file(obj)[:16] if os.path.exists(obj) else "missing"
    else:
        run.check = hashlib.sha256(text.encode()).hexdigest()[:16]
    if ctx.alloc_counts.get(w.name):
        run.ops = str(ctx.alloc_counts[w.name])
    finish_run(run, m, efile)
    return run


def run_redis(ctx, w, alloc, lib, rep):
    run = Run(workload=w.name, threads=1, allocator=alloc, rep=rep)
    tag = "%s-%s-r%d" % (w.name, alloc, rep)
    if lib is None:
        # redis-server links jemalloc: preload libc so that glibc's malloc wins.
        lib = find_lib("libc.so.6")
    rdir = os.path.join(ctx.work, "redis")
    shutil.rmtree(rdir, ignore_errors=True)
    os.makedirs(rdir)
    mfile = os.path.join(ctx.work, "measure.out")
    if os.path.exists(mfile):
        os.unlink(mfile)
    efile = os.path.join(ctx.logs, tag + ".stderr")
    measure = [ctx.bin("measure"), "--out", mfile, "--timeout", str(ctx.args.timeout),
               "--preload", lib, "--"]
    server = redis.Server(rdir, prefix=measure, env=base_env(),
                          settings=["--protected-mode", "yes", "--loglevel", "warning",
                                    "--logfile", ""])
    with open(efile, "w") as err:
        try:
            if not server.start(err):
                run.error = "redis-server did not answer"
            else:
                n = ctx.params()["redis"]
                t0 = time.monotonic()
                rc, rows, _ = server.benchmark(n, REDIS_TESTS, size=64, pipeline=16,
                                               stderr=err, timeout=ctx.args.timeout)
                run.time_s = "%.6f" % (time.monotonic() - t0)
                if rc != 0 or len(rows) < 10:
                    run.error = "redis-benchmark failed"
                else:
                    run.ops_per_s = "%.0f" % (sum(rps for _, rps in rows) / len(rows))
                    run.ops = str(n * len(rows))
                with open(os.path.join(ctx.work, "redis-check.txt")) as fin:
                    c = server.cli(stdin=fin, stderr=err, timeout=120)
                run.check = hashlib.sha256(c.stdout.encode()).hexdigest()[:16]
        except subprocess.TimeoutExpired:
            run.error = "timeout"
        finally:
            server.stop()
    m = {}
    if os.path.exists(mfile):
        m = parse_kv(open(mfile).read())
    wall = run.time_s
    finish_run(run, m, efile)
    run.time_s = wall
    return run


def run_soak(ctx, alloc, lib):
    secs = ctx.params()["soak_seconds"]
    os.makedirs(os.path.join(ctx.out, "soak"), exist_ok=True)
    samples = os.path.join(ctx.out, "soak", "%s.txt" % alloc)
    argv = [ctx.bin("larson"), "--threads", "16", "--seconds", str(secs), "--round", "0.5",
            "--blocks", "2000", "--min", "8", "--max", "1000"]
    tag = "larson-soak-%s" % alloc
    m, text, efile = run_measured(ctx, argv, lib, base_env(), tag, samples=samples,
                                  timeout=secs + 120)
    run = Run(workload="larson-soak", threads=16, allocator=alloc, rep=1)
    line = [ln for ln in text.splitlines() if ln.startswith("larson:")]
    if line:
        kv = parse_kv(line[-1])
        run.time_s = kv.get("seconds", "")
        run.ops = kv.get("ops", "")
        run.ops_per_s = kv.get("ops/s", "")
    else:
        run.error = "no result line"
    finish_run(run, m, efile)
    pts = []
    if os.path.exists(samples):
        for ln in open(samples):
            p = ln.split()
            if len(p) == 3:
                pts.append((float(p[0]), int(p[1]), int(p[2])))
    return run, pts, m


def soak_summary(pts):
    """RSS at 25 % and at the end, growth, peak sampled RSS and mappings."""
    if len(pts) < 4:
        return None
    end = pts[-1][0]
    q1 = [p[1] for p in pts if 0.15 * end <= p[0] <= 0.35 * end] or [pts[len(pts) // 4][1]]
    q4 = [p[1] for p in pts if p[0] >= 0.75 * end] or [pts[-1][1]]
    early, late = statistics.median(q1), statistics.median(q4)
    return {"rss_early_kb": early, "rss_late_kb": late,
            "growth": late / early if early else float("nan"),
            "rss_max_kb": max(p[1] for p in pts), "maps_max": max(p[2] for p in pts),
            "maps_end": pts[-1][2], "samples": len(pts)}


def callgrind_ir(ctx, lib, mode, n, empty, tag):
    out = os.path.join(ctx.work, "callgrind.out")
    if os.path.exists(out):
        os.unlink(out)
    cmd = [shutil.which("valgrind"), "--tool=callgrind", "--callgrind-out-file=" + out,
           ctx.bin("tightloop"), "--mode", mode, "--size", "64", "--ops", str(n)]
    if empty:
        cmd += ["--empty", "1"]
    env = base_env()
    if lib:
        env["LD_PRELOAD"] = lib
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env, timeout=600)
    if r.returncode != 0 or not os.path.exists(out):
        with open(os.path.join(ctx.logs, tag + ".stderr"), "w") as f:
            f.write(r.stderr)
        return None
    for ln in open(out):
        if ln.startswith("summary:") or ln.startswith("totals:"):
            return int(ln.split()[1])
    return None


def run_callgrind(ctx, progress):
    """Instructions per malloc+free pair: (Ir(2N) - Ir(N)) / N, minus the same
    difference for the loop with the calls taken out."""
    n = ctx.params()["callgrind_n"]
    res = {}
    notes = []
    libs = []
    for alloc, lib in ctx.allocators:
        if alloc == "hakmem":
            progress("callgrind: building hakmem without Valgrind client requests")
            novg, why = build_hakmem_novg(ctx)
            if novg:
                lib = novg
                notes.append("hakmem: counted with %s, the same source built without "
                             "Valgrind client requests (under Valgrind the normal build "
                             "reports every block to memcheck)" % os.path.relpath(novg, ctx.out))
            else:
                notes.append("hakmem: no build without Valgrind client requests (%s); its "
                             "count includes the memcheck-reporting path" % why)
        libs.append((alloc, lib))
    for mode in ("pair", "batch"):
        progress("callgrind %s: empty loop" % mode)
        e1 = callgrind_ir(ctx, None, mode, n, True, "callgrind-empty-%s-1" % mode)
        e2 = callgrind_ir(ctx, None, mode, 2 * n, True, "callgrind-empty-%s-2" % mode)
        loop = (e2 - e1) / n if e1 is not None and e2 is not None else 0.0
        for alloc, lib in libs:
            progress("callgrind %s: %s" % (mode, alloc))
            a = callgrind_ir(ctx, lib, mode, n, False, "callgrind-%s-%s-1" % (mode, alloc))
            b = callgrind_ir(ctx, lib, mode, 2 * n, False, "callgrind-%s-%s-2" % (mode, alloc))
            if a is None or b is None:
                res[(mode, alloc)] = None
                continue
            raw = (b - a) / n
            res[(mode, alloc)] = {"raw": raw, "loop": loop, "pair": raw - loop}
    return res, notes



def make_plan(configs, allocs, repeat):
    """The runs in order, as (rep, workload, threads, allocator, lib):
    repetitions go round the whole suite; within a configuration the
    allocators' order rotates from one repetition (and configuration) to
    the next, so that none always runs first or last."""
    plan = []
    for rep in range(1, repeat + 1):
        for ci, (w, t) in enumerate(configs):
            k = (rep - 1 + ci) % len(allocs)
            for alloc, lib in allocs[k:] + allocs[:k]:
                plan.append((rep, w, t, alloc, lib))
    return plan


def run_suite(ctx):
    """Every selected workload under every allocator, the extra runs for
    disturbed figures, the soak test and the callgrind count. Returns
    (runs, configs, callgrind results, callgrind notes, soak, seconds)."""
    args = ctx.args
    allocs = ctx.allocators
    configs = [(w, t) for w in ctx.selected if w.kind in ("micro", "program", "redis")
               for t in w.thread_counts(args.threads, args.mode, args.threads_explicit)]
    plan = make_plan(configs, allocs, args.repeat)
    soak_sel = any(w.kind == "soak" for w in ctx.selected)
    cg_sel = any(w.kind == "callgrind" for w in ctx.selected)
    total = len(plan) + (len(allocs) if soak_sel else 0) + (1 if cg_sel else 0)
    p = ctx.params()
    est = {}   # (workload, threads) -> seconds, learnt from the first runs
    runs = []
    done = [0]
    t_start = time.monotonic()

    def expected(w, t):
        if (w.name, t) in est:
            return est[(w.name, t)]
        known = list(est.values())
        return statistics.mean(known) if known else 2.0

    def remaining_estimate(i):
        s = sum(expected(w, t) for (_, w, t, _, _) in plan[i:])
        if soak_sel:
            s += (len(allocs) - max(0, done[0] - len(plan))) * (p["soak_seconds"] + 1)
        return s + (30 if cg_sel else 0)

    def progress(what, i=None):
        el = time.monotonic() - t_start
        left = remaining_estimate(i if i is not None else len(plan))
        pct = 100.0 * done[0] / total if total else 100
        Progress.show("[%d/%d %3.0f%% %s elapsed, ~%s left] %s" % (
            done[0] + 1, total, pct, fmt_dur(el), fmt_dur(left), what))

    # Warm the file cache for the real programs (and Python's bytecode), with
    # count_allocs preloaded: their allocation calls, for faults per million.
    counter = build_counter(ctx) if any(w.kind == "program" for w in ctx.selected) else None
    for w in ctx.selected:
        if w.kind == "program":
            progress("warm-up: %s" % w.name, 0)
            argv_, stdin = program_argv(ctx, w)
            env = base_env(w.env)
            counts = os.path.join(ctx.work, "allocs.txt")
            if os.path.exists(counts):
                os.unlink(counts)
            if counter:
                env["COUNT_ALLOCS_OUT"] = counts
            _, _, efile = run_measured(ctx, argv_, counter, env, "warmup-" + w.name,
                                       stdin=stdin, timeout=args.timeout)
            if os.path.exists(counts):
                with open(counts) as f:
                    ctx.alloc_counts[w.name] = sum(int(x) for x in f.read().split())
            os.unlink(efile)
            for f in ("bench.db", "big.o"):
                pth = os.path.join(ctx.work, f)
                if os.path.exists(pth):
                    os.unlink(pth)

    def execute(rep, w, t, alloc, lib, i, label):
        progress("%s%s %s %s" % (w.name, " t=%d" % t if w.threaded else "", label, alloc), i)
        waited = wait_idle(args.idle_wait)
        if waited > 1:
            progress("%s%s %s %s (waited %.0f s for idle CPUs)" % (
                w.name, " t=%d" % t if w.threaded else "", label, alloc, waited), i)
        b0, _ = cpu_busy()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        if w.kind == "micro":
            r = run_micro(ctx, w, t, alloc, lib, rep)
        elif w.kind == "program":
            r = run_program(ctx, w, alloc, lib, rep)
        else:
            r = run_redis(ctx, w, alloc, lib, rep)
        dt = time.monotonic() - t0
        b1, _ = cpu_busy()
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU time the machine spent on anything but this run (and its
        # helpers: measure, redis-benchmark, redis-cli), in cores.
        own = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
        if dt > 0:
            r.other_cpu = "%.3f" % max(0.0, ((b1 - b0) / CLK_TCK - own) / dt)
        runs.append(r)
        if (w.name, t) not in est:
            est[(w.name, t)] = dt + 0.25
        if not r.ok():
            note("FAILED: %s t=%d %s rep %d: %s" % (w.name, t, alloc, rep, r.error))
        return r

    for i, (rep, w, t, alloc, lib) in enumerate(plan):
        execute(rep, w, t, alloc, lib, i, "rep %d/%d" % (rep, args.repeat))
        done[0] += 1

    # Figures with too few runs undisturbed by other processes get more runs
    # (up to --retry-budget seconds), so that their medians need not use
    # disturbed ones.
    need = clean_needed(args.repeat)
    budget_end = time.monotonic() + args.retry_budget
    extra_rep = args.repeat
    for _ in range(3):
        missing = []
        for (w, t) in configs:
            for alloc, lib in allocs:
                rs = [r for r in runs if r.workload == w.name and r.threads == t and
                      r.allocator == alloc and r.ok()]
                if rs and sum(1 for r in rs if is_clean(r)) < need:
                    missing.append((w, t, alloc, lib))
        if not missing or time.monotonic() > budget_end:
            break
        extra_rep += 1
        note("%d figure(s) lack %d undisturbed runs; running them again" % (len(missing), need))
        for k, (w, t, alloc, lib) in enumerate(missing):
            if time.monotonic() > budget_end:
                break
            execute(extra_rep, w, t, alloc, lib, len(plan), "extra run %d/%d" % (k + 1, len(missing)))

    soak = {}
    if soak_sel:
        for alloc, lib in allocs:
            progress("larson-soak %s (%d s)" % (alloc, p["soak_seconds"]))
            wait_idle(args.idle_wait)
            r, pts, m = run_soak(ctx, alloc, lib)
            runs.append(r)
            if not r.ok():
                note("FAILED: larson-soak %s: %s" % (alloc, r.error))
            soak[alloc] = (r, soak_summary(pts))
            done[0] += 1

    cg, cg_notes = {}, []
    if cg_sel:
        cg, cg_notes = run_callgrind(ctx, progress)
        for (mode, al), v in cg.items():
            if v is None:
                note("FAILED: callgrind %s %s (see logs/)" % (mode, al))
        done[0] += 1
    Progress.clear()
    return runs, configs, cg, cg_notes, soak, time.monotonic() - t_start

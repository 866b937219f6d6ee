"""The report: results.md (targets, tables, notes) and results.csv."""

import csv
import os
import shlex
import statistics

from .common import fmt_dur
from .stats import CLEAN_CPU, Cell, clean_needed, fnum, geomean, ratios
from .workloads import WORKLOADS_BY_NAME


THROUGHPUT_WORKLOADS = ("larson", "prodcons")
# Throughput against the best other allocator (issue 10's standard Larson).
BEST_THROUGHPUT_WORKLOADS = ("larson-std",)   # larson-std-cxx: not a target
# Minor page faults against mimalloc's (issue 10's cross-thread batches).
FAULT_WORKLOADS = ("xbatch", "xbatch-large")


def fmt(x, digits=3):
    if x is None:
        return "-"
    if x >= 100:
        return "%.0f" % x
    if x >= 10:
        return "%.1f" % x
    return "%.*g" % (digits, x)


def fmt_ratio(r):
    return "-" if r is None else "%.2f" % r


def mib(kb):
    return None if kb is None else kb / 1024.0


class Report:
    def __init__(self, ctx, runs, configs, cg, cg_notes, soak, started, finished, argv):
        self.ctx = ctx
        self.runs = runs
        self.configs = configs
        self.cg = cg
        self.cg_notes = cg_notes
        self.soak = soak
        self.started = started
        self.finished = finished
        self.argv = argv
        self.allocs = [a for a, _ in ctx.allocators]
        self.cells = {}
        for (w, t) in configs:
            cs = {}
            for a in self.allocs:
                cs[a] = Cell([r for r in runs if r.workload == w.name and r.threads == t and
                              r.allocator == a], clean_needed(ctx.args.repeat), w.clock)
            ratios(cs)
            self.cells[(w.name, t)] = cs
        self.check_errors = self.compare_outputs()

    def compare_outputs(self):
        errs = []
        for (w, t) in self.configs:
            rs = [r for r in self.runs if r.workload == w.name and r.threads == t and r.ok()
                  and r.check and r.check != "0000000000000000"]
            if not rs:
                continue
            ref = [r.check for r in rs if r.allocator == "glibc"]
            if ref:
                want = ref[0]
            else:
                vals = [r.check for r in rs]
                want = max(set(vals), key=vals.count)
            for r in rs:
                if r.check != want:
                    msg = "output differs from glibc's (check %s, expected %s)" % (r.check, want)
                    r.error = msg
                    errs.append("%s t=%d %s rep %s: %s" % (w.name, t, r.allocator, r.rep, msg))
        if errs:   # recompute without the failed runs
            for (w, t) in self.configs:
                cs = {a: Cell([r for r in self.runs if r.workload == w.name and r.threads == t
                               and r.allocator == a], clean_needed(self.ctx.args.repeat),
                              w.clock)
                      for a in self.allocs}
                ratios(cs)
                self.cells[(w.name, t)] = cs
        return errs

    # -- target evaluation ------------------------------------------------
    def targets(self):
        out = []   # (target, result text, met: True/False/None)
        if "hakmem" not in self.allocs:
            return out
        others = [a for a in self.allocs if a != "hakmem"]
        bad_t, bad_r, worst_t, worst_r = [], [], None, None
        for (w, t) in self.configs:
            c = self.cells[(w.name, t)]["hakmem"]
            label = w.name + (" t=%d" % t if w.threaded else "")
            if c.ratio_time is not None:
                if c.ratio_time > 1.0:
                    bad_t.append("%s %.2f" % (label, c.ratio_time))
                if worst_t is None or c.ratio_time > worst_t[1]:
                    worst_t = (label, c.ratio_time)
            if c.ratio_rss is not None:
                if c.ratio_rss > 1.1:
                    bad_r.append("%s %.2f" % (label, c.ratio_rss))
                if worst_r is None or c.ratio_rss > worst_r[1]:
                    worst_r = (label, c.ratio_rss)
        n = len([1 for k in self.cells if self.cells[k]["hakmem"].ratio_time is not None])
        n_r = len([1 for k in self.cells if self.cells[k]["hakmem"].ratio_rss is not None])
        if others and n:
            out.append(("every workload: time <= 1.0x the best other allocator",
                        "%d of %d rows met; misses: %s" % (n - len(bad_t), n,
                                                           ", ".join(bad_t) or "none"),
                        not bad_t))
        if others and n_r:
            out.append(("every workload: peak RSS <= 1.1x the best other allocator",
                        "%d of %d rows met; misses: %s" % (n_r - len(bad_r), n_r,
                                                           ", ".join(bad_r) or "none"),
                        not bad_r))
        if others and n:
            bad_c = []
            for (w, t) in self.configs:
                c = self.cells[(w.name, t)]["hakmem"]
                if c.ratio_cpu is not None and c.ratio_cpu > 1.0:
                    bad_c.append("%s%s %.2f" % (w.name, " t=%d" % t if w.threaded else "",
                                                c.ratio_cpu))
            out.append(("(second opinion) every workload: CPU time <= 1.0x the best other",
                        "%d of %d rows met; misses: %s" % (n - len(bad_c), n,
                                                           ", ".join(bad_c) or "none"),
                        not bad_c))
        if others:
            for wn in BEST_THROUGHPUT_WORKLOADS:
                rows = []
                ok = True
                for (w, t) in self.configs:
                    c = self.cells[(w.name, t)]["hakmem"] if w.name == wn else None
                    if c and c.ratio_tput is not None:
                        best = max((b for b in others if self.cells[(wn, t)][b].tput),
                                   key=lambda b: self.cells[(wn, t)][b].tput)
                        rows.append("t=%d %.2f (best other: %s)" % (t, c.ratio_tput, best))
                        ok = ok and c.ratio_tput >= 1.1
                if rows:
                    out.append(("%s: throughput >= 1.1x the best other allocator's" % wn,
                                ", ".join(rows), ok))
        if "mimalloc" in self.allocs:
            rows, ok = [], True
            for (w, t) in self.configs:
                if w.name not in FAULT_WORKLOADS:
                    continue
                cs = self.cells[(w.name, t)]
                h, m = cs["hakmem"].flt_mop, cs["mimalloc"].flt_mop
                if h and m:
                    rows.append("%s t=%d %.2f" % (w.name, t, h / m))
                    ok = ok and h / m <= 1.5
            if rows:
                out.append(("cross-thread batches: minor page faults <= 1.5x mimalloc's",
                            ", ".join(rows), ok))
            for wn in THROUGHPUT_WORKLOADS:
                rows = []
                ok = True
                for (w, t) in self.configs:
                    if w.name != wn:
                        continue
                    cs = self.cells[(wn, t)]
                    h, m = cs["hakmem"].tput, cs["mimalloc"].tput
                    if h and m:
                        rows.append("t=%d %.2f" % (t, h / m))
                        ok = ok and h / m >= 1.1
                if rows:
                    out.append(("%s: throughput >= 1.1x mimalloc's" % wn, ", ".join(rows), ok))
            g = self.geomean_vs("mimalloc")
            if g:
                out.append(("geometric mean of time over the suite <= 0.9x mimalloc's",
                            "%.3f (over %d workloads; each workload's thread counts "
                            "averaged first)" % g, g[0] <= 0.9))
            g = self.geomean_vs("mimalloc", "cpu")
            if g:
                out.append(("(second opinion) geometric mean of CPU time <= 0.9x mimalloc's",
                            "%.3f (over %d workloads)" % g, g[0] <= 0.9))
        if self.cg:
            for mode in ("pair", "batch"):
                h = self.cg.get((mode, "hakmem"))
                best = [(v["pair"], a) for (m, a), v in self.cg.items()
                        if m == mode and a != "hakmem" and v]
                if h and best:
                    b = min(best)
                    out.append(("tight loop (%s): instructions per malloc+free <= 0.5x the "
                                "best other" % mode,
                                "hakmem %.1f, best other %s %.1f: %.2fx" % (
                                    h["pair"], b[1], b[0], h["pair"] / b[0]),
                                h["pair"] <= 0.5 * b[0]))
        if "glibc" in self.allocs and ("large", 1) in self.cells:
            cs = self.cells[("large", 1)]
            h, g = cs["hakmem"].time, cs["glibc"].time
            if h and g:
                out.append(("large: time no worse than glibc's",
                            "hakmem %.3f s, glibc %.3f s: %.2fx" % (h, g, h / g), h <= g))
        s = self.soak.get("hakmem") if self.soak else None
        if s and s[1]:
            ss = s[1]
            secs = self.ctx.params()["soak_seconds"]
            flat = ss["growth"] <= 1.10
            out.append(("Larson 16 threads %d s: resident memory flat and < 100 MB" % secs,
                        "RSS %.1f MiB at 25 %%, %.1f MiB at the end (x%.2f), peak %.1f MiB" % (
                            ss["rss_early_kb"] / 1024, ss["rss_late_kb"] / 1024, ss["growth"],
                            ss["rss_max_kb"] / 1024),
                        flat and ss["rss_max_kb"] < 100 * 1000))
            out.append(("Larson 16 threads %d s: <= 1,000 kernel mappings" % secs,
                        "at most %d mappings (%d at the end)" % (ss["maps_max"], ss["maps_end"]),
                        ss["maps_max"] <= 1000))
        return out

    def geomean_vs(self, ref, what="time"):
        per = []
        for w in self.ctx.selected:
            rs = []
            for (ww, t) in self.configs:
                if ww is not w:
                    continue
                cs = self.cells[(w.name, t)]
                h, m = getattr(cs["hakmem"], what), getattr(cs[ref], what)
                if h and m:
                    rs.append(h / m)
            g = geomean(rs)
            if g:
                per.append(g)
        g = geomean(per)
        return (g, len(per)) if g else None

    # -- tables -----------------------------------------------------------
    def md(self):
        ctx = self.ctx
        L = []
        a = L.append
        a("# hakmem benchmark results (%s mode)" % ctx.mode)
        a("")
        a("Generated by `bench/run` on %s; %s of machine time." % (
            self.started.strftime("%Y-%m-%d %H:%M"),
            fmt_dur((self.finished - self.started).total_seconds())))
        a("")
        a("Command: `%s`" % " ".join(shlex.quote(x) for x in self.argv))
        a("")
        if ctx.args.note:
            a("Note: " + ctx.args.note)
            a("")
        a("Medians of %d run(s) per figure. Allocators: %s. Each figure is followed by its "
          "ratio to the best *other* allocator in the same run (time and RSS: below 1 is "
          "better; throughput: above 1 is better). A run counts as undisturbed when other "
          "processes used less than %.1f cores while it ran; when a figure has %d undisturbed "
          "runs only those count, otherwise it is marked †." % (
              ctx.args.repeat, ", ".join(self.allocs), CLEAN_CPU,
              clean_needed(ctx.args.repeat)))
        a("")
        if ctx.skipped:
            a("Skipped: " + "; ".join(ctx.skipped) + ".")
            a("")
        tg = self.targets()
        if tg:
            a("## hakmem against the targets")
            a("")
            a("| target | measured | met |")
            a("|---|---|---|")
            for t, r, ok in tg:
                a("| %s | %s | %s |" % (t, r, "yes" if ok else "**no**"))
            a("")
        a("## Time (seconds, lower is better)")
        a("")
        a("Micro-benchmarks: the program's measured phase; real programs: wall time of the "
          "process (redis: of redis-benchmark).")
        a("")
        self.table(L, "time", lambda c: (c.time, c.ratio_time), only=lambda w: not w.clock)
        a("## CPU time (user + system seconds, lower is better)")
        a("")
        a("The whole process's CPU time (wait4()), start-up and untimed set-up included. "
          "Less sensitive than wall time to other processes on the machine, so a second "
          "opinion when the machine was busy (see Noise); for the threaded workloads it also "
          "counts time spent waiting for locks or spinning, and does not show lost "
          "parallelism.")
        a("")
        self.table(L, "cpu", lambda c: (c.cpu, c.ratio_cpu), only=lambda w: not w.clock)
        a("## Throughput (million operations per second, higher is better)")
        a("")
        a("Operations: larson and larson-std(-cxx), steps (a free and a malloc; larson-std "
          "runs by the clock, so it has only this figure and no time); prodcons and xbatch, blocks (a "
          "malloc and a cross-thread free); false sharing, objects; sizemix, allocations; redis, mean "
          "requests per second over the command types (in thousands, not millions).")
        a("")
        self.table(L, "tput", lambda c: (c.tput / 1e6 if c.tput else None, c.ratio_tput),
                   only=lambda w: w.threaded or w.kind == "redis")
        a("## Minor page faults (per million operations, lower is better)")
        a("")
        a("Minor page faults of the process (wait4()), start-up included, per million "
          "operations as in the throughput table (larson-std(-cxx): steps; xbatch: blocks; the "
          "other micro-benchmarks: the operations each reports, see Workloads; redis: "
          "requests sent by redis-benchmark; python, perl, sqlite and gcc: allocation calls, "
          "counted once per run of bench/run under glibc with a counting preload). Ratios "
          "against the best other allocator; hakmem's in bold above 1.5.")
        a("")
        self.table(L, "flt", lambda c: (c.flt_mop, c.ratio_flt))
        a("## Peak RSS (MiB, lower is better)")
        a("")
        a("Peak resident set: the larger of the command's own peak (VmHWM when it exits, "
          "exact) and wait4()'s peak of it and the children it waited for (which Linux "
          "counts up to a few hundred KiB short; see bench/measure.c).")
        a("")
        self.table(L, "rss", lambda c: (mib(c.rss), c.ratio_rss))
        if self.cg:
            a("## Tight loop: instructions per malloc+free pair (callgrind)")
            a("")
            a("`valgrind --tool=callgrind` on `tightloop --size 64`, N and 2N pairs: "
              "(Ir(2N) - Ir(N)) / N, minus the same for the loop without the calls "
              "(%s instructions per iteration for pair, %s for batch)." % (
                  fmt(next((v["loop"] for (m, _), v in self.cg.items() if m == "pair" and v), None)),
                  fmt(next((v["loop"] for (m, _), v in self.cg.items() if m == "batch" and v), None))))
            a("")
            a("| mode | " + " | ".join(self.allocs) + " |")
            a("|---|" + "---:|" * len(self.allocs))
            for mode in ("pair", "batch"):
                vals = {al: (self.cg.get((mode, al)) or {}).get("pair") for al in self.allocs}
                cells = []
                for al in self.allocs:
                    v = vals[al]
                    ot = [vals[b] for b in self.allocs if b != al and vals[b]]
                    cells.append("-" if v is None else "%.1f (%s)" % (
                        v, fmt_ratio(v / min(ot)) if ot else "-"))
                a("| %s | %s |" % (mode, " | ".join(cells)))
            a("")
            for n_ in self.cg_notes:
                a("- " + n_)
            a("")
        if self.soak:
            secs = ctx.params()["soak_seconds"]
            a("## Larson soak: 16 threads, %d s" % secs)
            a("")
            a("Resident memory sampled every 0.5 s from /proc (median over 15-35 % of the "
              "run, and over its last quarter), and the number of kernel mappings "
              "(lines of /proc/PID/maps).")
            a("")
            a("| allocator | Mops/s | RSS at 25 % (MiB) | RSS at end (MiB) | growth | peak RSS (MiB) "
              "| max mappings |")
            a("|---|---:|---:|---:|---:|---:|---:|")
            for al in self.allocs:
                if al not in self.soak:
                    continue
                run, ss = self.soak[al]
                if not ss:
                    a("| %s | - | - | - | - | - | - |" % al)
                    continue
                a("| %s | %s | %.1f | %.1f | %.2f | %.1f | %d |" % (
                    al, fmt(fnum(run.ops_per_s) / 1e6 if fnum(run.ops_per_s) else None),
                    ss["rss_early_kb"] / 1024, ss["rss_late_kb"] / 1024, ss["growth"],
                    ss["rss_max_kb"] / 1024, ss["maps_max"]))
            a("")
        noisy = []
        for (w, t), cs in self.cells.items():
            for al, c in cs.items():
                if c.spread is not None and c.spread > 0.10 and c.n >= 3:
                    noisy.append("%s%s %s %.0f%%" % (w, " t=%d" % t if WORKLOADS_BY_NAME[w].threaded
                                                     else "", al, 100 * c.spread))
        a("## Noise")
        a("")
        oc = [fnum(r.other_cpu) for r in self.runs if fnum(r.other_cpu) is not None]
        if oc:
            a("CPU used by other processes during the runs (in cores, from /proc/stat): "
              "median %.2f, 90th percentile %.2f, max %.2f." % (
                  statistics.median(oc), sorted(oc)[int(0.9 * (len(oc) - 1))], max(oc)))
            a("")
        dist = ["%s%s %s" % (w, " t=%d" % t if WORKLOADS_BY_NAME[w].threaded else "", al)
                for (w, t), cs in self.cells.items() for al, c in cs.items() if c.disturbed]
        ncells = sum(len(cs) for cs in self.cells.values())
        if dist:
            if len(dist) > 12:
                a("%d of %d figures (†) have fewer than %d undisturbed runs, so their medians "
                  "include disturbed runs: the machine was busy. Compare them with care, "
                  "and prefer the CPU-time table." % (len(dist), ncells,
                                                      clean_needed(ctx.args.repeat)))
            else:
                a("Figures (†) with fewer than %d undisturbed runs, whose medians include "
                  "disturbed runs: %s." % (clean_needed(ctx.args.repeat), ", ".join(dist)))
            a("")
        if noisy and len(noisy) > 12:
            sp = sorted(c.spread for cs in self.cells.values() for c in cs.values()
                        if c.spread is not None)
            a("%d of %d figures' runs spread by more than 10 %% of the median ((max - min) / "
              "median); the median spread is %.0f %%." % (len(noisy), ncells,
                                                        100 * sp[len(sp) // 2]))
        elif noisy:
            a("Figures whose runs spread by more than 10 %% of the median ((max - min) / "
              "median): %s." % ", ".join(noisy))
        else:
            a("No figure's runs spread by more than 10 % of the median (or too few runs "
              "to tell).")
        a("")
        errs = [r for r in self.runs if not r.ok()]
        if errs:
            a("## Errors")
            a("")
            for r in errs:
                a("- %s t=%s %s rep %s: %s" % (r.workload, r.threads, r.allocator, r.rep, r.error))
            a("")
        a("## Workloads")
        a("")
        for w in ctx.selected:
            extra = ""
            if w.kind == "micro" and w.clock:
                extra = " (%g s per run, by the clock)" % ctx.wl_seconds(w.name, ctx.mode)
            elif w.kind == "micro":
                extra = " (%s operations%s)" % ("{:,}".format(ctx.wl_ops(w.name, ctx.mode)),
                                                 " in all, split between the threads"
                                                 if w.threaded else "")
            if w.kind in ("program", "redis"):
                p = ctx.params()
                extra = {"python": " (script scale %s)" % p["python"],
                         "python-malloc": " (script scale %s)" % p["python"],
                         "perl": " (script scale %s)" % p["perl"],
                         "sqlite": " (%s orders, %s customers)" % (
                             "{:,}".format(p["sqlite"]), "{:,}".format(p["sqlite"] // 10)),
                         "gcc": " (%d generated functions)" % p["gcc"],
                         "redis": " (%s requests per command type, 50 clients, pipeline 16, "
                                  "64-byte values, 100,000 keys)" % "{:,}".format(p["redis"]),
                         }.get(w.name, "")
            a("- **%s**: %s%s." % (w.name, w.desc, extra))
        a("")
        if os.path.isdir(os.path.join(ctx.out, "plots")):
            pngs = sorted(f for f in os.listdir(os.path.join(ctx.out, "plots"))
                          if f.endswith(".png"))
            if pngs:
                a("## Plots")
                a("")
                for p in pngs:
                    a("![%s](plots/%s)" % (p[:-4], p))
                a("")
        a("## Machine")
        a("")
        for k, v in self.machine:
            a("- %s: %s" % (k, v))
        a("")
        return "\n".join(L)

    def table(self, L, kind, get, only=None):
        a = L.append
        if not any(not only or only(w) for (w, t) in self.configs):
            a("No workload of this run has this figure.")
            a("")
            return
        a("| workload | threads | " + " | ".join(self.allocs) + " |")
        a("|---|---:|" + "---:|" * len(self.allocs))
        for (w, t) in self.configs:
            if only and not only(w):
                continue
            cs = self.cells[(w.name, t)]
            cells = []
            for al in self.allocs:
                v, r = get(cs[al])
                if kind == "tput" and w.kind == "redis" and v:
                    v *= 1000
                txt = "-" if v is None else "%s (%s)" % (fmt(v), fmt_ratio(r))
                if v is not None and cs[al].disturbed:
                    txt += " †"
                if cs[al].errors and cs[al].n == 0:
                    txt = "ERR"
                if al == "hakmem" and r is not None:
                    bad = (r > 1.0) if kind in ("time", "cpu") else (
                        r > 1.1 if kind == "rss" else r > 1.5 if kind == "flt" else r < 1.0)
                    if bad:
                        txt = "**%s**" % txt
                cells.append(txt)
            a("| %s | %s | %s |" % (w.name, t if w.threaded else "-", " | ".join(cells)))
        a("")

    def write_csv(self, path):
        with open(path, "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["workload", "threads", "allocator", "runs", "runs_ok", "disturbed",
                         "cpu_s", "cpu_ratio_vs_best_other", "time_s", "time_min_s",
                         "time_max_s", "time_ratio_vs_best_other", "ops_per_s",
                         "tput_ratio_vs_best_other", "peak_rss_kb", "rss_min_kb", "rss_max_kb",
                         "rss_ratio_vs_best_other", "user_s", "sys_s", "minflt",
                         "other_cpu_cores", "errors", "ops", "minflt_per_mop",
                         "minflt_per_mop_ratio_vs_best_other"])
            for (w, t) in self.configs:
                for al in self.allocs:
                    c = self.cells[(w.name, t)][al]
                    wr.writerow([w.name, t, al, c.n, c.n_all, int(c.disturbed), c.cpu,
                                 c.ratio_cpu, c.time, c.time_min, c.time_max,
                                 c.ratio_time, c.tput, c.ratio_tput, c.rss, c.rss_min,
                                 c.rss_max, c.ratio_rss, c.user, c.sys, c.minflt, c.other_cpu,
                                 "; ".join(c.errors), c.ops, c.flt_mop, c.ratio_flt])
            if self.cg:
                for (mode, al), v in sorted(self.cg.items()):
                    if v:
                        wr.writerow(["callgrind-" + mode, 1, al, 1, 1, 0] + [""] * 16 + [
                            "instructions_per_pair=%.2f raw=%.2f loop=%.2f" % (
                                v["pair"], v["raw"], v["loop"])] + [""] * 3)

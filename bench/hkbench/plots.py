"""The plots (gnuplot): throughput and RSS against threads, ratios to the
best allocator, the soak test over time, instructions per pair."""

import os
import shutil

from .common import note, sh
from .stats import geomean


COLORS = {"glibc": "#7f7f7f", "mimalloc": "#1f77b4", "jemalloc": "#2ca02c",
          "tcmalloc": "#9467bd", "hakmem": "#d62728"}


def gp_quote(s):
    return '"' + s.replace('"', '\\"') + '"'


def bars(dat, allocs):
    """gnuplot's plot command for a histogram: a bar per allocator, from
    column 2 on of dat (column 1: the labels)."""
    return "plot " + ", ".join(
        '%s using %d:xtic(1) lc rgb %s title %s' % (
            gp_quote(dat), 2 + i, gp_quote(COLORS.get(al, "black")), gp_quote(al))
        for i, al in enumerate(allocs)) + "\n"


def over_time(soakdir, allocs, using):
    """gnuplot's plot command for a line per allocator from soak/ALLOC.txt."""
    return "plot " + ", ".join(
        '%s using %s with lines lw 2 lc rgb %s title %s' % (
            gp_quote(os.path.join(soakdir, al + ".txt")), using,
            gp_quote(COLORS.get(al, "black")), gp_quote(al)) for al in allocs) + "\n"


def plots(rep):
    ctx = rep.ctx
    pdir = os.path.join(ctx.out, "plots")
    ddir = os.path.join(pdir, "data")
    os.makedirs(ddir, exist_ok=True)
    scripts = []
    allocs = rep.allocs
    head = ('set terminal pngcairo size %d,%d font "sans,10"\nset output %s\n'
            'set grid\nset key outside right top\n')

    # Throughput and RSS against threads, per threaded workload
    for w in ctx.selected:
        if not w.threaded:
            continue
        ts = [t for (ww, t) in rep.configs if ww is w]
        if len(ts) < 1:
            continue
        dat = os.path.join(ddir, w.name + ".dat")
        with open(dat, "w") as f:
            f.write("# threads " + " ".join("%s_tput %s_rss" % (a, a) for a in allocs) + "\n")
            for t in ts:
                cs = rep.cells[(w.name, t)]
                vals = []
                for al in allocs:
                    c = cs[al]
                    vals.append("%g" % (c.tput / 1e6) if c.tput else "NaN")
                    vals.append("%g" % (c.rss / 1024) if c.rss else "NaN")
                f.write("%d %s\n" % (t, " ".join(vals)))
        png = os.path.join(pdir, w.name + ".png")
        g = head % (1100, 420, gp_quote(png))
        g += 'set multiplot layout 1,2 title %s\n' % gp_quote(w.name)
        g += 'set logscale x 2\nset xtics (%s)\nset xrange [%g:%g]\n' % (
            ", ".join(str(t) for t in ts), min(ts) / 1.3, max(ts) * 1.3)
        g += 'set xlabel "threads"\nset ylabel "million ops/s (higher is better)"\nset yrange [0:*]\n'
        g += 'set title "throughput"\nunset key\n'
        g += "plot " + ", ".join(
            '%s using 1:%d with linespoints lw 2 pt 7 lc rgb %s title %s' % (
                gp_quote(dat), 2 + 2 * i, gp_quote(COLORS.get(al, "black")), gp_quote(al))
            for i, al in enumerate(allocs)) + "\n"
        g += 'set ylabel "peak RSS, MiB (lower is better)"\nset title "peak RSS"\nset key outside right top\n'
        g += "plot " + ", ".join(
            '%s using 1:%d with linespoints lw 2 pt 7 lc rgb %s title %s' % (
                gp_quote(dat), 3 + 2 * i, gp_quote(COLORS.get(al, "black")), gp_quote(al))
            for i, al in enumerate(allocs)) + "\n"
        g += "unset multiplot\n"
        scripts.append(g)

    # Summary bars: time and RSS relative to the best allocator, per workload
    for kind, label in (("time", "time relative to the best allocator (lower is better)"),
                        ("rss", "peak RSS relative to the best allocator (lower is better)")):
        dat = os.path.join(ddir, "summary-%s.dat" % kind)
        names = []
        with open(dat, "w") as f:
            f.write("# workload " + " ".join(allocs) + "\n")
            for w in ctx.selected:
                ts = [t for (ww, t) in rep.configs if ww is w]
                if not ts:
                    continue
                per = {al: [] for al in allocs}
                for t in ts:
                    cs = rep.cells[(w.name, t)]
                    vals = {al: (cs[al].time if kind == "time" else cs[al].rss) for al in allocs}
                    best = min([v for v in vals.values() if v] or [0])
                    for al in allocs:
                        if vals[al] and best:
                            per[al].append(vals[al] / best)
                row = [geomean(per[al]) for al in allocs]
                if not any(row):
                    continue
                names.append(w.name)
                f.write("%s %s\n" % (w.name, " ".join("%g" % v if v else "NaN" for v in row)))
        if not names:
            continue
        png = os.path.join(pdir, "summary-%s.png" % kind)
        g = head % (1300, 520, gp_quote(png))
        g += 'set title %s\n' % gp_quote(
            "%s, per workload (threaded workloads: geometric mean over thread counts)" % label)
        g += ('set style data histograms\nset style histogram clustered gap 1\n'
              'set style fill solid 0.85 noborder\nset boxwidth 0.9\nset xtics rotate by -35 '
              'scale 0\nset logscale y 2\nset yrange [0.5:*]\nset ylabel "x best"\n'
              'set arrow from graph 0, first 1 to graph 1, first 1 nohead lc rgb "black"\n')
        g += bars(dat, allocs)
        scripts.append(g)

    # Larson soak: RSS and mappings over time
    if rep.soak:
        soakdir = os.path.join(ctx.out, "soak")
        have = [al for al in allocs if os.path.exists(os.path.join(soakdir, al + ".txt"))]
        if have:
            png = os.path.join(pdir, "larson-soak.png")
            g = head % (1100, 420, gp_quote(png))
            g += 'set multiplot layout 1,2 title %s\n' % gp_quote(
                "Larson, 16 threads, %d s" % ctx.params()["soak_seconds"])
            g += 'set xlabel "seconds"\nset ylabel "resident memory, MiB"\nset yrange [0:*]\n'
            g += 'set title "RSS"\nunset key\n'
            g += over_time(soakdir, have, "1:($2/1024)")
            g += 'set ylabel "kernel mappings"\nset title "mappings (/proc/PID/maps lines)"\n'
            g += 'set key outside right top\n'
            g += over_time(soakdir, have, "1:3")
            g += "unset multiplot\n"
            scripts.append(g)

    # callgrind bars
    if rep.cg:
        dat = os.path.join(ddir, "callgrind.dat")
        with open(dat, "w") as f:
            f.write("# mode " + " ".join(allocs) + "\n")
            for mode in ("pair", "batch"):
                f.write(mode + " " + " ".join(
                    "%g" % rep.cg[(mode, al)]["pair"] if rep.cg.get((mode, al)) else "NaN"
                    for al in allocs) + "\n")
        png = os.path.join(pdir, "tight-callgrind.png")
        g = head % (800, 420, gp_quote(png))
        g += 'set title "tight loop: instructions per malloc+free pair (callgrind, lower is better)"\n'
        g += ('set style data histograms\nset style histogram clustered gap 1\n'
              'set style fill solid 0.85 noborder\nset yrange [0:*]\nset ylabel "instructions"\n')
        g += bars(dat, allocs)
        scripts.append(g)

    gp = shutil.which("gnuplot")
    failed = 0
    for i, g in enumerate(scripts):
        path = os.path.join(ddir, "plot%02d.gp" % i)
        with open(path, "w") as f:
            f.write(g)
        r = sh([gp, path])
        if r.returncode != 0:
            failed += 1
            with open(os.path.join(ctx.logs, "gnuplot%02d.log" % i), "w") as f:
                f.write(r.stdout)
    if failed:
        note("%d plot(s) failed; see logs/gnuplot*.log" % failed)

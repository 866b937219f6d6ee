"""The machine: how busy its CPUs are (to wait for idle ones and to mark
disturbed runs) and what it is (machine.txt)."""

import os
import shutil
import time

from .common import SRCDIR, dpkg_version, sh, sha256_file
from .prepare import OTHER_ALLOCATORS, PROGRAM_PACKAGES


def cpu_busy():
    """(busy jiffies, total jiffies) of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    v = [int(x) for x in parts]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


CLK_TCK = os.sysconf("SC_CLK_TCK")


IDLE_BUDGET = [300.0]   # seconds of waiting left for the whole run


def wait_idle(max_wait):
    """Wait (up to max_wait s) until other processes use < 0.15 CPU."""
    max_wait = min(max_wait, IDLE_BUDGET[0])
    if max_wait <= 0:
        return 0.0
    t0 = time.monotonic()
    while True:
        b0, _ = cpu_busy()
        time.sleep(0.2)
        b1, _ = cpu_busy()
        busy = (b1 - b0) / CLK_TCK / 0.2
        if busy < 0.15 or time.monotonic() - t0 > max_wait:
            waited = time.monotonic() - t0
            IDLE_BUDGET[0] -= waited
            return waited


def machine_info(ctx):
    lines = []
    r = sh(["lscpu"]) if shutil.which("lscpu") else None
    keep = ("Architecture", "Model name", "CPU(s)", "Thread(s) per core", "Core(s) per socket",
            "Socket(s)", "CPU MHz", "L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor",
            "NUMA node(s)")
    cpu = {}
    if r and r.returncode == 0:
        for ln in r.stdout.splitlines():
            k, _, v = ln.partition(":")
            if k.strip() in keep:
                cpu[k.strip()] = v.strip()
    for k in keep:
        if k in cpu:
            lines.append(("cpu: " + k, cpu[k]))
    try:
        mem = open("/proc/meminfo").readline().split()[1]
        lines.append(("memory", "%.1f GiB" % (int(mem) / 1048576)))
    except OSError:
        pass
    u = os.uname()
    lines.append(("kernel", "%s %s" % (u.sysname, u.release)))
    try:
        osr = dict(ln.rstrip("\n").split("=", 1) for ln in open("/etc/os-release") if "=" in ln)
        lines.append(("os", osr.get("PRETTY_NAME", "").strip('"')))
    except OSError:
        pass
    lines.append(("glibc", os.confstr("CS_GNU_LIBC_VERSION") + " (libc6 %s)" % dpkg_version("libc6")))
    for path in ("/sys/kernel/mm/transparent_hugepage/enabled",
                 "/proc/sys/vm/overcommit_memory", "/proc/sys/vm/max_map_count"):
        try:
            lines.append((path, open(path).read().strip()))
        except OSError:
            pass
    for name, (lib, pkg) in OTHER_ALLOCATORS.items():
        if pkg:
            lines.append(("package " + pkg, dpkg_version(pkg) or "not installed"))
    for pkg in sorted(set(PROGRAM_PACKAGES.values()) - {"gnuplot-nox"}):
        lines.append(("package " + pkg, dpkg_version(pkg) or "not installed"))
    if ctx.hakmem:
        lines.append(("hakmem library", ctx.hakmem))
        lines.append(("hakmem sha256", sha256_file(ctx.hakmem)[:16]))
    git = shutil.which("git")
    if git and os.path.isdir(os.path.join(SRCDIR, ".git")):
        r = sh([git, "-C", SRCDIR, "describe", "--always", "--dirty", "--abbrev=12"])
        if r.returncode == 0:
            lines.append(("source tree of bench/run", r.stdout.strip()))
    if ctx.args.note:
        lines.append(("note", ctx.args.note))
    lines.append(("load average at start", " ".join(open("/proc/loadavg").read().split()[:3])))
    return lines

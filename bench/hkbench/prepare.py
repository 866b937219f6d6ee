"""Set-up of a run: its context, the allocators' libraries, the packages
of the real programs, the workload programs and the programs' inputs."""

import os
import platform
import shlex
import shutil
import subprocess
import sys

from . import redis
from .common import HERE, PROGRAMS_DIR, SRCDIR, die, note, sh
from .workloads import PROGRAM_PARAMS, WORKLOADS_BY_NAME


MULTIARCH = platform.machine() + "-linux-gnu"
LIB_DIRS = ["/usr/lib/" + MULTIARCH, "/lib/" + MULTIARCH, "/usr/lib64", "/usr/lib"]

# name -> (library file, Debian package); glibc: nothing preloaded.
OTHER_ALLOCATORS = {
    "glibc": (None, None),
    "mimalloc": ("libmimalloc.so.2", "libmimalloc2.0"),
    "jemalloc": ("libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": ("libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
}
DEFAULT_ALLOCATORS = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "hakmem"]

# The C programs of the suite (bench/*.c); measure is the launcher.
C_PROGRAMS = ["larson", "prodcons", "false_sharing", "sizemix", "tightloop",
              "realloc", "calloc", "aligned", "large", "xbatch", "measure"]

# Packages the real programs come from: command -> Debian package.
PROGRAM_PACKAGES = {
    "/usr/bin/python3": "python3",
    "perl": "perl",
    "sqlite3": "sqlite3",
    "gcc": "gcc",
    "redis-server": "redis-server",
    "redis-benchmark": "redis-tools",
    "redis-cli": "redis-tools",
    "valgrind": "valgrind",
    "gnuplot": "gnuplot-nox",
}


class Installer:
    def __init__(self, allowed):
        self.allowed = allowed and os.geteuid() == 0 and shutil.which("apt-get")
        self.updated = False
        self.failed = set()

    def install(self, pkgs):
        pkgs = [p for p in pkgs if p not in self.failed]
        if not pkgs or not self.allowed:
            return False
        note("installing with apt-get: " + " ".join(pkgs))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends"] + pkgs
        for attempt in (0, 1):
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               universal_newlines=True, env=env)
            if r.returncode == 0:
                return True
            if attempt == 0 and not self.updated:
                self.updated = True
                subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
            else:
                break
        # One at a time, so that one missing package does not stop the rest.
        ok = True
        for p in pkgs:
            r = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", p],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if r.returncode != 0:
                self.failed.add(p)
                ok = False
        return ok


def find_lib(name):
    for d in LIB_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return os.path.realpath(p)
    return None


def find_hakmem(args):
    if args.hakmem:
        if not os.path.exists(args.hakmem):
            die("--hakmem %s: no such file" % args.hakmem)
        return os.path.abspath(args.hakmem)
    dirs = [args.build_dir] if args.build_dir else [os.path.join(SRCDIR, "_build"), SRCDIR]
    for d in dirs:
        p = os.path.join(d, "src", ".libs", "libhakmem.so.1")
        if os.path.exists(p):
            return os.path.abspath(p)
    return None


class Context:
    def __init__(self, args):
        self.args = args
        self.mode = args.mode
        self.out = os.path.abspath(args.out)
        self.work = os.path.join(self.out, "work")
        self.logs = os.path.join(self.out, "logs")
        self.bin_dir = None
        self.hakmem = None
        self.allocators = []    # [(name, lib or None)]
        self.skipped = []       # notes
        self.ops_scale = 1.0
        self.alloc_counts = {}  # real program -> allocation calls (count_allocs)

    def bin(self, prog):
        return os.path.join(self.bin_dir, prog)

    def wl_ops(self, name, mode):
        w = WORKLOADS_BY_NAME[name]
        return max(1, int(w.ops[mode] * self.ops_scale))

    def wl_seconds(self, name, mode):
        return WORKLOADS_BY_NAME[name].seconds[mode] * self.ops_scale

    def params(self):
        return PROGRAM_PARAMS[self.mode]


def build_programs(ctx):
    """Use the programs built by make (--bin-dir or BUILD/bench) when all are
    there and newer than their sources; otherwise compile them into OUT/bin."""
    cands = []
    if ctx.args.bin_dir:
        cands.append(os.path.abspath(ctx.args.bin_dir))
    if ctx.args.build_dir:
        cands.append(os.path.join(os.path.abspath(ctx.args.build_dir), "bench"))
    for d in cands:
        ok = True
        for p in C_PROGRAMS:
            exe, src = os.path.join(d, p), os.path.join(HERE, p + ".c")
            if not os.access(exe, os.X_OK) or (os.path.exists(src) and
                                               os.path.getmtime(exe) < os.path.getmtime(src)):
                ok = False
        if ok:
            ctx.bin_dir = d
            return
        if ctx.args.bin_dir and d == cands[0]:
            note("%s lacks up-to-date workload programs; compiling them" % d)
    ctx.bin_dir = os.path.join(ctx.out, "bin")
    os.makedirs(ctx.bin_dir, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    for p in C_PROGRAMS:
        src, exe = os.path.join(HERE, p + ".c"), os.path.join(ctx.bin_dir, p)
        cmd = shlex.split(cc) + ["-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-pthread",
                                 "-o", exe, src, "-ldl"]
        r = sh(cmd)
        if r.returncode != 0:
            die("compiling %s failed:\n%s" % (src, r.stdout))


def build_counter(ctx):
    """count_allocs.so (a preload counting allocation calls), compiled into
    OUT/bin; None (and a note in the report) when that fails."""
    src = os.path.join(HERE, "count_allocs.c")
    lib = os.path.join(ctx.out, "bin", "count_allocs.so")
    os.makedirs(os.path.dirname(lib), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    r = sh(shlex.split(cc) + ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-shared", "-fPIC",
                              "-o", lib, src])
    if r.returncode != 0:
        ctx.skipped.append("allocation counts of the real programs: compiling "
                           "count_allocs.c failed")
        return None
    return lib


def build_hakmem_novg(ctx):
    """hakmem built without Valgrind client requests, for callgrind."""
    if ctx.args.hakmem_callgrind:
        return os.path.abspath(ctx.args.hakmem_callgrind), ""
    d = os.path.join(ctx.out, "hakmem-novg")
    lib = os.path.join(d, "src", ".libs", "libhakmem.so.1")
    configure = os.path.join(SRCDIR, "configure")
    if not os.path.exists(configure):
        return None, "no configure script in %s" % SRCDIR
    os.makedirs(d, exist_ok=True)
    cflags = os.environ.get("CFLAGS")
    if ctx.args.build_dir:
        # Use the flags of the build under test.
        try:
            for ln in open(os.path.join(ctx.args.build_dir, "Makefile")):
                if ln.startswith("CFLAGS = "):
                    cflags = ln[len("CFLAGS = "):].strip()
                    break
        except OSError:
            pass
    cmd = [configure, "-q", "ac_cv_header_valgrind_valgrind_h=no",
           "ac_cv_header_valgrind_memcheck_h=no"]
    if cflags is not None:
        cmd.append("CFLAGS=" + cflags)
    if not os.path.exists(os.path.join(d, "config.status")):
        r = sh(cmd, cwd=d)
        if r.returncode != 0:
            return None, "configure failed (see %s/config.log)" % d
    r = sh(["make", "-j2", "-C", "src"], cwd=d)
    if r.returncode != 0 or not os.path.exists(lib):
        with open(os.path.join(ctx.logs, "hakmem-novg-build.log"), "w") as f:
            f.write(r.stdout)
        return None, "build failed (see logs/hakmem-novg-build.log)"
    return lib, ""


def setup(ctx):
    args = ctx.args
    inst = Installer(not args.no_install)
    os.makedirs(ctx.out, exist_ok=True)
    os.makedirs(ctx.work, exist_ok=True)
    os.makedirs(ctx.logs, exist_ok=True)

    # Allocators
    for name in args.allocators:
        if name == "hakmem":
            lib = find_hakmem(args)
            if not lib:
                die("libhakmem.so.1 not found: build hakmem, or give --hakmem or --build-dir")
            ctx.hakmem = lib
            ctx.allocators.append(("hakmem", lib))
            continue
        if name not in OTHER_ALLOCATORS:
            die("unknown allocator '%s' (known: %s)" % (name, ", ".join(DEFAULT_ALLOCATORS)))
        libname, pkg = OTHER_ALLOCATORS[name]
        if libname is None:
            ctx.allocators.append((name, None))
            continue
        lib = find_lib(libname)
        if not lib and inst.install([pkg]):
            lib = find_lib(libname)
        if lib:
            ctx.allocators.append((name, lib))
        else:
            ctx.skipped.append("allocator %s: %s not found (package %s)%s" % (
                name, libname, pkg, "" if inst.allowed else "; run as root to install it"))
    if not ctx.allocators:
        die("no allocator to measure")

    # Programs the selected workloads need
    need = set()
    sel = {w.name for w in ctx.selected}
    for w, cmds in (("python", ["/usr/bin/python3"]), ("python-malloc", ["/usr/bin/python3"]),
                    ("perl", ["perl"]), ("sqlite", ["sqlite3"]), ("gcc", ["gcc"]),
                    ("redis", ["redis-server", "redis-benchmark", "redis-cli"]),
                    ("callgrind", ["valgrind"])):
        if w in sel:
            need.update(cmds)
    if not args.no_plots:
        need.add("gnuplot")
    missing = sorted({PROGRAM_PACKAGES[c] for c in need if not shutil.which(c)})
    if missing:
        inst.install(missing)
    ctx.have = {c: bool(shutil.which(c)) for c in need}
    drop = []
    for w in ctx.selected:
        cmds = {"python": ["/usr/bin/python3"], "python-malloc": ["/usr/bin/python3"],
                "perl": ["perl"], "sqlite": ["sqlite3"], "gcc": ["gcc"],
                "redis": ["redis-server", "redis-benchmark", "redis-cli"],
                "callgrind": ["valgrind"]}.get(w.name, [])
        lacking = [c for c in cmds if not ctx.have.get(c)]
        if lacking:
            drop.append(w)
            ctx.skipped.append("workload %s: %s not available" % (w.name, ", ".join(lacking)))
    ctx.selected = [w for w in ctx.selected if w not in drop]
    if not args.no_plots and not ctx.have.get("gnuplot"):
        ctx.skipped.append("plots: gnuplot not available")

    build_programs(ctx)

    # Inputs of the real programs
    p = ctx.params()
    if "gcc" in sel:
        src = os.path.join(ctx.work, "big.c")
        with open(src, "w") as f:
            r = subprocess.run(["/usr/bin/python3" if os.path.exists("/usr/bin/python3")
                                else sys.executable, os.path.join(PROGRAMS_DIR, "gen_c.py"),
                                str(p["gcc"])], stdout=f)
        if r.returncode != 0:
            die("gen_c.py failed")
    if "sqlite" in sel:
        with open(os.path.join(PROGRAMS_DIR, "sqlite.sql")) as f:
            sql = f.read().replace("@ROWS@", str(p["sqlite"]))
        with open(os.path.join(ctx.work, "sqlite.sql"), "w") as f:
            f.write(sql)
    if "redis" in sel:
        with open(os.path.join(ctx.work, "redis-check.txt"), "w") as f:
            f.write(redis.check_commands())

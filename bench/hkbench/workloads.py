"""The workloads of the suite: what each runs, with how much work in each
mode, and how they are selected."""

import fnmatch
import os
import shutil

from .common import PROGRAMS_DIR, die


class Workload:
    """One workload. kind: micro (a bench/ program printing a result line;
    time = its measured phase), program (a real program; time = wall time),
    redis (server + client). For micro workloads, ops[mode] is the work;
    for those that run by the clock (clock=True), seconds[mode] is how long,
    and only their throughput (and RSS, faults) means anything. threads:
    the workload's own thread counts per mode, used unless --threads is
    given."""

    def __init__(self, name, kind, desc, argv=None, threaded=False, ops=None,
                 even_threads=False, env=None, group=None, clock=False, seconds=None,
                 threads=None, min_threads=1):
        self.name = name
        self.kind = kind
        self.desc = desc
        self.argv = argv
        self.threaded = threaded
        self.ops = ops or {}
        self.even_threads = even_threads
        self.env = env or {}
        self.group = group or ("micro" if kind == "micro" else "programs")
        self.clock = clock
        self.seconds = seconds or {}
        self.threads = threads or {}
        self.min_threads = min_threads

    def thread_counts(self, threads, mode=None, explicit=True):
        if not self.threaded:
            return [1]
        if not explicit and mode in self.threads:
            threads = self.threads[mode]
        ts = [t for t in threads if (not self.even_threads or (t >= 2 and t % 2 == 0)) and
              t >= self.min_threads]
        return ts or ([max(2, self.min_threads)] if self.even_threads else [self.min_threads])


def micro(name, prog, args, desc, full, quick, threaded=False, even_threads=False,
          threads=None, min_threads=1):
    def argv(ctx, threads, mode):
        a = [ctx.bin(prog)] + [str(x) for x in args] + ["--ops", str(ctx.wl_ops(name, mode))]
        if threaded:
            a += ["--threads", str(threads)]
        return a
    return Workload(name, "micro", desc, argv=argv, threaded=threaded,
                    ops={"full": full, "quick": quick}, even_threads=even_threads,
                    threads=threads, min_threads=min_threads)


def larson_std(name, desc, extra=(), threads=(1, 2, 4)):
    """The literature's Larson configuration, by the clock (larson --standard)."""
    def argv(ctx, t, mode):
        return [ctx.bin("larson"), "--standard"] + list(extra) + [
            "--seconds", "%g" % ctx.wl_seconds(name, mode), "--threads", str(t)]
    return Workload(name, "micro", desc, argv=argv, threaded=True, clock=True,
                    seconds={"full": 5, "quick": 0.3},
                    threads={"full": list(threads), "quick": list(threads)})


WORKLOADS = [
    larson_std("larson-std",
               "Larson as the allocator literature runs it (larson 5 8 1000 5000 100 4141 T): "
               "T tables of 5,000 blocks of 8-999 B, filled and shuffled by the main thread; "
               "each thread replaces 500,000 random blocks without reading them, then hands "
               "its table to a new thread; by the clock, throughput in steps per second"),
    larson_std("larson-std-cxx",
               "larson-std with C++ operator new[] and delete[] instead of malloc and free, "
               "as mimalloc-bench builds it (the preloaded allocator's operators when it "
               "exports them, else libstdc++'s, which call malloc and free); 2 threads",
               extra=["--cxx"], threads=(2,)),
    micro("larson", "larson", ["--rounds", 20, "--blocks", 2000, "--min", 8, "--max", 1000],
          "Larson server: per-thread tables of 2,000 live blocks of 8-1,000 B, random "
          "replacement; new threads take the tables over every round (20 rounds), so most "
          "frees are cross-thread",
          full=30000000, quick=2000000, threaded=True),
    micro("prodcons", "prodcons", ["--min", 8, "--max", 512],
          "producer/consumer: T/2 producers allocate 8-512 B blocks, T/2 consumers free them "
          "(every free cross-thread), batches of 256, 8 batches in flight per pair",
          full=15000000, quick=1000000, threaded=True, even_threads=True),
    micro("xbatch", "xbatch", ["--batch", 256, "--depth", 4, "--min", 16, "--max", 65536],
          "cross-thread batches: every round each thread allocates a batch of 256 blocks "
          "of 16 B - 64 KiB (7 in 8 of 16-512 B, the rest log-uniform up to 64 KiB; a "
          "byte of every page written) and hands it to another thread, which frees it; "
          "4 batches in flight per thread",
          full=6000000, quick=300000, threaded=True,
          threads={"full": [2, 4, 8], "quick": [2, 4]}, min_threads=2),
    micro("xbatch-large", "xbatch", ["--batch", 64, "--depth", 4, "--min", 64,
                                     "--max", 262144],
          "cross-thread batches of larger blocks: as xbatch, with batches of 64 blocks of "
          "64 B - 256 KiB (7 in 8 of 64 B - 2 KiB), so four times the rounds per block",
          full=1500000, quick=100000, threaded=True,
          threads={"full": [8], "quick": [8]}, min_threads=2),
    micro("false-sharing-active", "false_sharing", ["--mode", "active", "--size", 8, "--writes", 500],
          "false sharing, active: threads allocate 8 B objects concurrently and write each "
          "byte 500 times",
          full=400000, quick=20000, threaded=True),
    micro("false-sharing-passive", "false_sharing", ["--mode", "passive", "--size", 8, "--writes", 500],
          "false sharing, passive: the main thread allocates one 8 B object per thread and "
          "hands them out; each thread frees its object and then allocates and writes its own",
          full=400000, quick=20000, threaded=True),
    micro("sizemix", "sizemix", [],
          "size mix: 8 B - 64 KiB skewed small, lifetimes mostly short with a long tail; "
          "each thread its own blocks",
          full=10000000, quick=500000, threaded=True),
    micro("tight-pair", "tightloop", ["--mode", "pair", "--size", 64],
          "tight loop: one thread, malloc(64) then free, again and again",
          full=100000000, quick=5000000),
    micro("tight-batch", "tightloop", ["--mode", "batch", "--size", 64],
          "tight loop: one thread, 100 mallocs of 64 B then the 100 frees",
          full=100000000, quick=5000000),
    micro("realloc-string", "realloc", ["--mode", "string"],
          "realloc growth: 64 strings appended to 1-32 B at a time with realloc to the exact "
          "length, up to 64 B - 64 KiB each",
          full=12000000, quick=500000),
    micro("realloc-vector", "realloc", ["--mode", "vector"],
          "realloc growth: 64 vectors doubling capacity (16 B - 8 MiB), new halves filled",
          full=20000, quick=1000),
    micro("calloc", "calloc", [],
          "calloc-heavy churn: 1,000 live blocks, 16 B - 512 KiB, checked for zero, then "
          "dirtied",
          full=300000, quick=20000),
    micro("aligned", "aligned", [],
          "aligned churn: posix_memalign/aligned_alloc/memalign, 16 B - 4 KiB alignment, "
          "8 B - 8 KiB, 1,000 live",
          full=10000000, quick=500000),
    micro("large", "large", [],
          "large churn: 8 live blocks of 64 KiB - 32 MiB (log-uniform), every page written",
          full=600, quick=60),
    Workload("python", "program",
             "python3 (Debian's, default pymalloc) on an allocation-heavy script: dicts, "
             "lists, strings, JSON, sorting, objects",
             env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}),
    Workload("python-malloc", "program",
             "the same script with PYTHONMALLOC=malloc (every object from the allocator)",
             env={"PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
                  "PYTHONMALLOC": "malloc"}),
    Workload("perl", "program",
             "perl on a hash/string script: big hashes, join/split, regex rewriting, sorting",
             env={"PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0"}),
    Workload("sqlite", "program",
             "sqlite3 building a database (customers and orders), indexing and querying it "
             "(joins, GROUP BY, ORDER BY, UPDATE, DELETE)"),
    Workload("gcc", "program", "gcc -O2 -c on a generated C file"),
    Workload("redis", "redis",
             "redis-server (preloaded) driven by redis-benchmark on 127.0.0.1 (pipelined, "
             "15 command types); glibc row: libc.so.6 preloaded, as redis-server links "
             "jemalloc"),
    Workload("larson-soak", "soak",
             "Larson, 16 threads, by the clock (60 s in full mode): resident memory and "
             "kernel mappings sampled every 0.5 s", group="soak"),
    Workload("callgrind", "callgrind",
             "tight loop under valgrind --tool=callgrind: instructions per malloc+free pair",
             group="callgrind"),
]

# Real-program sizes per mode.
PROGRAM_PARAMS = {
    "full": {"python": "0.7", "perl": "0.5", "sqlite": 400000, "gcc": 160,
             "redis": 100000, "soak_seconds": 60, "callgrind_n": 200000},
    "quick": {"python": "0.05", "perl": "0.03", "sqlite": 20000, "gcc": 12,
              "redis": 4000, "soak_seconds": 3, "callgrind_n": 20000},
}

REDIS_TESTS = "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange_100,mset"


WORKLOADS_BY_NAME = {w.name: w for w in WORKLOADS}


def program_argv(ctx, w):
    p = ctx.params()
    if w.name in ("python", "python-malloc"):
        return [shutil.which("/usr/bin/python3"), os.path.join(PROGRAMS_DIR, "alloc_heavy.py"),
                p["python"]], None
    if w.name == "perl":
        return [shutil.which("perl"), os.path.join(PROGRAMS_DIR, "alloc_heavy.pl"),
                p["perl"]], None
    if w.name == "sqlite":
        db = os.path.join(ctx.work, "bench.db")
        return [shutil.which("sqlite3"), db], os.path.join(ctx.work, "sqlite.sql")
    if w.name == "gcc":
        return [shutil.which("gcc"), "-O2", "-c", os.path.join(ctx.work, "big.c"), "-o",
                os.path.join(ctx.work, "big.o")], None
    raise ValueError(w.name)


def select(patterns):
    groups = {"micro": lambda w: w.kind == "micro", "programs": lambda w: w.kind in ("program", "redis"),
              "soak": lambda w: w.kind == "soak", "callgrind": lambda w: w.kind == "callgrind",
              "all": lambda w: True}
    out = []
    for pat in patterns:
        if pat in groups:
            hit = [w for w in WORKLOADS if groups[pat](w)]
        else:
            hit = [w for w in WORKLOADS if fnmatch.fnmatch(w.name, pat)]
        if not hit:
            die("no workload matches '%s' (see --list)" % pat)
        out += [w for w in hit if w not in out]
    return out

"""redis-server under an allocator: the one harness of bench/run's redis
workload and of tools/check-programs' redis check.

Run as a program, it is that check's run of the server (check-programs
compares two of them and judges the memory):

  python3 -m hkbench.redis --out DIR [--preload LIB] [--env NAME=VALUE]...

redis-server (with LD_PRELOAD=LIB and the --env settings) under
redis-benchmark (1,000,000 requests: 100,000 for each of 10 commands, 50
clients), then a known data set of 200,000 commands, FLUSHALL, 100 more
commands and FLUSHALL again. In DIR: out (what must be the same under every
allocator: the commands measured and the data), mem (resident KiB before
the benchmark, at the peak and after FLUSHALL), bench.csv, bench.err,
status (0 when every step worked), seconds, err (the server's log and the
clients' errors).
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """redis-server on 127.0.0.1 at a free port, run in directory rdir
    behind the words of prefix (e.g. bench/measure and its options), with
    env and extra settings; stopped with SHUTDOWN NOSAVE."""

    def __init__(self, rdir, prefix=(), env=None, settings=()):
        self.rdir = rdir
        self.port = free_port()
        self.env = env
        self.argv = list(prefix) + [
            shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", rdir, "--daemonize", "no"] + list(settings)
        self.proc = None

    def start(self, log):
        """Start it, output to the file log; True once it answers PING."""
        self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.rdir)
        return self.ping()

    def ping(self, timeout=15.0):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def cli(self, *args, stdin=None, stderr=None, timeout=300):
        """redis-cli with args (or the commands of the file stdin)."""
        return subprocess.run([shutil.which("redis-cli"), "-h", "127.0.0.1", "-p",
                               str(self.port)] + list(args),
                              stdin=stdin or subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=stderr, universal_newlines=True, timeout=timeout)

    def benchmark(self, requests, tests, size, pipeline=1, stderr=None, timeout=300):
        """redis-benchmark, 50 clients over 100,000 random keys, requests per
        command of tests (comma-separated), values of size bytes. Returns
        (exit status, [(command, requests per second)], its CSV)."""
        argv = [shutil.which("redis-benchmark"), "-h", "127.0.0.1", "-p", str(self.port),
                "-n", str(requests), "-c", "50", "-r", "100000", "-d", str(size),
                "-t", tests, "--csv"]
        if pipeline > 1:
            argv += ["-P", str(pipeline)]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=stderr,
                           universal_newlines=True, timeout=timeout)
        rows = [ln.split('","')[:2] for ln in r.stdout.splitlines()
                if ln.startswith('"') and not ln.startswith('"test"')]
        return r.returncode, [(n.strip('"'), float(v.strip('"'))) for n, v in rows], r.stdout

    def rss_kb(self):
        """The server's resident memory (the process started, so not
        behind a prefix)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for ln in f:
                    if ln.startswith("VmRSS:"):
                        return int(ln.split()[1])
        except OSError:
            pass
        return 0

    def stop(self):
        """SHUTDOWN NOSAVE; the server's exit status (killed after 30 s)."""
        if self.proc is None:
            return None
        try:
            self.cli("shutdown", "nosave", stderr=subprocess.DEVNULL, timeout=30)
        except subprocess.TimeoutExpired:
            pass
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def check_commands():
    """A fixed command sequence whose replies do not depend on the allocator
    (bench/run's check of the redis workload)."""
    cmds = ["FLUSHALL"]
    for i in range(300):
        cmds.append("SET key:%d %s" % (i, "v" * (1 + i % 97)))
        if i % 3 == 0:
            cmds.append("APPEND key:%d %s" % (i, "w" * (i % 50 + 1)))
        cmds.append("RPUSH list:%d %s" % (i % 10, " ".join("e%d" % k for k in range(i % 20 + 1))))
        cmds.append("HSET hash:%d f%d %d" % (i % 7, i, i * i))
        cmds.append("ZADD zset %d m%d" % ((i * 7919) % 1000, i))
        cmds.append("SADD set:%d %d" % (i % 5, i * 3))
        cmds.append("INCRBY counter %d" % i)
    for i in range(0, 300, 7):
        cmds.append("GET key:%d" % i)
        cmds.append("STRLEN key:%d" % i)
    for k in range(10):
        cmds.append("LRANGE list:%d 0 -1" % k)
        cmds.append("LLEN list:%d" % k)
    for k in range(7):
        cmds.append("HLEN hash:%d" % k)
        cmds.append("HGET hash:%d f%d" % (k, k))
    for k in range(5):
        cmds.append("SCARD set:%d" % k)
        cmds.append("SISMEMBER set:%d %d" % (k, k * 3))
    cmds += ["ZRANGE zset 0 50 WITHSCORES", "ZCARD zset", "GET counter", "DBSIZE", "FLUSHALL"]
    return "\n".join(cmds) + "\n"


def dataset():
    """A deterministic data set in Redis's protocol (for redis-cli --pipe):
    200,000 commands on strings, lists, sets, hashes and sorted sets."""
    def cmd(*words):
        return "*%d\r\n" % len(words) + "".join("$%d\r\n%s\r\n" % (len(w), w) for w in words)
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
    out = []
    for i in range(40000):
        out.append(cmd("SET", "key:%d" % i, "%s%d" % (alnum[:1 + i % 36], i * 7)))
        out.append(cmd("RPUSH", "list:%d" % (i % 1000), "item%d" % i))
        out.append(cmd("SADD", "set:%d" % (i % 500), "m%d" % (i * 13 % 30011)))
        out.append(cmd("HSET", "hash:%d" % (i % 2000), "f%d" % i, "%0*d" % (1 + i % 120, i)))
        out.append(cmd("ZADD", "zset:%d" % (i % 100), str(i % 977), "m%d" % i))
    return "".join(out)


def memory_run(out, preload, settings_env):
    """tools/check-programs' run of the server; see the module's text."""
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.update(settings_env)
    if preload:
        env["LD_PRELOAD"] = preload
    f = lambda name: os.path.join(out, name)
    start = time.monotonic()
    server = Server(out, env=env, settings=["--enable-debug-command", "local",
                                            "--logfile", f("server.log")])
    notes = []
    with open(f("server.out"), "w") as log, open(f("bench.err"), "w") as berr:
        up = server.start(log)
        try:
            st, rss, csv, pipe, data = memory_steps(server, berr, f)
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
    if preload and not (up and "libhakmem" in open(f("maps")).read()):
        notes.append("redis-server does not have hakmem loaded")
        st = 1
    with open(f("status"), "w") as fs:
        fs.write("%d\n" % st)
    with open(f("seconds"), "w") as fs:
        fs.write("%.3f\n" % (time.monotonic() - start))
    with open(f("mem"), "w") as fm:
        fm.write("%d %d %d\n" % tuple(rss))
    # compared: which commands the benchmark measured, and the data
    with open(f("out"), "w") as fo:
        fo.write("".join(ln.split(",")[0].replace('"', "") + "\n" for ln in csv.splitlines()))
        fo.write("".join(ln + "\n" for ln in pipe.splitlines()
                         if "errors: 0, replies: 200000" in ln))
        fo.write(data)
    with open(f("err"), "w") as fe:
        for name in ("bench.err", "server.log", "server.out"):
            if os.path.exists(f(name)):
                fe.write(open(f(name), errors="replace").read())
        fe.write("".join(n + "\n" for n in notes))
    return st


def memory_steps(server, berr, f):
    """The steps of memory_run on the started server. Returns (status,
    [RSS before, peak, after], benchmark CSV, redis-cli --pipe's output,
    the data's replies)."""
    st = 0
    try:
        with open("/proc/%d/maps" % server.proc.pid) as fm, open(f("maps"), "w") as fo:
            fo.write(fm.read())
    except OSError:
        open(f("maps"), "w").close()
    rss = [server.rss_kb(), 0, 0]
    try:
        # 1,000,000 requests in all: 100,000 for each of 10 commands
        rc, _, csv = server.benchmark(100000, "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,zadd",
                                      size=100, stderr=berr)
    except subprocess.TimeoutExpired:
        rc, csv = 1, ""
    with open(f("bench.csv"), "w") as fcsv:
        fcsv.write(csv)
    st |= rc != 0
    rss[1] = server.rss_kb()
    # the benchmark's keys are random: replace them by a known data set
    st |= server.cli("flushall").returncode != 0
    with open(f("dataset.txt"), "w") as fd:
        fd.write(dataset())
    with open(f("dataset.txt")) as fd:
        p = server.cli("--pipe", stdin=fd, stderr=subprocess.STDOUT)
    with open(f("pipe.out"), "w") as fp:
        fp.write(p.stdout)
    st |= p.returncode != 0
    rss[1] = max(rss[1], server.rss_kb())
    data = "".join(server.cli(*c.split(), stderr=subprocess.STDOUT).stdout for c in (
        "dbsize", "debug digest", "lrange list:7 0 4", "zrange zset:3 0 4 withscores",
        "hget hash:11 f4011", "scard set:42"))
    st |= server.cli("flushall").returncode != 0
    time.sleep(2)
    with open(f("after.txt"), "w") as fa:
        fa.write("".join("SET after:%d %d\n" % (i, i) for i in range(1, 101)))
    with open(f("after.txt")) as fa:
        server.cli(stdin=fa)
    server.cli("flushall")
    rss[2] = server.rss_kb()
    data += server.cli("dbsize").stdout
    st |= server.stop() != 0
    return int(st), rss, csv, p.stdout, data


def main(argv):
    p = argparse.ArgumentParser(prog="python3 -m hkbench.redis",
                                description="tools/check-programs' run of redis-server")
    p.add_argument("--out", required=True)
    p.add_argument("--preload", default="")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(argv)
    settings = dict(e.split("=", 1) for e in args.env)
    return memory_run(os.path.abspath(args.out), args.preload, settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

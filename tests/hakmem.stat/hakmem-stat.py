"""Tests of hakmem-stat (system/hakmem-stat.c) and of the JSON statistics,
run by stat.exp, which turns the PASS:/FAIL: lines into DejaGnu results
(anything else goes to hakmem.log).

usage: hakmem-stat.py TOOL LIBRARY TARGET PYLOAD
  TOOL     the built hakmem-stat
  LIBRARY  the built libhakmem.so.N
  TARGET   the built stat_target (linked with hakmem; see its source)
  PYLOAD   pyload.py, run by this Python under LD_PRELOAD=LIBRARY

What the process reads of itself with hakmem_ctl must be what the tool
reads from outside: exactly, when the process is quiet (the C target, and
the figures of the snapshot of the Python program, whose own interpreter
keeps allocating), and, for redis under load (when redis-server and
redis-benchmark are installed), equal to redis's own periodic JSON report
of the same epoch; the tool must be refused for another user's process.
"""
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

TOOL, LIB, TARGET, PYLOAD = sys.argv[1:5]
failures = 0


def check(ok, name, detail=""):
    global failures
    print(("PASS: " if ok else "FAIL: ") + name)
    if not ok:
        failures += 1
        if detail:
            print("note: " + str(detail)[:2000])


def as_user(name):
    pw = pwd.getpwnam(name)
    return ["setpriv", "--reuid=%d" % pw.pw_uid, "--regid=%d" % pw.pw_gid, "--clear-groups"]


def tool(*args, user=None):
    cmd = [TOOL] + [str(a) for a in args]
    if user:
        cmd = as_user(user) + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    print("---- %s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout[:3000], r.stderr))
    return r


def parse(text):
    try:
        return json.loads(text)
    except ValueError as e:
        return e


def flat(d, prefix=""):
    """{"a": {"b": 1}, "classes": [{...}]} -> {"a.b": 1, "classes.0.size": ...}"""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, prefix + k + "."))
        elif isinstance(v, list):
            for i, e in enumerate(v):
                out.update(flat(e, "%s%s.%d." % (prefix, k, i)))
        else:
            out[prefix + k] = v
    return out


class Proc:
    """A target process driven through its stdin and stdout."""

    def __init__(self, argv, env=None, user=None):
        if user:
            argv = as_user(user) + argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env=env)
        self.pid = self.p.pid

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def quit(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        return self.p.wait(timeout=60)


def env(**kw):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HAKMEM_")}
    e.update(kw)
    return e


def same(name, inside, outside, keys):
    a, b = flat(inside), flat(outside)
    diff = {k: (a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)}
    check(not diff and all(k in b for k in keys), name, "ctl vs tool: %s" % diff)


work = tempfile.mkdtemp(prefix="hakmem-stat-test.")
os.chmod(work, 0o755)

# --- Reports: HAKMEM_STATS=json, stats_file with %p, stats_interval_ms. ---

t = Proc([TARGET], env(HAKMEM_STATS="json", HAKMEM_STATS_FILE=work + "/exit.%p.json"))
t.ask("bg on")
time.sleep(0.3)
t.ask("bg off")
inside = parse(t.ask("snap"))
pid = t.pid
check(t.quit() == 0, "target exits 0")
path = "%s/exit.%d.json" % (work, pid)
check(os.path.exists(path), "stats_file: %p is replaced by the PID")
report = parse(open(path).read()) if os.path.exists(path) else None
check(isinstance(report, dict), "exit report (HAKMEM_STATS=json) is valid JSON", report)
if isinstance(report, dict) and isinstance(inside, dict):
    check(report.get("pid") == pid, "exit report names the process")
    check(set(flat(inside)) <= set(flat(report)),
          "exit report has every figure hakmem_ctl has",
          set(flat(inside)) - set(flat(report)))
    check(len(report["classes"]) == len(inside["classes"]), "exit report has every class")
    check(report["metadata"] <= report["resident"] <= report["mapped"]
          and report["allocated"] <= report["resident"],
          "metadata <= resident <= mapped, allocated <= resident",
          {k: report[k] for k in ("metadata", "resident", "mapped", "allocated")})
check(not os.path.exists(path + ".tmp"), "stats_file: no temporary file left")

r = subprocess.run([TARGET], input="bg on\nbg off\nquit\n", capture_output=True, text=True,
                   env=env(HAKMEM_STATS="json"), timeout=60)
last = r.stderr.strip().splitlines()[-1:] or [""]
check(isinstance(parse(last[0]), dict), "HAKMEM_STATS=json: stderr ends with a JSON line",
      r.stderr[-500:])

r = subprocess.run([TARGET], input="quit\n", capture_output=True, text=True, timeout=60,
                   env=env(HAKMEM_STATS="1", HAKMEM_STATS_FILE=work + "/text.%p"))
files = [f for f in os.listdir(work) if f.startswith("text.")]
body = open(os.path.join(work, files[0])).read() if len(files) == 1 else ""
check(body.startswith("hakmem statistics (process ") and "resident" in body,
      "HAKMEM_STATS=1 with stats_file: the text table in the file", files)

t = Proc([TARGET], env(HAKMEM_STATS_INTERVAL_MS="50",
                       HAKMEM_STATS_FILE=work + "/periodic.%p.json",
                       HAKMEM_STATS_FORMAT="json"))
ppath = "%s/periodic.%d.json" % (work, t.pid)
t.ask("bg on")
epochs = []
for _ in range(100):
    time.sleep(0.05)
    if os.path.exists(ppath):
        d = parse(open(ppath).read())
        if isinstance(d, dict):
            epochs.append(d["epoch"])
        if len(set(epochs)) >= 3:
            break
check(len(set(epochs)) >= 3 and all(isinstance(e, int) for e in epochs),
      "stats_interval_ms: the file is rewritten while the process runs, valid JSON each time",
      epochs)
t.ask("bg off")
t.quit()

# --- hakmem_ctl("stats.json") ---

t = Proc([TARGET], env())
t.ask("bg on")
time.sleep(0.2)
t.ask("bg off")
inside = parse(t.ask("snap"))
js = parse(t.ask("json"))
check(isinstance(js, dict), "ctl stats.json is valid JSON", js)
if isinstance(js, dict) and isinstance(inside, dict):
    same("ctl stats.json agrees with the other stats.* names", inside, js, flat(inside))

# --- hakmem-stat on the C target ---

t.ask("bg on")
time.sleep(0.2)
r1, r2 = tool("--json", t.pid), tool("--json", t.pid)
a, b = parse(r1.stdout), parse(r2.stdout)
check(r1.returncode == 0 and isinstance(a, dict) and isinstance(b, dict),
      "hakmem-stat --json: valid JSON under load", (a, b))
if isinstance(a, dict) and isinstance(b, dict):
    check(a["fresh"] and b["fresh"] and b["epoch"] > a["epoch"],
          "under load the process answers each request with a new epoch",
          (a["fresh"], b["fresh"], a["epoch"], b["epoch"]))
    check(a["threads"] == 2 and a["superslabs"]["live"] > 0 and a["allocated"] > 0,
          "figures under load: 2 threads, SuperSlabs, bytes in use")
r = tool(t.pid)
check(r.returncode == 0 and "allocated" in r.stdout and "class" in r.stdout,
      "hakmem-stat PID: the table")
r = tool("-i", "0.1", "-n", "3", "--json", t.pid)
lines = r.stdout.splitlines()
check(len(lines) == 3 and all(isinstance(parse(x), dict) for x in lines),
      "hakmem-stat -i 0.1 -n 3 --json: three JSON lines", lines[:1])
t.ask("bg off")
keys = None
for attempt in range(3):
    inside = parse(t.ask("snap"))
    r = tool("--json", "-w", "0", t.pid)
    outside = parse(r.stdout)
    if isinstance(inside, dict) and isinstance(outside, dict):
        keys = list(flat(inside).keys())
        keys.remove("pid")
        same("quiet C target: hakmem-stat agrees with hakmem_ctl on every figure",
             inside, outside, keys)
        break
else:
    check(False, "quiet C target: hakmem-stat agrees with hakmem_ctl on every figure",
          (inside, r.stdout, r.stderr))
r = tool("--json", t.pid)
o = parse(r.stdout)
check(isinstance(o, dict) and not o["fresh"] and o["epoch"] == inside.get("epoch"),
      "an idle process does not answer: the last figures, marked not fresh")

# fork: the child gets its own page; the parent's is not disturbed.
t.p.stdin.write("fork\n")
t.p.stdin.flush()
got = {}
child = None
while len(got) < 2:
    line = t.p.stdout.readline().strip()
    if line.startswith("child "):
        child = int(line.split()[1])
    else:
        d = parse(line)
        if not isinstance(d, dict):
            break
        got[d["pid"]] = d
if child and child in got and t.pid in got:
    for who, p in (("child", child), ("parent", t.pid)):
        o = parse(tool("--json", "-w", "0", p).stdout)
        same("after fork, the %s's page holds the %s's figures" % (who, who),
             got[p], o if isinstance(o, dict) else {}, keys)
    os.kill(child, 15)
else:
    check(False, "fork: child and parent report", got)
check(t.quit() == 0, "target exits 0")

t = Proc([TARGET], env(HAKMEM_STATS_PAGE="0"))
r = tool(t.pid)
check(r.returncode == 1 and "no hakmem statistics page" in r.stderr,
      "stats_page=0: no page, and the tool says so")
t.quit()
r = tool(os.getpid())
check(r.returncode == 1 and "no hakmem statistics page" in r.stderr,
      "a process without hakmem: the tool says so")
r = tool("12x")
check(r.returncode == 2, "a bad PID is a usage error")

# --- Only the owner and root. ---

if os.geteuid() == 0:
    try:
        pwd.getpwnam("nobody")
        pwd.getpwnam("daemon")
        have_nobody = True
    except KeyError:
        have_nobody = False
    if have_nobody:
        t = Proc([TARGET], env())
        t.ask("snap")
        r = tool(t.pid, user="nobody")
        check(r.returncode == 1 and "permission denied" in r.stderr,
              "root's process: refused to nobody")
        t.quit()
        # nobody may not reach the build tree (rpmbuild's %check builds in
        # a directory only root can enter): then it cannot run the target.
        probe = subprocess.run(as_user("nobody") + [TARGET], input="quit\n", text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
        if probe.returncode != 0:
            print("note: nobody cannot run %s here (%s): nobody's process was not tested"
                  % (TARGET, probe.stderr.strip()[:200]))
        else:
            t = Proc([TARGET], env(), user="nobody")
            check(isinstance(parse(t.ask("snap")), dict), "the target runs as nobody")
            r = tool("--json", t.pid)
            check(r.returncode == 0 and isinstance(parse(r.stdout), dict),
                  "nobody's process: root may read it")
            r = tool("--json", t.pid, user="daemon")
            check(r.returncode == 1 and "permission denied" in r.stderr,
                  "nobody's process: refused to another user (daemon)")
            t.quit()
    else:
        print("note: no user nobody or daemon: the other-user cases were not run")
else:
    r = tool(1)
    check(r.returncode == 1 and "permission denied" in r.stderr,
          "process 1 (root's): refused to this user")

# --- A real long-running program: Python under LD_PRELOAD. ---

t = Proc([sys.executable, PYLOAD], env(LD_PRELOAD=LIB))
time.sleep(1.0)
r1, r2 = tool("--json", t.pid), tool("--json", t.pid)
a, b = parse(r1.stdout), parse(r2.stdout)
check(isinstance(a, dict) and isinstance(b, dict) and a["fresh"] and b["fresh"]
      and b["epoch"] > a["epoch"] and a["allocated"] > 1000000,
      "Python under load: fresh figures on each request", (r1.stdout[:300], r2.stdout[:300]))
check(t.ask("pause") == "ok", "Python: load paused")
inside = parse(t.ask("snap"))
r = tool("--json", "-w", "0", t.pid)
outside = parse(r.stdout)
if isinstance(inside, dict) and isinstance(outside, dict):
    # The snapshot's figures are exact; counters the interpreter moves
    # while it reads them (it allocates) only close.
    exact = [k for k in flat(inside) if k in ("epoch", "allocated", "resident", "metadata",
                                              "remote_pending") or k.startswith("classes.")]
    same("Python: hakmem-stat agrees with hakmem_ctl on the snapshot", inside, outside, exact)
    fi, fo = flat(inside), flat(outside)
    close = {k: (fi[k], fo[k]) for k in ("mapped", "mappings", "superslabs.live",
                                         "large.live", "frees.local")
             if abs(fi[k] - fo[k]) > max(0.1 * fi[k], 8)}
    check(not close, "Python: and within 10 % on the counters", close)
else:
    check(False, "Python: hakmem-stat agrees with hakmem_ctl on the snapshot",
          (inside, r.stdout, r.stderr))
check(t.ask("resume") == "ok", "Python: load resumed")
r = tool("-i", "0.2", "-n", "2", t.pid)
check(r.returncode == 0 and r.stdout.count("figures fresh") == 2,
      "Python: hakmem-stat -i refreshes under load")
t.quit()

# --- redis-server under redis-benchmark, when installed. ---

def free_port():
    import socket
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


redis, bench = shutil.which("redis-server"), shutil.which("redis-benchmark")
if redis and bench:
    port = free_port()
    rfile = work + "/redis.%p.json"
    rs = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--daemonize", "no", "--logfile", "",
                           "--dir", work],
                          stdout=subprocess.DEVNULL, env=env(LD_PRELOAD=LIB,
                                                              HAKMEM_STATS_INTERVAL_MS="100",
                                                              HAKMEM_STATS_FORMAT="json",
                                                              HAKMEM_STATS_FILE=rfile))
    time.sleep(0.5)
    load = subprocess.Popen([bench, "-p", str(port), "-t", "set,get,lpush,lpop", "-n",
                             "2000000", "-r", "100000", "-d", "200", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    r1, r2 = tool("--json", rs.pid), tool("--json", rs.pid)
    a, b = parse(r1.stdout), parse(r2.stdout)
    check(isinstance(a, dict) and isinstance(b, dict) and a["fresh"] and b["fresh"]
          and b["epoch"] > a["epoch"] and a["allocated"] > 0,
          "redis under redis-benchmark: fresh figures on each request",
          (r1.stdout[:200], r2.stdout[:200]))
    # The process's own report (the figures hakmem_ctl reads) and the page
    # are written from one collection: for the same epoch they are equal.
    rpath = work + "/redis.%d.json" % rs.pid
    matched = False
    for _ in range(50):
        o = parse(tool("--json", "-w", "0", rs.pid).stdout)
        f = parse(open(rpath).read()) if os.path.exists(rpath) else None
        if isinstance(o, dict) and isinstance(f, dict) and o["epoch"] == f["epoch"]:
            keys = [k for k in flat(f) if k not in ("pid", "version")]
            same("redis: hakmem-stat agrees with the process's own report of the same epoch",
                 f, o, keys)
            matched = True
            break
        time.sleep(0.03)
    if not matched:
        check(False, "redis: hakmem-stat agrees with the process's own report of the same "
              "epoch", "no common epoch in 50 tries")
    load.kill()
    load.wait()
    rs.terminate()
    check(rs.wait(timeout=60) == 0, "redis-server exits 0")
else:
    print("note: redis-server or redis-benchmark not installed: the redis case was not run")

subprocess.run(["rm", "-rf", work])
sys.exit(1 if failures else 0)

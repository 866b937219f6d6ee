"""A long-running Python program for the hakmem-stat test, run with
LD_PRELOAD=libhakmem: a thread keeps building and dropping strings and
lists large enough to go through malloc (CPython serves objects under 512
bytes from its own arenas). Commands on stdin, one per line:
  pause / resume   stop (and wait for) or restart the load
  snap             publish (hakmem_ctl "epoch") and print the figures read
                   with hakmem_ctl, as one JSON line
  quit             exit
"""
import ctypes
import json
import sys
import threading

ctl = ctypes.CDLL(None).hakmem_ctl
ctl.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                ctypes.c_void_p, ctypes.c_size_t]

running = threading.Event()
idle = threading.Event()


def load():
    keep = {}
    i = 0
    while True:
        if not running.is_set():
            idle.set()
            running.wait()
            idle.clear()
        keep[i % 20000] = ("y" * (600 + (i * 7919) % 9000), [i] * (i % 200))
        if i % 5000 == 0:
            keep[-1] = bytearray(300000 + i % 50000)
        i += 1


def get(name):
    v = ctypes.c_uint64(0)
    n = ctypes.c_size_t(8)
    rc = ctl(name.encode(), ctypes.byref(v), ctypes.byref(n), None, 0)
    return v.value if rc == 0 else None


def snap():
    one = ctypes.c_uint64(1)
    ctl(b"epoch", None, None, ctypes.byref(one), 8)
    d = {"epoch": get("epoch")}
    for k in ("allocated", "resident", "metadata", "mapped", "mappings", "dirty",
              "purged", "remote_pending"):
        d[k] = get("stats." + k)
    for group, keys in (("superslabs", ("live", "created", "released")),
                        ("large", ("live", "bytes", "cached")),
                        ("frees", ("local", "remote"))):
        d[group] = {k: get("stats.%s.%s" % (group, k)) for k in keys}
    d["classes"] = [{f: get("stats.classes.%d.%s" % (c, f))
                     for f in ("size", "blocks", "slabs")}
                    for c in range(get("stats.classes.count"))]
    return d


running.set()
threading.Thread(target=load, daemon=True).start()
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "pause":
        idle.clear()
        running.clear()
        idle.wait()
        print("ok", flush=True)
    elif cmd == "resume":
        running.set()
        print("ok", flush=True)
    elif cmd == "snap":
        print(json.dumps(snap()), flush=True)
    elif cmd == "quit":
        break

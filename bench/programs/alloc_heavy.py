"""Allocation-heavy Python workload for bench/run (python3 under LD_PRELOAD)
and tests/hakmem.api/hardened_programs.

Builds and tears down the object graphs typical Python programs make:
records as dicts with lists of strings, JSON round trips, string building
and splitting, an inverted index, sorting, tuples in trees, bytes
concatenation and class instances. Everything is seeded, so the output (a
digest of the results) is the same under every allocator; bench/run
compares it. Usage: python3 alloc_heavy.py [SCALE]
"""
import hashlib
import json
import random
import sys


class Point:
    def __init__(self, x, y, label):
        self.x = x
        self.y = y
        self.label = label

    def moved(self, dx, dy):
        return Point(self.x + dx, self.y + dy, self.label + "'")


def tree(depth):
    return (tree(depth - 1), tree(depth - 1), depth) if depth else None


def tree_size(t):
    return 0 if t is None else 1 + tree_size(t[0]) + tree_size(t[1])


def main():
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rng = random.Random(20240607)
    h = hashlib.sha256()
    n = int(120000 * scale)

    records = []
    for i in range(n):
        tags = [("t%d" % rng.randrange(200)) for _ in range(rng.randrange(1, 8))]
        records.append({
            "id": i,
            "name": "user-%06d" % rng.randrange(1000000),
            "tags": tags,
            "score": round(rng.random() * 1000, 3),
            "bio": "x" * rng.randrange(0, 300),
        })

    # JSON round trip of a slice, twice
    for part in (records[: n // 3], records[n // 3: 2 * n // 3]):
        text = json.dumps(part)
        back = json.loads(text)
        h.update(str(len(text)).encode())
        h.update(str(sum(len(r["tags"]) for r in back)).encode())
        del text, back

    # string building and splitting
    lines = ["%d|%s|%s|%.3f" % (r["id"], r["name"], ",".join(r["tags"]), r["score"])
             for r in records]
    blob = "\n".join(lines)
    fields = [ln.split("|") for ln in blob.split("\n")]
    h.update(str(sum(len(f[2]) for f in fields)).encode())
    del lines, blob, fields

    # inverted index with sets and lists
    index = {}
    for r in records:
        for t in r["tags"]:
            index.setdefault(t, []).append(r["id"])
    sets = {t: set(ids) for t, ids in index.items()}
    common = sets["t1"] & sets["t2"] | sets["t3"]
    h.update(str(len(common)).encode())
    del index, sets, common

    # sorting with tuple keys
    records.sort(key=lambda r: (r["name"], -r["score"], r["id"]))
    h.update(",".join(str(r["id"]) for r in records[:1000]).encode())

    # churn: drop most records, then grow again with different shapes
    survivors = records[::7]
    del records
    extra = [Point(rng.random(), rng.random(), "p%d" % i) for i in range(n)]
    moved = [p.moved(1.0, -1.0) for p in extra]
    h.update(("%.6f" % sum(p.x for p in moved)).encode())
    del extra, moved

    # trees of tuples
    total = 0
    for d in range(int(8 * scale) + 4):
        total += tree_size(tree(12 + d % 4))
    h.update(str(total).encode())

    # bytes and bytearray growth
    chunks = []
    for i in range(int(20000 * scale)):
        b = bytearray()
        for k in range(rng.randrange(1, 40)):
            b += bytes([(i + k) & 0xFF]) * rng.randrange(1, 64)
        chunks.append(bytes(b))
    h.update(hashlib.md5(b"".join(chunks)).digest())
    del chunks

    # dict churn
    d = {}
    for i in range(int(300000 * scale)):
        key = "k%d" % rng.randrange(50000)
        if key in d and rng.random() < 0.5:
            del d[key]
        else:
            d[key] = [i, str(i)]
    h.update(str(len(d)).encode())
    h.update(str(len(survivors)).encode())

    print("python-alloc-heavy", h.hexdigest())


main()

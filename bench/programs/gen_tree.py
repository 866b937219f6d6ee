"""Write a deterministic tree of text files for tools/check-programs' git
workload, or change one as the next commit would.

usage: python3 gen_tree.py ROOT init N       N files in 50 x 7 directories
       python3 gen_tree.py ROOT edit K SEED  append to every K-th file and
                                             add 20 new ones in newSEED/

Seeded: the same arguments always give the same files, so that git's
hashes are the same under every allocator.
"""
import os
import random
import sys

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda "
         "mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()


def content(rng, n):
    lines = []
    for i in range(n):
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))))
    return "\n".join(lines) + "\n"


def main():
    root, mode = sys.argv[1], sys.argv[2]
    if mode == "init":
        n = int(sys.argv[3])
        rng = random.Random(1)
        for i in range(n):
            d = os.path.join(root, "dir%02d" % (i % 50), "sub%d" % (i % 7))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "file%05d.txt" % i), "w") as f:
                f.write(content(rng, rng.randint(5, 200)))
        return
    k, seed = int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root)
                   if ".git" not in dp for f in fs)
    for i, path in enumerate(files):
        if i % k == seed % k:
            with open(path, "a") as f:
                f.write(content(rng, rng.randint(1, 20)))
    for j in range(20):
        d = os.path.join(root, "new%d" % seed)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "n%03d.txt" % j), "w") as f:
            f.write(content(rng, 30))


main()

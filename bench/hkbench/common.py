"""What every part of bench/run uses: where it lives, its messages, the
progress line and small helpers around subprocess and files."""

import hashlib
import os
import shutil
import subprocess
import sys
import time


# bench/, where the workload programs' sources are
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRCDIR = os.path.dirname(HERE)
PROGRAMS_DIR = os.path.join(HERE, "programs")


def die(msg):
    sys.stderr.write("bench/run: %s\n" % msg)
    sys.exit(2)


def note(msg):
    Progress.clear()
    sys.stderr.write("bench/run: %s\n" % msg)
    sys.stderr.flush()


class Progress:
    tty = sys.stderr.isatty()
    shown = False
    start = time.monotonic()

    @classmethod
    def show(cls, text):
        if cls.tty:
            cols = shutil.get_terminal_size((100, 20)).columns
            sys.stderr.write("\r\033[K" + text[: cols - 1])
            cls.shown = True
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    @classmethod
    def clear(cls):
        if cls.tty and cls.shown:
            sys.stderr.write("\r\033[K")
            cls.shown = False


def fmt_dur(s):
    s = int(max(0, s))
    return "%d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) if s >= 3600 else "%d:%02d" % (s // 60, s % 60)


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def dpkg_version(pkg):
    if not pkg or not shutil.which("dpkg-query"):
        return ""
    r = sh(["dpkg-query", "-W", "-f", "${Version}", pkg])
    return r.stdout.strip() if r.returncode == 0 else ""


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()

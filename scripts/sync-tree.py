#!/usr/bin/env python3
"""Mirrors a checkout into a fixed build tree, writing only files whose content
changed, so that cargo's fingerprints (which depend on the workspace's path and
on source mtimes) stay valid across fresh clones: a CI run on a new clone
recompiles only the crates whose files changed, not the whole workspace.

    python3 scripts/sync-tree.py SRC DST

Copies what git tracks or would track (untracked, not ignored) in SRC, removes
from DST what SRC no longer has, and leaves DST's own installs alone
(node_modules, tests/.venv, target, .git). Exits non-zero on any error."""
import os
import shutil
import subprocess
import sys

KEEP = {"node_modules", ".venv", "target", ".git", "__pycache__"}


def tracked(src):
    out = subprocess.run(
        ["git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout
    return {p.decode() for p in out.split(b"\0") if p and os.path.isfile(os.path.join(src, p.decode()))}


def same(a, b):
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as x, open(b, "rb") as y:
            return x.read() == y.read()
    except OSError:
        return False


def main(src, dst):
    files = tracked(src)
    written = 0
    for rel in sorted(files):
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if same(s, d) and (os.stat(s).st_mode & 0o777) == (os.stat(d).st_mode & 0o777):
            continue
        os.makedirs(os.path.dirname(d), exist_ok=True)
        if os.path.lexists(d):
            os.remove(d)
        shutil.copyfile(s, d)
        os.chmod(d, os.stat(s).st_mode & 0o777)
        written += 1
    removed = 0
    for root, dirs, names in os.walk(dst):
        dirs[:] = [x for x in dirs if x not in KEEP]
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), dst)
            if rel not in files:
                os.remove(os.path.join(root, n))
                removed += 1
    print(f"build tree {dst}: {written} files written, {removed} removed, {len(files) - written} unchanged")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sync-tree.py SRC DST")
    main(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))

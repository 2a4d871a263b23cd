#!/usr/bin/env python3
"""Runs the workspace's test binaries (built by `cargo test --workspace
--no-run`) in parallel lanes, longest first, printing each binary's output as
one block in cargo's format (`Running ...`, then its `test result:` line), and
the doctests through cargo. Exits 1 if any test failed; runs them all.

    python3 scripts/run-tests.py [--jobs N] [-- TEST-BINARY-ARGS]

Lanes: `heavy` binaries (the provers' and circuits' tests: proofs that use
every core) run one at a time and never beside a `timed` one (end-to-end tests
with wall-clock deadlines: nodes, L1s, challenge periods); `timed` binaries run
beside each other and beside `light` ones (unit tests, contract tests in revm).

Slots: N jobs (default 2, the cores), at most N + 1 at once: a binary that
used under half a core in the last run (CPU time over wall time) counts as
half a job, and one starts while the running ones and it come to at most
N + 1/2. An end-to-end test that mostly waits on L1 blocks and game clocks
(the fraud test: under half a core) thus leaves room for a third binary, and
the cores are at most a quarter oversubscribed.

Durations and CPU times of the last run are kept in
$CARGO_TARGET_DIR/infra-test-times.json to order and weigh the next one; a cold
cache starts from scripts/test-times.json (those of a run on a 2-core
machine), so the longest still start first."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

HEAVY = {"infra-prover", "infra-circuits"}
# The longest one test binary may run (the longest takes about 3.5 min here).
LIMIT_S = 1200
TIMED = {"infra-e2e", "infra-node"}


def artifacts():
    out = subprocess.run(
        ["cargo", "test", "--workspace", "--no-run", "--message-format=json-render-diagnostics"],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout
    jobs = []
    for line in out.splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
            continue
        t = m["target"]
        pkg = m["package_id"]
        manifest = m["manifest_path"]
        # package_id: "path+file:///repo/crates/x#infra-x@0.1.0", or "...#0.1.0"
        # when the directory has the package's name.
        tail = pkg.split("#", 1)[-1]
        name = tail.split("@")[0] if "@" in tail else os.path.basename(os.path.dirname(manifest))
        label = "unittests " + os.path.relpath(t["src_path"], os.path.dirname(manifest)) if t["kind"] != ["test"] \
            else os.path.relpath(t["src_path"], os.path.dirname(manifest))
        jobs.append({"package": name, "manifest": manifest, "exe": m["executable"], "label": label,
                     "key": f"{name}:{t['kind'][0]}:{t['name']}"})
    return jobs


def load_times(times_file):
    """(wall, cpu) seconds per binary of the last run, else of the committed
    run; a file of the older format (wall times only) gives no CPU times."""
    committed = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test-times.json")
    for path in (times_file, committed):
        try:
            data = json.load(open(path))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        if isinstance(data.get("wall"), dict):
            return data["wall"], data.get("cpu", {})
        return data, {}
    return {}, {}


def run_one(cmd, cwd, env):
    """Runs `cmd` to its end or LIMIT_S: its output, exit code and the CPU
    time (user + system) of it and its children."""
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(p.stdout.read()))
    reader.start()
    state = {"done": False, "killed": False}
    guard = threading.Lock()

    def kill():
        # A signal only: the main thread alone reaps the child (wait4).
        with guard:
            if not state["done"]:
                state["killed"] = True
                os.kill(p.pid, signal.SIGKILL)

    timer = threading.Timer(LIMIT_S, kill)
    timer.start()
    # Waits for the exit without reaping, so a kill never signals a reaped
    # (perhaps reused) pid; then reaps it with its CPU times.
    os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
    with guard:
        state["done"] = True
    timer.cancel()
    _, status, usage = os.wait4(p.pid, 0)
    # (A grandchild still holding the pipe after a kill is not waited for long.)
    reader.join(None if not state["killed"] else 30)
    p.returncode = os.waitstatus_to_exitcode(status)
    if not reader.is_alive():
        p.stdout.close()
    out = b"".join(chunks).decode(errors="replace")
    rc = p.returncode
    if state["killed"]:
        out += f"\nKILLED: still running after {LIMIT_S} s (a hung test fails, it does not hang CI)\n"
        rc = 1
    return out, rc, usage.ru_utime + usage.ru_stime


def lane(job):
    if job["package"] in HEAVY:
        return "heavy"
    if job["package"] in TIMED and not job["label"].startswith("unittests"):
        return "timed"
    return "light"


def main(argv):
    jobs_n = 2
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    if argv[:1] == ["--jobs"]:
        jobs_n = int(argv[1])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    times_file = os.path.join(target, "infra-test-times.json")
    times, cpu = load_times(times_file)
    jobs = artifacts()
    jobs.append({"package": "doctests", "manifest": os.path.abspath("Cargo.toml"), "exe": None,
                 "label": "doctests", "key": "doctests"})
    for j in jobs:
        j["lane"] = lane(j) if j["exe"] else "light"
    pending = sorted(jobs, key=lambda j: -times.get(j["key"], 1.0))
    running = []
    lock = threading.Condition()
    failed = []
    print_lock = threading.Lock()

    def weight(j):
        # Half a slot for a binary that used under half a core last time
        # (measured beside others, so a CPU-bound one reads somewhat under 1,
        # never under a half), else a whole one.
        wall = times.get(j["key"])
        if j["lane"] == "heavy" or not wall or j["key"] not in cpu or wall < 1.0:
            return 1.0
        return 0.5 if cpu[j["key"]] / wall < 0.5 else 1.0

    def can_start(j):
        lanes = [r["lane"] for r in running]
        if len(running) > jobs_n or sum(weight(r) for r in running) + weight(j) > jobs_n + 0.5:
            return False
        if j["lane"] == "heavy":
            return "heavy" not in lanes and "timed" not in lanes
        if j["lane"] == "timed":
            return "heavy" not in lanes
        return True

    def run(j):
        start = time.monotonic()
        env = dict(os.environ)
        cwd = os.path.dirname(j["manifest"])
        if j["exe"]:
            # What cargo sets for a test binary it runs (not for cargo itself).
            env["CARGO_MANIFEST_DIR"] = cwd
            env["CARGO_PKG_NAME"] = j["package"]
            cmd = [j["exe"], *rest]
            header = f"     Running {j['label']} ({j['exe']})\n"
        else:
            cmd = ["cargo", "test", "--workspace", "--doc", "--", *rest]
            cwd = os.path.dirname(j["manifest"])
            header = "   Doc-tests (cargo test --workspace --doc)\n"
        try:
            out, rc, used = run_one(cmd, cwd, env)
        except Exception as e:  # (a binary that cannot start fails; it never hangs the run)
            out, rc, used = f"\nCOULD NOT RUN {cmd[0]}: {e!r}\n", 1, 0.0
        took = time.monotonic() - start
        with print_lock:
            sys.stdout.write(header + out + f"[{j['key']}: {took:.1f} s, cpu {used:.1f} s, lane {j['lane']}]\n")
            sys.stdout.flush()
        with lock:
            times[j["key"]] = round(took, 2)
            cpu[j["key"]] = round(used, 2)
            if rc != 0:
                failed.append(j["key"])
            running.remove(j)
            lock.notify_all()

    threads = []
    with lock:
        while pending:
            nxt = next((j for j in pending if can_start(j)), None)
            if nxt is None:
                lock.wait()
                continue
            pending.remove(nxt)
            running.append(nxt)
            t = threading.Thread(target=run, args=(nxt,))
            t.start()
            threads.append(t)
    for t in threads:
        t.join()
    try:
        os.makedirs(target, exist_ok=True)
        json.dump({"wall": times, "cpu": cpu}, open(times_file, "w"), indent=1, sort_keys=True)
    except OSError:
        pass
    if failed:
        print(f"failed test binaries: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

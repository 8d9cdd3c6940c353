#!/usr/bin/env python3
"""bench/snapshot-times.py BUILD — snapshot create and restore times (a benchmark, not a test).

For each guest size (BENCH_SNAP_MEM, default "256M,2G") and BENCH_RUNS runs (default 5): boot the
count guest with an API socket, pause, time PUT /snapshot/create; then time `kiln restore
--paused --api-sock` from spawn until GET / answers Paused (process start, KVM set-up, state
load: everything but the guest's first touches of memory), and the resume until the guest's next
serial line (its first pages come from the memory file). Prints median [min..max] in ms."""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kilntest  # noqa: E402  (tests/lib)

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
KILN = os.path.join(BUILD, "kiln")
GUEST = os.path.join(BUILD, "tests", "guest", "count.elf")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
SIZES = os.environ.get("BENCH_SNAP_MEM", "256M,2G").split(",")


def call(sock, method, path, body=None):
    return kilntest.call(sock, method, path, body, timeout=120)


def wait_state(sock, want, secs=60):
    end = time.time() + secs
    while time.time() < end:
        try:
            st, b = call(sock, "GET", "/")
            if st == 200 and b["state"] == want:
                return True
        except OSError:
            pass
        time.sleep(0.001)
    return False


def wait_lines(path, n, secs=60):
    end = time.time() + secs
    while time.time() < end:
        with open(path) as f:
            if sum(1 for l in f if l.startswith("count: ")) >= n:
                return True
        time.sleep(0.001)
    return False


def one(tmp, mem):
    sock, out = os.path.join(tmp, "a.sock"), os.path.join(tmp, "a.out")
    snap, memf = os.path.join(tmp, "s.snap"), os.path.join(tmp, "s.mem")
    with open(out, "w") as o:
        p = subprocess.Popen([KILN, "run", "--kernel", GUEST, "--memory", mem, "--cmdline",
                              "print_every=50000000", "--api-sock", sock], stdout=o,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    wait_state(sock, "Running")
    wait_lines(out, 1)
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    t0 = time.perf_counter()
    st, _ = call(sock, "PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": memf})
    create = time.perf_counter() - t0
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert st == 204
    os.unlink(sock)
    out2 = os.path.join(tmp, "b.out")
    with open(out2, "w") as o:
        t0 = time.perf_counter()
        q = subprocess.Popen([KILN, "restore", snap, "--mem-file", memf, "--paused",
                              "--api-sock", sock], stdout=o, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        ok = wait_state(sock, "Paused")
        restore = time.perf_counter() - t0
    t0 = time.perf_counter()
    call(sock, "PATCH", "/vm", {"state": "Resumed"})
    ok = ok and wait_lines(out2, 1)
    resume = time.perf_counter() - t0
    q.send_signal(signal.SIGKILL)
    q.wait()
    os.unlink(sock)
    assert ok
    return create, restore, resume, os.path.getsize(snap)


def fmt(xs):
    ms = [x * 1e3 for x in xs]
    return f"{statistics.median(ms):8.1f} [{min(ms):.1f}..{max(ms):.1f}] ms"


def main():
    tmp = tempfile.mkdtemp(prefix="kiln-bench-snap-")
    try:
        for mem in SIZES:
            rs = [one(tmp, mem) for _ in range(RUNS)]
            print(f"{mem:>5} guest (count, memory mostly untouched), {RUNS} runs, "
                  f"state file {rs[0][3]} bytes:")
            print(f"  snapshot create (PUT /snapshot/create):          {fmt([r[0] for r in rs])}")
            print(f"  restore to Paused (spawn .. GET / says Paused):  {fmt([r[1] for r in rs])}")
            print(f"  resume to the guest's next serial line:          {fmt([r[2] for r in rs])}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

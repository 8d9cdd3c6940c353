#!/usr/bin/env python3
"""bench/snapshot-times.py BUILD [--json PATH] — snapshot create and restore times (a benchmark,
not a test).

For each guest size (BENCH_SNAP_MEM, default "256M,2G") and BENCH_RUNS runs (default 5): boot the
count guest with an API socket and have it touch all its memory but 24 MiB (touch_mib=), pause,
time PUT /snapshot/create, and time dd writing as much to the same directory, from /dev/zero and
from the memory file just written (the guest's memory; in the page cache); then time
`kiln restore --paused --api-sock` from spawn until GET / answers Paused, and `kiln restore` (which
resumes at once) from spawn to the restored guest's first serial byte: the guest prints about
every millisecond, so that is "restore to running" within a millisecond. Prints median
[min..max] in ms; --json writes the samples for the report (bench/report.py)."""
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
PRINT_EVERY = 400000  # about a line a millisecond: the restored guest prints soon after it runs


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


def wait_lines(path, n, secs=120, prefix="count: "):
    end = time.time() + secs
    while time.time() < end:
        with open(path) as f:
            if sum(1 for l in f if l.startswith(prefix)) >= n:
                return True
        time.sleep(0.001)
    return False


def mib_of(mem):
    return int(mem[:-1]) * (1024 if mem.endswith("G") else 1)


def first_byte(cmd, out_path):
    """Spawn cmd with stdout to a pipe; seconds from the spawn to its first byte (which, with the
    rest, is copied to out_path). The process is left running; returns (seconds, process)."""
    t0 = time.perf_counter()
    q = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    b = q.stdout.read(1)
    t = time.perf_counter() - t0
    with open(out_path, "wb") as o:
        o.write(b)
    return (t if b else None), q


def dd_time(path, mib, src="/dev/zero"):
    """Seconds for dd to write mib MiB from src (1 MiB blocks) to path, then removed."""
    t0 = time.perf_counter()
    subprocess.run(["dd", f"if={src}", f"of={path}", "bs=1M", f"count={mib}"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    t = time.perf_counter() - t0
    os.unlink(path)
    return t


def one(tmp, mem):
    """One round for a guest of mem: boot it, touch all but 24 MiB of its memory, pause, create
    a snapshot (timed), then restore it twice: paused, to GET / saying Paused, and running, to
    its first serial byte. Also times dd writing as much to the same directory."""
    sock, out = os.path.join(tmp, "a.sock"), os.path.join(tmp, "a.out")
    snap, memf = os.path.join(tmp, "s.snap"), os.path.join(tmp, "s.mem")
    touch = mib_of(mem) - 24
    with open(out, "w") as o:
        p = subprocess.Popen([KILN, "run", "--kernel", GUEST, "--memory", mem, "--cmdline",
                              f"touch_mib={touch} print_every={PRINT_EVERY}", "--api-sock",
                              sock], stdout=o, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
    wait_state(sock, "Running")
    wait_lines(out, 1, prefix="count: touched")
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    t0 = time.perf_counter()
    st, _ = call(sock, "PUT", "/snapshot/create", {"snapshot_path": snap, "mem_file_path": memf})
    create = time.perf_counter() - t0
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert st == 204
    os.unlink(sock)
    with open(os.devnull, "w") as o:
        t0 = time.perf_counter()
        q = subprocess.Popen([KILN, "restore", snap, "--mem-file", memf, "--paused",
                              "--api-sock", sock], stdout=o, stderr=subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL)
        ok = wait_state(sock, "Paused")
        paused = time.perf_counter() - t0
    q.send_signal(signal.SIGKILL)
    q.wait()
    os.unlink(sock)
    running, q = first_byte([KILN, "restore", snap, "--mem-file", memf],
                            os.path.join(tmp, "b.out"))
    q.send_signal(signal.SIGKILL)
    q.wait()
    assert ok and running is not None
    dd = dd_time(os.path.join(tmp, "dd.out"), mib_of(mem))
    # the guest's memory itself (the memory file just written, in the page cache) through dd
    dd_mem = dd_time(os.path.join(tmp, "dd.out"), mib_of(mem), memf)
    return {"create": create, "paused": paused, "running": running, "dd": dd, "dd_mem": dd_mem,
            "mem_file": os.path.getsize(memf)}


def fmt(xs):
    ms = [x * 1e3 for x in xs]
    return f"{statistics.median(ms):8.1f} [{min(ms):.1f}..{max(ms):.1f}] ms"


ROWS = [("create", "snapshot create (PUT /snapshot/create, paused)"),
        ("dd", "dd from /dev/zero, as much, same directory"),
        ("dd_mem", "dd of the guest's memory (its memory file)"),
        ("paused", "restore to Paused (spawn .. GET / says Paused)"),
        ("running", "restore to running (spawn .. first serial byte)")]


def main():
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    tmp = tempfile.mkdtemp(prefix="kiln-bench-snap-")
    figures = []
    try:
        for mem in SIZES:
            rs = [one(tmp, mem) for _ in range(RUNS)]
            print(f"{mem:>5} guest (count, {mib_of(mem) - 24} MiB touched), {RUNS} runs, "
                  f"memory file {rs[0]['mem_file'] >> 20} MiB:")
            for key, label in ROWS:
                print(f"  {label:50} {fmt([r[key] for r in rs])}")
                figures.append({"key": f"{key}_{mem}", "label": f"{mem}: {label}", "unit": "ms",
                                "samples": {"kiln": [r[key] * 1e3 for r in rs]}})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(figures, f)


if __name__ == "__main__":
    main()

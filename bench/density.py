#!/usr/bin/env python3
"""bench/density.py BUILD [--json PATH] — many idle VMs at once (a benchmark, not a test).

For kiln and QEMU (microvm) in turn, BENCH_DENSITY_ROUNDS rounds (default 2) alternating the VMMs:
start BENCH_DENSITY_VMS VMs (default 200) of BENCH_DENSITY_MEM MiB (default 128) at once, each
booting bench-idle.elf (one byte on COM1, then halted with interrupts off: its vCPU blocks in KVM
and uses no CPU), and time from the first spawn to the last VM's byte; then read each VMM
process's VmRSS and Pss (/proc/PID/smaps_rollup: shared pages counted once across the VMs) and
how far the host's MemAvailable fell, per VM; then SIGTERM them all at once and time until the
last has exited. kiln's KVM teardown runs in its reaper processes (src/hv/kvm_reaper.c), which
are waited for before the next round, as QEMU's processes are. Prints median [min..max] per
figure; --json writes the samples for the report (bench/report.py)."""
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kilntest  # noqa: E402  (tests/lib)

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
KILN = os.path.join(BUILD, "kiln")
GUEST = os.path.join(BUILD, "bench", "bench-idle.elf")
N = int(os.environ.get("BENCH_DENSITY_VMS", "200"))
MEM = int(os.environ.get("BENCH_DENSITY_MEM", "128"))
ROUNDS = int(os.environ.get("BENCH_DENSITY_ROUNDS", "2"))
QEMU = ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", f"{MEM}M", "-nodefaults",
        "-no-user-config", "-display", "none", "-serial", "stdio", "-kernel", GUEST]


def command(vmm):
    if vmm == "kiln":
        return [KILN, "run", "--kernel", GUEST, "--memory", f"{MEM}M"]
    return QEMU


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def kib(pid, path, key):
    try:
        with open(f"/proc/{pid}/{path}") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def one_round(vmm):
    """Start N VMs at once, measure, stop them all; a dict of figures."""
    avail0 = mem_available_kib()
    sel = selectors.DefaultSelector()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(command(vmm), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL) for _ in range(N)]
    for p in procs:
        sel.register(p.stdout, selectors.EVENT_READ, p)
    waiting, deadline = len(procs), time.perf_counter() + 600
    while waiting and time.perf_counter() < deadline:
        for key, _ in sel.select(timeout=1):
            os.read(key.fileobj.fileno(), 64)
            sel.unregister(key.fileobj)
            waiting -= 1
    started = time.perf_counter() - t0
    time.sleep(1)  # settle: page cache, lazily freed memory
    rss = [kib(p.pid, "status", "VmRSS") for p in procs]
    pss = [kib(p.pid, "smaps_rollup", "Pss") for p in procs]
    fell = avail0 - mem_available_kib()
    alive = sum(p.poll() is None for p in procs)
    t0 = time.perf_counter()
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=300)
        p.stdout.close()
    stopped = time.perf_counter() - t0
    # kiln's teardowns finish before the next round measures anything
    kilntest.wait_reapers_done(timeout=300)
    if waiting or alive < N:
        raise RuntimeError(f"{vmm}: {waiting} VMs never printed, {N - alive} exited early")
    return {"start_s": started, "stop_s": stopped, "rss_mib": statistics.mean(rss) / 1024,
            "pss_mib": statistics.mean(pss) / 1024, "avail_mib": fell / N / 1024}


FIGURES = [("start_s", f"start {N} VMs at once, to the last one's first byte", "s"),
           ("stop_s", f"SIGTERM {N} VMs at once, to the last one's exit", "s"),
           ("rss_mib", "VmRSS per VMM process", "MiB"),
           ("pss_mib", "Pss per VMM process (shared pages split)", "MiB"),
           ("avail_mib", "host MemAvailable used per VM", "MiB")]


def main():
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    vmms = ["kiln", "qemu"]
    s = {v: {} for v in vmms}
    for _ in range(ROUNDS):
        for v in vmms:
            for k, x in one_round(v).items():
                s[v].setdefault(k, []).append(x)
    print(f"density: {N} idle VMs of {MEM} MiB at once, {ROUNDS} rounds, median [min..max]")
    for k, label, unit in FIGURES:
        cells = [f"{statistics.median(s[v][k]):8.2f} [{min(s[v][k]):.2f}..{max(s[v][k]):.2f}]"
                 for v in vmms]
        ratio = statistics.median(s["kiln"][k]) / statistics.median(s["qemu"][k])
        print(f"  {label:58} {unit:4} kiln {cells[0]:>24}  qemu {cells[1]:>24}  "
              f"kiln/qemu {ratio:.2f}")
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"n": N, "mem": MEM, "figures": [
                {"key": k, "label": label, "unit": unit, "samples": {v: s[v][k] for v in vmms}}
                for k, label, unit in FIGURES]}, f)


if __name__ == "__main__":
    main()

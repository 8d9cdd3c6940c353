#!/usr/bin/env python3
"""bench/migrate-times.py BUILD — live migration over 127.0.0.1, kiln against QEMU (a benchmark,
not a test).

Two guests, 256 MiB, the same ELF on both VMMs (QEMU: microvm, PVH -kernel): `idle` is the count
guest (it counts in a register loop and stores one counter: one page dirty at a time), `dirty`
is the dirty guest stamping a BENCH_MIG_MIB MiB working set (default 32) as fast as the vCPU
goes. For BENCH_RUNS runs (default 5), alternating VMMs: start a destination waiting on a port,
boot the source, let the guest run 1 s, migrate with a 300 ms downtime budget, 30 rounds at
most. kiln: `PUT /migrate`, the source's outcome line (total time from the request to the ACK,
downtime from the pause to the ACK: the destination has loaded the state). QEMU:
`migrate-set-parameters downtime-limit=300 max-bandwidth=100G` (its default cap is 128 MiB/s), `migrate`, `query-migrate` (total-time, downtime:
QEMU's own measure, from the stop to the end of the stream on the source; a QEMU migration not
complete after 60 s is counted as not converging: QEMU has no forced completion by default). Prints median
[min..max] in ms, and whether the destination's guest went on."""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
KILN = os.path.join(BUILD, "kiln")
GUESTS = {"idle": (os.path.join(BUILD, "tests", "guest", "count.elf"), "print_every=200000000"),
          "dirty": (os.path.join(BUILD, "tests", "guest", "dirty.elf"),
                    f"mib={os.environ.get('BENCH_MIG_MIB', '32')} print_every=64")}
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
QEMU = "qemu-system-x86_64"
PORT = [47000 + os.getpid() % 1000]


def port():
    PORT[0] += 1
    return PORT[0]


def wait(pred, secs=30):
    end = time.time() + secs
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    return pred()


def read(path):
    return open(path, errors="replace").read()


def kiln_once(tmp, guest, args):
    p = port()
    sock = os.path.join(tmp, f"src{p}.sock")
    out = {n: os.path.join(tmp, f"{n}{p}") for n in ("so", "se", "do", "de")}
    dst = subprocess.Popen([KILN, "migrate", "receive", "--listen", f"127.0.0.1:{p}"],
                           stdout=open(out["do"], "w"), stderr=open(out["de"], "w"))
    wait(lambda: "waiting" in read(out["de"]))
    src = subprocess.Popen([KILN, "run", "--kernel", guest, "--cmdline", args, "--memory",
                            "256M", "--api-sock", sock], stdin=subprocess.DEVNULL,
                           stdout=open(out["so"], "w"), stderr=open(out["se"], "w"))
    wait(lambda: os.path.exists(sock))
    time.sleep(1)
    subprocess.run([KILN, "ctl", "--sock", sock, "migrate", "--to", f"127.0.0.1:{p}"],
                   capture_output=True, timeout=120)
    src.wait(timeout=60)
    m = re.search(r"completed in (\d+) ms, downtime ([\d.]+) ms, (\d+) rounds", read(out["se"]))
    n = len(read(out["do"]))
    went_on = wait(lambda: len(read(out["do"])) > n, 5)
    dst.kill()
    dst.wait()
    if not m:
        raise RuntimeError("kiln migration failed: " + read(out["se"]))
    return float(m[1]), float(m[2]), int(m[3]), bool(went_on)


class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        wait(lambda: os.path.exists(path))
        self.s.connect(path)
        self.f = self.s.makefile("rw")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r


def qemu_cmd(guest, args, extra):
    return [QEMU, "-M", "microvm", "-accel", "kvm", "-m", "256M", "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", "stdio", "-kernel", guest,
            "-append", args] + extra


def qemu_once(tmp, guest, args):
    p = port()
    qs, qo = os.path.join(tmp, f"q{p}.qmp"), os.path.join(tmp, f"qd{p}")
    dst = subprocess.Popen(qemu_cmd(guest, args, ["-incoming", f"tcp:127.0.0.1:{p}"]),
                           stdout=open(qo, "w"), stderr=subprocess.DEVNULL)
    src = subprocess.Popen(qemu_cmd(guest, args, ["-qmp", f"unix:{qs},server=on,wait=off"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    q = QMP(qs)
    time.sleep(1)
    # QEMU caps migration at 128 MiB/s by default; kiln does not cap: lift it.
    q.cmd("migrate-set-parameters", **{"downtime-limit": 300, "max-bandwidth": 100 << 30})
    q.cmd("migrate", uri=f"tcp:127.0.0.1:{p}")
    r = wait(lambda: (lambda s: s if s["status"] in ("completed", "failed") else None)(
        q.cmd("query-migrate")["return"]), 60)
    n = len(read(qo))
    went_on = wait(lambda: len(read(qo)) > n, 5)
    for x in (src, dst):
        x.kill()
        x.wait()
    if not r or r["status"] != "completed":
        return None  # QEMU does not force completion: it iterates until cancelled
    return float(r["total-time"]), float(r["downtime"]), None, bool(went_on)


def fmt(xs):
    return f"{statistics.median(xs):8.1f} [{min(xs):.1f}..{max(xs):.1f}]"


def main():
    vmms = {"kiln": kiln_once}
    if shutil.which(QEMU):
        vmms["qemu"] = qemu_once
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(RUNS):
            for g, (elf, args) in GUESTS.items():
                for v, fn in vmms.items():
                    r = fn(tmp, elf, args)
                    res.setdefault((g, v), [])
                    if r:
                        res[g, v].append(r)
                    else:
                        res[g, "nc"] = res.get((g, "nc"), 0) + 1
    print(f"\nlive migration over 127.0.0.1, 256 MiB guests, downtime budget 300 ms, {RUNS} runs;"
          " ms, median [min..max]\n")
    print(f"{'guest':6} {'vmm':5} {'total':>26} {'downtime':>26} {'rounds':>7} {'guest went on'}")
    for (g, v), rs in res.items():
        if v == "nc" or not rs:
            continue
        rounds = [r[2] for r in rs if r[2] is not None]
        print(f"{g:6} {v:5} {fmt([r[0] for r in rs]):>26} {fmt([r[1] for r in rs]):>26} "
              f"{statistics.median(rounds) if rounds else '-':>7} "
              f"{sum(r[3] for r in rs)}/{len(rs)}")
    for (g, v), n in res.items():
        if v == "nc":
            print(f"{g:6} qemu   did not complete within 60 s in {n} of {RUNS} runs "
                  "(no forced completion)")


if __name__ == "__main__":
    main()

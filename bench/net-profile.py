#!/usr/bin/env python3
"""Where a net-tcp run's time goes, kiln against QEMU, inside the nested rig's L1.

For each VMM in turn (kiln, QEMU, RUNS times) this runs one transfer of bench/net-tcp.py
(DOWN MiB L1 -> guest, UP MiB guest -> L1) twice: once under `perf sched record` and once under
`perf kvm stat record`, and prints
- per thread: how often it was scheduled in and how long it ran (`perf sched timehist -s`), and
  how long L1's CPUs were idle;
- the guest's exits by reason with the time L1 spent handling each (`perf kvm stat report`),
  then the same for MMIO addresses and I/O ports: an exit to user space (virtio-mmio registers)
  is the time of the whole round trip through the VMM.
The recordings stay in OUT (ns-VMM.data, nk-VMM.data) for `perf kvm -i FILE stat report`.

Usage, from the repository: scripts/nested --module tun --workdir OUT -- \
    bench/net-profile.py OUT [RUNS [DOWN [UP]]]
Both VMMs are timed while traced, so the MiB/s it prints are lower than bench/net-tcp.py's;
the counts and the times per exit are the point.
"""
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, HERE)
spec = importlib.util.spec_from_file_location("nt", os.path.join(HERE, "net-tcp.py"))
nt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(nt)

THREAD_ROW = re.compile(r"kiln|vcpu|qemu|Idle|CPU +\d|comm|-----")


def traced(cmd, vmm, args, tmp, initrd, want_up):
    """Run one transfer on vmm while cmd records; print its result."""
    p = subprocess.Popen(cmd)
    time.sleep(1.5)  # perf is recording
    t0 = time.monotonic()
    r = nt.one_run(vmm, args, tmp, initrd, want_up)
    p.send_signal(2)
    p.wait()
    print(f"=== {vmm} under {' '.join(cmd[:3])}: MiB/s (down, up) {r}, "
          f"{time.monotonic() - t0:.1f} s with boot", flush=True)


def show(cmd, keep=lambda line: True, limit=40):
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip() and keep(line)]
    for line in lines[:limit]:
        print("   " + line.rstrip(), flush=True)


def main():
    out = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    args = types.SimpleNamespace(kiln=os.path.join(HERE, "..", "build", "kiln"),
                                 down_mib=int(sys.argv[3]) if len(sys.argv) > 3 else 128,
                                 up_mib=int(sys.argv[4]) if len(sys.argv) > 4 else 32)
    tmp = tempfile.mkdtemp(prefix="kiln-net-profile-")
    initrd, want_up = nt.guest_initrd(tmp, args.up_mib)
    for _ in range(runs):
        for vmm in ("kiln", "qemu"):
            sched = os.path.join(out, f"ns-{vmm}.data")
            traced(["perf", "sched", "record", "-q", "-a", "-o", sched], vmm, args, tmp, initrd,
                   want_up)
            show(["perf", "sched", "timehist", "-i", sched, "-s"],
                 lambda line: THREAD_ROW.search(line) is not None)
            kvm = os.path.join(out, f"nk-{vmm}.data")
            traced(["perf", "kvm", "stat", "record", "-q", "-a", "-o", kvm], vmm, args, tmp,
                   initrd, want_up)
            for event in ("vmexit", "mmio", "ioport"):
                show(["perf", "kvm", "-i", kvm, "stat", "report", f"--event={event}"],
                     lambda line: "Analyze" not in line, limit=14)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""bench/pci.py --kiln KILN [--json PATH] — virtio-pci against virtio-mmio on kiln: interrupt
delivery (the latency of block requests the guest learns of by interrupt, and the interrupts
taken) and virtio-blk throughput, both transports measured in the same run (a benchmark, not a
test).

Runs inside the nested rig's L1 (`scripts/nested -- bench/pci.py --kiln build/kiln`; bench/run's
part `pci`): a Linux guest cannot boot on the development machines' PVM /dev/kvm, so kiln runs
the guest on L1's KVM, and L1 itself is emulated (TCG). The absolute figures are the emulator's;
the ratio pci/mmio is the comparison, both transports paying the same emulation.

Each run boots the project's kernel (configs/linux-kiln.config: virtio-mmio, virtio-pci with
MSI-X, virtio-blk and native AIO all built in) with a busybox initramfs holding
tests/nested/guest/blkbench (static, from the build), 1 vCPU, 256 MiB, and one disk: a
BENCH_PCI_IMG_MIB MiB image (default 256) of random bytes in L1's tmpfs (/dev/shm), so that a
request never waits for a disk and the figures are the transport's and kiln's I/O path. The guest
runs, each for BENCH_PCI_SECS seconds (default 2) after 16 untimed requests, on /dev/vda with
O_DIRECT (past its page cache):
- 4 KiB random reads at queue depth 1, synchronous pread: the process sleeps until the
  completion interrupt wakes it, so each request's latency includes the interrupt's delivery;
  median and 99th percentile, and the device's interrupts (/proc/interrupts) per second and per
  request (about one: the process waits for each);
- sequential 1 MiB reads and writes at queue depth 1 (Linux native AIO): MB/s;
- 4 KiB random reads at queue depth 16 (native AIO): IOPS, and the device's interrupts per
  second and per request (completions batched under one interrupt make it less than one).
kiln-mmio is `kiln run --virtio-transport mmio` (one edge GSI through an irqfd; the guest's
handler reads the interrupt-status register and writes the ACK, two exits to kiln per
interrupt); kiln-pci is `--virtio-transport pci` (an MSI-X vector per queue through an irqfd on
an MSI route: no exit to kiln per interrupt). A run checks that its guest saw the transport it
was given (PCI-MSI lines of the disk in /proc/interrupts for pci, none for mmio). BENCH_RUNS
(default 5; a run is ~15 s of L1 time) runs per transport, alternating mmio, pci, mmio, ...
Prints median [min..max], pci/mmio of the medians and, as "paired", the median [min..max] of
each round's own pci/mmio (L1's speed drifts between runs more than the transports differ);
--json writes the samples for bench/run's report.
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import linuxguest as lg  # noqa: E402
import samples  # noqa: E402  (bench/, this script's directory)

MIB = 1 << 20
CMDLINE = "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"
BOOT_TIMEOUT = 300
TRANSPORTS = ("kiln-mmio", "kiln-pci")
# (mode, block size, queue depth): blkbench's phases, in this order in every guest
PHASES = (("lat", 4096, 1), ("seqread", MIB, 1), ("seqwrite", MIB, 1), ("randread", 4096, 16))

# (index in a run's result tuple, label, key in the JSON samples, unit)
FIGURES = ((0, "4 KiB read qd 1: latency median", "lat_median", "us"),
           (1, "4 KiB read qd 1: latency p99", "lat_p99", "us"),
           (2, "4 KiB read qd 1: interrupts per request", "lat_irq_per_req", "1"),
           (3, "seq read 1 MiB qd 1", "seqread_mbps", "MB/s"),
           (4, "seq write 1 MiB qd 1", "seqwrite_mbps", "MB/s"),
           (5, "random read 4 KiB qd 16", "randread_iops", "IOPS"),
           (6, "random read 4 KiB qd 16: interrupts per second", "randread_irq_rate", "1/s"),
           (7, "random read 4 KiB qd 16: interrupts per request", "randread_irq_per_req", "1"))


def blkbench_path(kiln):
    return os.path.join(os.path.dirname(os.path.abspath(kiln)), "tests", "nested", "blkbench")


def scenario(secs):
    """The guest's part: which transport the disk's interrupts came through, then the phases."""
    s = "kt msi $(grep -c 'PCI-MSI.*virtio' /proc/interrupts)\n"
    for mode, bs, qd in PHASES:
        s += f"/bin/blkbench /dev/vda {mode} {bs} {qd} {secs}\n"
    return s


def make_image(mib):
    """mib MiB of random bytes in a tmpfs file (L1's /dev/shm, else the temporary directory)."""
    d = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="kiln-bench-pci-", suffix=".img", dir=d)
    chunk = os.urandom(MIB)
    with os.fdopen(fd, "wb") as f:
        for _ in range(mib):
            f.write(chunk)
    return path


def argv(vmm, kiln, initrd, img):
    return [kiln, "run", "--kernel", lg.kiln_kernel("bzimage"), "--initrd", initrd,
            "--memory", "256M", "--cmdline", CMDLINE, "--disk", img,
            "--virtio-transport", vmm.split("-")[1]]


def parse(line):
    """blkbench's "MODE k=v ..." as (MODE, {k: float}) or (MODE, None) for an error line."""
    words = line.split()
    if len(words) < 2 or words[1] == "error":
        return (words[0] if words else "?"), None
    return words[0], {k: float(v) for k, v in (w.split("=", 1) for w in words[1:])}


def one_run(vmm, args, tmp, initrd, img):
    """One guest over one transport: the FIGURES tuple, or None (and why, printed)."""
    g = lg.Guest(vmm, argv(vmm, args.kiln, initrd, img), tmp, echo=False)
    status = g.wait_exit(BOOT_TIMEOUT + len(PHASES) * (args.secs * 3 + 30))
    res = dict(parse(r) for r in g.reports("res"))
    msi = g.report("msi")
    why = None
    if status != 0:
        why = f"kiln's exit status {status}"
    elif msi is None or (int(msi) > 0) != (vmm == "kiln-pci"):
        why = f"{msi} PCI-MSI virtio lines in the guest's /proc/interrupts"
    elif any(res.get(m) is None for m, _, _ in PHASES):
        why = "blkbench: " + "; ".join(r for r in g.reports("res") if " error" in r or "=" not in r)
    if why:
        print(f"pci: {vmm} run failed ({why}); not counted: {g.text()[-400:]} "
              f"{g.stderr()[-300:]}", flush=True)
        return None
    lat, rr = res["lat"], res["randread"]
    return (lat["median_us"], lat["p99_us"], lat["irqs"] / lat["n"], res["seqread"]["mbps"],
            res["seqwrite"]["mbps"], rr["iops"], rr["irqs"] / rr["secs"], rr["irqs"] / rr["n"])


def fmt(xs):
    return f"{statistics.median(xs):.1f} [{min(xs):.1f}..{max(xs):.1f}]" if max(xs) >= 10 else \
        f"{statistics.median(xs):.2f} [{min(xs):.2f}..{max(xs):.2f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")))
    ap.add_argument("--secs", type=float, default=float(os.environ.get("BENCH_PCI_SECS", "2")),
                    help="seconds of each phase in the guest")
    ap.add_argument("--image-mib", type=int,
                    default=int(os.environ.get("BENCH_PCI_IMG_MIB", "256")))
    ap.add_argument("--json", help="write the samples here (bench/run's report)")
    args = ap.parse_args()
    prog = blkbench_path(args.kiln)
    if not os.path.exists(prog):
        print(f"pci: no {prog} (build the project first)", flush=True)
        return 1
    tmp = tempfile.mkdtemp(prefix="kiln-bench-pci-")
    initrd = lg.initrd(tmp, "pci", scenario(args.secs), files={"bin/blkbench": prog})
    img = make_image(args.image_mib)
    got = {v: [] for v in TRANSPORTS}
    rounds = []  # per round {transport: result} of the runs that counted
    try:
        for i in range(args.runs):
            rounds.append({})
            for vmm in TRANSPORTS:
                r = one_run(vmm, args, tmp, initrd, img)
                if r:
                    got[vmm].append(r)
                    rounds[-1][vmm] = r
                    print(f"pci: run {i + 1} {vmm}: " + ", ".join(
                        f"{label} {r[k]:.2f} {unit}" for k, label, _, unit in FIGURES),
                          flush=True)
    finally:
        os.unlink(img)
    print(f"\nvirtio-blk over virtio-mmio and virtio-pci inside the emulated L1 (median "
          f"[min..max] of {args.runs} runs each, alternating; {args.secs:g} s per phase, "
          f"O_DIRECT on a {args.image_mib} MiB image in L1's tmpfs)")
    print(f"{'figure':<50}{'unit':>6}{'kiln-mmio':>26}{'kiln-pci':>26}{'pci/mmio':>10}"
          f"{'paired':>22}")
    if args.json:
        samples.write(args.json, FIGURES, got)
    for k, label, _, unit in FIGURES:
        mx, px = [r[k] for r in got["kiln-mmio"]], [r[k] for r in got["kiln-pci"]]
        if not mx or not px:
            print(f"{label:<50}  too few runs completed (mmio {len(mx)}, pci {len(px)})")
            continue
        m, p = statistics.median(mx), statistics.median(px)
        # L1's speed drifts from one run to the next more than the transports differ, so also
        # the median of each round's own pci/mmio (the two runs next to each other)
        pr = [r["kiln-pci"][k] / r["kiln-mmio"][k] for r in rounds
              if len(r) == 2 and r["kiln-mmio"][k]]
        print(f"{label:<50}{unit:>6}{fmt(mx):>26}{fmt(px):>26}"
              f"{(p / m if m else float('nan')):10.2f}{fmt(pr) if pr else '—':>22}")
    mx, px = got["kiln-mmio"], got["kiln-pci"]
    if mx and px:
        # What virtio-mmio adds to each interrupt the qd-1 reads wait for: the difference of
        # the median latencies over the interrupts one request takes.
        d = statistics.median(r[0] for r in mx) - statistics.median(r[0] for r in px)
        per = statistics.median(r[2] for r in mx)
        print(f"qd-1 latency virtio-mmio minus virtio-pci: {d:.1f} us per request, "
              f"{d / per if per else float('nan'):.1f} us per mmio interrupt")
    return 0 if mx and px else 1


if __name__ == "__main__":
    sys.exit(main())

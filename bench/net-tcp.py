#!/usr/bin/env python3
"""bench/net-tcp.py --kiln KILN [--json PATH] — guest <-> host TCP throughput through a TAP, kiln against QEMU's
virtio-net-device on the same TAP, measured in the same run (a benchmark, not a test).

Runs inside the nested rig's L1 (bench/run starts it with scripts/nested): a Linux guest cannot
boot on the development machines' PVM /dev/kvm, so both VMMs run the guest on L1's KVM, and L1
itself is emulated (TCG). The absolute figures are therefore the emulator's; the ratio kiln/QEMU
is the comparison, both VMMs paying the same emulation.

Each run boots the project's kernel (configs/linux-kiln.config) with a busybox initramfs on one
vCPU and 256 MiB, the interface on TAP kb0 (169.254.110.1 on L1, .2 in the guest). The guest
fetches BENCH_NET_DOWN_MIB MiB (default 64) from L1 over HTTP (busybox wget into md5sum) and
sends BENCH_NET_UP_MIB MiB (default 8: guests of the emulated L1 die under long fast uploads,
docs/testing.md) with busybox nc; L1's servers time each transfer from the connection to the
last byte and hash it, and a run counts only if both hashes match. BENCH_RUNS (default 3) runs
per VMM, alternating kiln, QEMU, kiln, ... Prints median [min..max] MiB/s and kiln/QEMU.

- kiln: `kiln run --kernel bzImage --initrd ... --memory 256M --net tap=kb0` (virtio-mmio,
  rx/tx in kiln's event loop).
- kiln-pci (with --pci or BENCH_NET_PCI=1): the same with `--virtio-transport pci` (MSI-X).
- QEMU: `-M microvm -accel kvm -m 256M -netdev tap,ifname=kb0,vhost=off -device
  virtio-net-device` (virtio-mmio too). vhost=off: like kiln, QEMU moves the frames in its own
  process; vhost-net would move them in L1's kernel, a different design.
"""
import argparse
import hashlib
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import linuxguest as lg  # noqa: E402
import nettest  # noqa: E402
import samples  # noqa: E402  (bench/, this script's directory)

MIB = nettest.MIB
HOST, GUEST = "169.254.110.1", "169.254.110.2"
CMDLINE = "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"


def guest_initrd(tmp, up_mib):
    """The guest: the download into md5sum, then the upload of /blob up_mib / 4 times."""
    script = nettest.guest_net_setup("eth0", GUEST) + f"""
kt down "$(wget -q -O - http://{HOST}:5102/blob | md5sum | cut -d' ' -f1)"
i=0
while [ $i -lt {up_mib * MIB // nettest.BLOB} ]; do cat /blob; i=$((i + 1)); done | nc {HOST} 5101
sent {HOST}:5101
kt up sent
"""
    blob = os.path.join(tmp, "blob")
    with open(blob, "wb") as f:
        f.write(os.urandom(nettest.BLOB))
    with open(blob, "rb") as f:
        data = f.read()
    want = hashlib.md5()
    for _ in range(up_mib * MIB // nettest.BLOB):
        want.update(data)
    path = lg.guest_tree(script, files={"blob": blob}).write(os.path.join(tmp, "net.cpio"))
    return path, want.hexdigest()


def argv(vmm, kiln, initrd):
    kernel = lg.kiln_kernel("bzimage")
    if vmm.startswith("kiln"):
        return [kiln, "run", "--kernel", kernel, "--initrd", initrd, "--memory", "256M",
                "--cmdline", CMDLINE, "--net", "tap=kb0"] + \
            (["--virtio-transport", "pci"] if vmm == "kiln-pci" else [])
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", "256M", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
            "-netdev", "tap,id=n0,ifname=kb0,script=no,downscript=no,vhost=off",
            "-device", "virtio-net-device,netdev=n0"]


def one_run(vmm, args, tmp, initrd, want_up):
    """One guest on vmm: (down MiB/s, up MiB/s), or None if the run failed (said why)."""
    nettest.make_tap("kb0", HOST)
    up = nettest.Upload((HOST, 5101), args.up_mib * MIB)
    down = nettest.Download((HOST, 5102), args.down_mib * MIB)
    up.start()
    down.start()
    g = lg.Guest(f"{vmm}", argv(vmm, args.kiln, initrd), tmp, echo=False)
    status = g.wait_exit(nettest.TIMEOUT)
    up.join(5)
    down.join(5)
    ok = (status == 0 and down.digest is not None and g.report("down") == down.digest
          and up.digest == want_up and down.seconds and up.seconds)
    if not ok:
        print(f"net-tcp: {vmm} run failed (status {status}, down {g.report('down')} vs "
              f"{down.digest}, up {up.got} bytes); not counted: {g.text()[-300:]}", flush=True)
        return None
    return args.down_mib / down.seconds, args.up_mib / up.seconds


def fmt(xs):
    return f"{statistics.median(xs):7.1f} [{min(xs):.1f}..{max(xs):.1f}]"


# (index in a run's result, label, key in the JSON samples, unit)
FIGURES = ((0, "L1 -> guest (HTTP)", "down", "MiB/s"), (1, "guest -> L1 (nc)", "up", "MiB/s"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--down-mib", type=int,
                    default=int(os.environ.get("BENCH_NET_DOWN_MIB", "64")))
    ap.add_argument("--up-mib", type=int, default=int(os.environ.get("BENCH_NET_UP_MIB", "8")))
    ap.add_argument("--json", help="write the samples here (bench/run's report)")
    ap.add_argument("--pci", action="store_true",
                    default=os.environ.get("BENCH_NET_PCI", "") == "1",
                    help="also kiln with --virtio-transport pci (column kiln-pci)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-bench-net-")
    initrd, want_up = guest_initrd(tmp, args.up_mib)
    got = {"kiln": [], "qemu": []} | ({"kiln-pci": []} if args.pci else {})
    for i in range(args.runs):
        for vmm in got:
            r = one_run(vmm, args, tmp, initrd, want_up)
            if r:
                got[vmm].append(r)
                print(f"net-tcp: run {i + 1} {vmm}: L1 -> guest {r[0]:.1f} MiB/s, "
                      f"guest -> L1 {r[1]:.1f} MiB/s", flush=True)
    print(f"\nTCP through a TAP inside the emulated L1 (MiB/s, median [min..max] of "
          f"{args.runs} runs; {args.down_mib} MiB down, {args.up_mib} MiB up)")
    print(f"{'figure':<28}{'kiln':>24}{'QEMU':>24}{'kiln/QEMU':>11}")
    if args.json:
        samples.write(args.json, FIGURES, got)
    for k, what, _, _ in FIGURES:
        kx, qx = [r[k] for r in got["kiln"]], [r[k] for r in got["qemu"]]
        if not kx or not qx:
            print(f"{what:<28}  too few runs completed (kiln {len(kx)}, QEMU {len(qx)})")
            continue
        print(f"{what:<28}{fmt(kx):>24}{fmt(qx):>24}"
              f"{statistics.median(kx) / statistics.median(qx):11.2f}")
        px = [r[k] for r in got.get("kiln-pci", [])]
        if px:
            print(f"{'  kiln over virtio-pci':<28}{fmt(px):>24}{'':>24}"
                  f"{statistics.median(px) / statistics.median(qx):11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""bench/vsock.py --kiln KILN [--json PATH] — host <-> guest vsock throughput and round-trip latency, kiln's
virtio-vsock against QEMU's vhost-vsock-device, measured in the same run (a benchmark, not a
test).

Runs inside the nested rig's L1 (bench/run starts it with scripts/nested --module vhost_vsock):
a Linux guest cannot boot on the development machines' PVM /dev/kvm, so both VMMs run the guest
on L1's KVM, and L1 itself is emulated (TCG). The absolute figures are the emulator's; the ratio
kiln/QEMU is the comparison, both VMMs paying the same emulation.

Each run boots the project's kernel (configs/linux-kiln.config) with a busybox initramfs holding
tests/nested/guest/vsockecho (static) on one vCPU and 256 MiB, guest CID 3. The guest listens on
port 52 (`vsockecho echo`) and 54 (`vsockecho bench`). The host, in L1:
- host -> guest: sends "recv N" and N bytes (BENCH_VSOCK_MIB MiB, default 64) of a known stream;
  the guest checks every byte and answers "ok"; timed from the connection to the answer;
- guest -> host: sends "send N"; the guest writes the stream, the host checks every byte; timed
  from the connection to the guest's close;
- latency: BENCH_VSOCK_PINGS (default 1000) round trips of one byte through the echo listener on
  one connection, each timed; the run's median and 99th percentile in microseconds.
A run counts only if every byte matched. BENCH_RUNS (default 3) runs per VMM, alternating kiln,
QEMU, kiln, ... Prints median [min..max] across runs and kiln/QEMU.

- kiln: `kiln run --kernel bzImage --initrd ... --memory 256M --vsock cid=3,uds=PATH`; the host
  peer connects to PATH and does Firecracker's handshake (`CONNECT <port>` / `OK <port>`): kiln's
  event loop moves the bytes between the Unix socket and guest memory.
- QEMU: `-M microvm -accel kvm -m 256M -device vhost-vsock-device,guest-cid=3`; the host peer is
  an AF_VSOCK socket to CID 3 in L1 itself: L1's kernel (vhost_vsock) moves the bytes, QEMU's
  process is not on the data path. A different design: kiln's figures include a Unix socket and
  a user-space copy that QEMU's do not.
If QEMU cannot run here (no /dev/vhost-vsock, no AF_VSOCK, the device refused), kiln's figures
are printed alone with the reason.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402
import samples  # noqa: E402  (bench/, this script's directory)

MIB = 1 << 20
CID = 3
ECHO_PORT, BENCH_PORT = 52, 54
CMDLINE = "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"
BOOT_TIMEOUT = 300
IO_TIMEOUT = 300
SCENARIO = f"""/bin/vsockecho echo {ECHO_PORT} &
/bin/vsockecho bench {BENCH_PORT} &
kt ready
while read -r cmd; do eval "$cmd"; done
"""


def stream_block():
    """The MiB vsockecho's bench mode repeats: byte i is (i + 7k + 13(k >> 8)) mod 256 with
    k = i >> 8."""
    r = bytes(range(256)) * 2
    return b"".join(r[(7 * k + 13 * (k >> 8)) & 0xff:][:256] for k in range(MIB >> 8))


BLOCK = stream_block()
BLOCK2 = BLOCK * 2


def vsockecho_path(kiln):
    return os.path.join(os.path.dirname(os.path.abspath(kiln)), "tests", "nested", "vsockecho")


class Peer:
    """How the host reaches the guest's port: kiln's Unix socket and handshake, or AF_VSOCK."""

    def __init__(self, vmm, uds):
        self.vmm, self.uds = vmm, uds

    def connect(self, port):
        if self.vmm == "qemu":
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.settimeout(IO_TIMEOUT)
            s.connect((CID, port))
            return s
        return kilntest.vsock_connect(self.uds, port, IO_TIMEOUT)[0]


def read_line(s):
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        line += c
    return line.decode(errors="replace").strip()


def host_to_guest(peer, nbytes):
    """MiB/s of nbytes to the guest, which checks them; None (and why) if they did not match."""
    t0 = time.monotonic()
    s = peer.connect(BENCH_PORT)
    s.sendall(b"recv %d\n" % nbytes)
    left = nbytes
    while left:
        k = min(left, MIB)
        s.sendall(BLOCK[:k])
        left -= k
    ans = read_line(s)
    dt = time.monotonic() - t0
    s.close()
    if ans != "ok":
        return None, f"guest answered {ans!r}"
    return nbytes / MIB / dt, None


def guest_to_host(peer, nbytes):
    """MiB/s of nbytes from the guest, every byte checked here."""
    t0 = time.monotonic()
    s = peer.connect(BENCH_PORT)
    s.sendall(b"send %d\n" % nbytes)
    got = 0
    while True:
        b = s.recv(MIB)
        if not b:
            break
        off = got % MIB
        if got + len(b) > nbytes or b != BLOCK2[off:off + len(b)]:
            s.close()
            return None, f"byte stream differs within [{got}, {got + len(b)})"
        got += len(b)
    dt = time.monotonic() - t0
    s.close()
    if got != nbytes:
        return None, f"{got} bytes of {nbytes}"
    return nbytes / MIB / dt, None


def latency(peer, pings):
    """(median, p99) microseconds of one-byte round trips through the echo listener."""
    s = peer.connect(ECHO_PORT)
    times = []
    for i in range(pings + 10):
        b = bytes([i & 0xff])
        t0 = time.perf_counter_ns()
        s.sendall(b)
        r = s.recv(1)
        t1 = time.perf_counter_ns()
        if r != b:
            s.close()
            return None, f"ping {i}: got {r!r}"
        if i >= 10:  # the first few warm the path
            times.append((t1 - t0) / 1000)
    s.close()
    times.sort()
    return (statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]), None


def argv(vmm, kiln, initrd, uds):
    kernel = lg.kiln_kernel("bzimage")
    if vmm.startswith("kiln"):
        return [kiln, "run", "--kernel", kernel, "--initrd", initrd, "--memory", "256M",
                "--cmdline", CMDLINE, "--vsock", f"cid={CID},uds={uds}"] + \
            (["--virtio-transport", "pci"] if vmm == "kiln-pci" else [])
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-m", "256M", "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
            "-device", f"vhost-vsock-device,guest-cid={CID}"]


def qemu_unusable():
    """Why QEMU's vhost-vsock cannot run in this L1, or None."""
    if not os.path.exists("/dev/vhost-vsock"):
        return ("no /dev/vhost-vsock in L1 (the vhost_vsock module: scripts/nested --module "
                "vhost_vsock)")
    if not hasattr(socket, "AF_VSOCK"):
        return "Python has no AF_VSOCK"
    try:
        socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM).close()
    except OSError as e:
        return f"no AF_VSOCK sockets in L1: {e}"
    p = subprocess.run(["qemu-system-x86_64", "-device", "help"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    if '"vhost-vsock-device"' not in p.stdout:
        return "this QEMU has no vhost-vsock-device"
    return None


def one_run(vmm, args, tmp, initrd):
    """One guest on vmm: (host->guest MiB/s, guest->host MiB/s, latency median, p99) or None."""
    uds = os.path.join(tmp, f"{vmm}.vsock")
    if os.path.exists(uds):
        os.unlink(uds)
    g = lg.Guest(vmm, argv(vmm, args.kiln, initrd, uds), tmp, stdin=True, echo=False)
    why, r = None, None
    try:
        if g.wait_for(rf"^KT listening {BENCH_PORT}$", BOOT_TIMEOUT)[1] is None:
            why = "the guest's listeners did not come up"
        else:
            peer = Peer(vmm, uds)
            nbytes = args.mib * MIB
            down, why = host_to_guest(peer, nbytes)
            if not why:
                up, why = guest_to_host(peer, nbytes)
            if not why:
                lat, why = latency(peer, args.pings)
            if not why:
                r = (down, up, lat[0], lat[1])
    except OSError as e:
        why = f"{type(e).__name__}: {e}"
    try:
        g.send("poweroff -f\n")
    except OSError:
        pass
    g.wait_exit(30)
    if r is None:
        print(f"vsock: {vmm} run failed ({why}); not counted: {g.text()[-300:]} "
              f"{g.stderr()[-300:]}", flush=True)
    return r


# (index in a run's result, label, key in the JSON samples, unit)
FIGURES = ((0, "host -> guest (MiB/s)", "down", "MiB/s"),
           (1, "guest -> host (MiB/s)", "up", "MiB/s"),
           (2, "round trip median (us)", "rtt_median", "us"),
           (3, "round trip p99 (us)", "rtt_p99", "us"))


def fmt(xs):
    return f"{statistics.median(xs):8.1f} [{min(xs):.1f}..{max(xs):.1f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--mib", type=int, default=int(os.environ.get("BENCH_VSOCK_MIB", "64")))
    ap.add_argument("--pings", type=int,
                    default=int(os.environ.get("BENCH_VSOCK_PINGS", "1000")))
    ap.add_argument("--json", help="write the samples here (bench/run's report)")
    ap.add_argument("--pci", action="store_true",
                    default=os.environ.get("BENCH_VSOCK_PCI", "") == "1",
                    help="also kiln with --virtio-transport pci (column kiln-pci)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-bench-vsock-")
    prog = vsockecho_path(args.kiln)
    if not os.path.exists(prog):
        print(f"vsock: no {prog} (build the project first)", flush=True)
        return 1
    initrd = lg.initrd(tmp, "vsock", SCENARIO, files={"bin/vsockecho": prog})
    vmms = ["kiln", "qemu"]
    why_not_qemu = qemu_unusable()
    if why_not_qemu:
        print(f"vsock: QEMU not compared: {why_not_qemu}", flush=True)
        vmms = ["kiln"]
    vmms += ["kiln-pci"] if args.pci else []
    got = {v: [] for v in vmms}
    for i in range(args.runs):
        for vmm in vmms:
            r = one_run(vmm, args, tmp, initrd)
            if r:
                got[vmm].append(r)
                print(f"vsock: run {i + 1} {vmm}: host -> guest {r[0]:.1f} MiB/s, guest -> host "
                      f"{r[1]:.1f} MiB/s, round trip median {r[2]:.0f} us, p99 {r[3]:.0f} us",
                      flush=True)
        if i == 0 and "qemu" in vmms and not got["qemu"]:
            print("vsock: QEMU's first run failed; kiln's figures alone from here", flush=True)
            vmms = [v for v in vmms if v != "qemu"]
    qemu = bool(got.get("qemu"))
    print(f"\nvsock host <-> guest inside the emulated L1 (median [min..max] of {args.runs} runs; "
          f"{args.mib} MiB each way, checked; {args.pings} one-byte round trips)")
    print(f"{'figure':<30}{'kiln':>26}" + (f"{'QEMU vhost':>26}{'kiln/QEMU':>11}" if qemu else ""))
    if args.json:
        samples.write(args.json, FIGURES, got)
    for k, what, _, _ in FIGURES:
        kx = [r[k] for r in got["kiln"]]
        if not kx:
            print(f"{what:<30}  no kiln run completed")
            continue
        line = f"{what:<30}{fmt(kx):>26}"
        if qemu:
            qx = [r[k] for r in got["qemu"]]
            line += f"{fmt(qx):>26}{statistics.median(kx) / statistics.median(qx):11.2f}"
        print(line)
        px = [r[k] for r in got.get("kiln-pci", [])]
        if px:
            print(f"{'  kiln over virtio-pci':<30}{fmt(px):>26}" +
                  (f"{'':>26}{statistics.median(px) / statistics.median(qx):11.2f}" if qemu
                   else ""))
    if not qemu:
        print(f"(QEMU not compared: {why_not_qemu or 'its runs failed'})")
    return 0 if got["kiln"] else 1


if __name__ == "__main__":
    sys.exit(main())

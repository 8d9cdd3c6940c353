#!/usr/bin/env python3
"""linux-vsock.py — the full-Linux suite's vsock batch, run inside the nested rig's L1
(scripts/nested): a Linux guest on kiln's virtio-vsock (`--vsock cid=3,uds=PATH`) and host
peers in L1 on Firecracker's Unix-socket side. The guest runs tests/nested/guest/vsockecho.c
(an echo listener on port 52, a listener that never reads on port 53) and takes further
commands on its console.

    linux-vsock.py --kiln PATH [--only NAME[,NAME...]] [--mib N]

Scenarios (one guest for all but snapshot):
- host-stream: a host process connects (CONNECT 52 / OK <port>) and sends N MiB (default 256)
  to the echo listener while reading the echo; the SHA-256 of both directions must match.
- guest-stream: the guest connects to host port 5000 (an echo server at PATH_5000) and sends
  N MiB, checking every byte of the echo.
- host-many: 100 host connections at once, 256 KiB each, every echo exact.
- guest-many: 100 guest connections at once to PATH_5001, 256 KiB each.
- host-leaves: a host peer sends 8 MiB without reading and disconnects mid-stream: the guest's
  connection ends, and a new connection works.
- guest-stops-reading: the host writes to the listener that never reads until blocked; kiln's
  VmRSS grows by less than 8 MiB. Then the other way: the guest floods a host peer that never
  reads; the same bound.
- snapshot: a host connection to the echo listener, pause, snapshot, kill kiln, `kiln restore`:
  the guest's old connection is reset (TRANSPORT_RESET) and a new host connection echoes.
"""
import argparse
import hashlib
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

BUILD_GUEST = os.path.join("tests", "nested")
GUEST_TIMEOUT = 180
MIB = 1 << 20
BLOCK = os.urandom(MIB)
SCENARIO = """/bin/vsockecho echo 52 &
/bin/vsockecho sink 53 &
kt ready
while read -r cmd; do eval "$cmd"; done
"""


def connect(path, port, timeout=30):
    """A host connection through Firecracker's handshake; returns (socket, host port)."""
    return kilntest.vsock_connect(path, port, timeout)


def echo_stream(s, nbytes):
    """Send nbytes (BLOCK repeated) while reading the echo; (sha sent, sha received)."""
    sent, got = hashlib.sha256(), hashlib.sha256()

    def sender():
        left = nbytes
        while left:
            chunk = BLOCK[:min(left, len(BLOCK))]
            s.sendall(chunk)
            sent.update(chunk)
            left -= len(chunk)
        s.shutdown(socket.SHUT_WR)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    total = 0
    while total < nbytes:
        b = s.recv(1 << 20)
        if not b:
            break
        got.update(b)
        total += len(b)
    t.join(60)
    return sent.hexdigest(), got.hexdigest(), total


class EchoServer:
    """A host listener at path echoing every connection (a thread each)."""

    def __init__(self, path, read=True):
        self.l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if os.path.exists(path):  # a scenario's second run: the first one's listener is stale
            os.unlink(path)
        self.l.bind(path)
        self.echoed = 0  # bytes echoed back over all connections (a failure names them)
        self.l.listen(128)
        self.read = read
        self.conns = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.l.accept()
            except OSError:
                return
            self.conns.append(c)
            if self.read:
                threading.Thread(target=self.echo, args=(c,), daemon=True).start()

    def echo(self, c):
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    break
                c.sendall(b)
                self.echoed += len(b)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Batch:
    def __init__(self, args):
        self.kiln = args.kiln
        self.mib = args.mib
        self.tmp = tempfile.mkdtemp(prefix="kiln-vsock-")
        self.s = lg.Suite("linux-vsock")
        self.kernel = lg.kiln_kernel("bzimage")
        prog = os.path.join(os.path.dirname(os.path.abspath(args.kiln)), BUILD_GUEST,
                            "vsockecho")
        self.initrd = lg.initrd(self.tmp, "vsock", SCENARIO, files={"bin/vsockecho": prog})
        self.g = None
        self.uds = os.path.join(self.tmp, "v.sock")

    def start(self, name, uds, extra=()):
        g = lg.Guest(name, [self.kiln, "run", "--kernel", self.kernel, "--initrd", self.initrd,
                            "--cpus", "2", "--memory", "256M", "--cmdline",
                            "console=ttyS0 loglevel=4 panic=-1 rdinit=/init",
                            "--vsock", f"cid=3,uds={uds}", *extra], self.tmp, stdin=True)
        ok = g.wait_for(r"^KT listening 53$", GUEST_TIMEOUT)[1] is not None
        self.s.check(ok, f"{name}: the guest's listeners are up", g.text()[-400:])
        return g if ok else None

    def guest(self):
        if self.g is None or self.g.proc.poll() is not None:
            self.g = self.start("vsock", self.uds)
        return self.g

    # --- scenarios ---

    def host_stream(self):
        g = self.guest()
        if not g:
            return
        s, port = connect(self.uds, 52)
        self.s.check(port >= 1 << 30, f"host-stream: OK names a host port from 2^30 ({port})")
        t0 = time.monotonic()
        a, b, n = echo_stream(s, self.mib * MIB)
        dt = time.monotonic() - t0
        s.close()
        self.s.equal(n, self.mib * MIB, "host-stream: every byte came back")
        self.s.equal(b, a, f"host-stream: {self.mib} MiB each way, SHA-256 equal "
                           f"({2 * self.mib / dt:.1f} MiB/s both ways together)")

    def guest_stream(self):
        g = self.guest()
        if not g:
            return
        srv = EchoServer(self.uds + "_5000")
        since = g.count()
        t0 = time.monotonic()
        g.send(f"/bin/vsockecho send 5000 {self.mib}\n")
        _, m = g.wait_for(r"^KT send .*$", GUEST_TIMEOUT, since)
        want = f"KT send {self.mib * MIB} {self.mib * MIB} ok"
        got = m.group(0) if m else None
        self.s.check(got == want, f"guest-stream: {self.mib} MiB each way, every byte checked "
                                  f"({time.monotonic() - t0:.0f} s)",
                     f"got {got!r}, want {want!r}; the host echoed {srv.echoed} bytes on "
                     f"{len(srv.conns)} connections")

    def host_many(self):
        if not self.guest():
            return
        res = [None] * 100

        def one(i):
            try:
                s, _ = connect(self.uds, 52, 120)
                a, b, n = echo_stream(s, 256 << 10)
                s.close()
                res[i] = a == b and n == 256 << 10
            except OSError as e:
                res[i] = str(e)

        ts = [threading.Thread(target=one, args=(i,)) for i in range(100)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(GUEST_TIMEOUT)
        good = sum(1 for r in res if r is True)
        self.s.equal(good, 100, "host-many: 100 host connections at once, every echo exact "
                                f"({[r for r in res if r is not True][:3]})")

    def guest_many(self):
        g = self.guest()
        if not g:
            return
        EchoServer(self.uds + "_5001")
        since = g.count()
        g.send("/bin/vsockecho multi 5001 100 256\n")
        _, m = g.wait_for(r"^KT multi .*$", GUEST_TIMEOUT, since)
        self.s.equal(m.group(0) if m else None, "KT multi 100 100",
                     "guest-many: 100 guest connections at once, every echo exact")

    def host_leaves(self):
        g = self.guest()
        if not g:
            return
        since = g.count()
        s, _ = connect(self.uds, 52)
        s.settimeout(5)
        try:
            for _ in range(8):
                s.sendall(BLOCK)
        except OSError:
            pass  # the echo fills both ways: blocked, as intended
        s.close()
        _, m = g.wait_for(r"^KT echo end \d+ \d+$", 60, since)
        self.s.check(m is not None, "host-leaves: the guest's connection ends when the host "
                                    "peer disconnects mid-stream", g.text()[-300:])
        s, _ = connect(self.uds, 52)
        a, b, n = echo_stream(s, MIB)
        s.close()
        self.s.check(a == b and n == MIB, "host-leaves: a new connection echoes")

    def stops_reading(self):
        g = self.guest()
        if not g:
            return
        pid = g.proc.pid
        before = vm_rss_kib(pid)
        s, _ = connect(self.uds, 53)
        s.setblocking(False)
        pushed, idle = 0, time.monotonic()
        while time.monotonic() - idle < 3:
            try:
                pushed += s.send(BLOCK)
                idle = time.monotonic()
            except BlockingIOError:
                time.sleep(0.05)
        grew = vm_rss_kib(pid) - before
        print(f"guest-stops-reading: host pushed {pushed >> 10} KiB before blocking; kiln's "
              f"VmRSS {before} KiB -> +{grew} KiB", flush=True)
        self.s.check(grew < 8 << 10, f"guest-stops-reading: kiln's memory stays bounded "
                                     f"(+{grew} KiB)")
        self.s.check(pushed < 64 * MIB, f"guest-stops-reading: the host is held back "
                                        f"({pushed >> 20} MiB taken)")
        # the other way: a host peer that never reads
        EchoServer(self.uds + "_5002", read=False)
        before = vm_rss_kib(pid)
        since = g.count()
        g.send("/bin/vsockecho flood 5002 &\n")
        g.wait_for(r"^KT flood connected 1$", 60, since)
        time.sleep(5)
        grew = vm_rss_kib(pid) - before
        print(f"host-stops-reading: kiln's VmRSS +{grew} KiB", flush=True)
        self.s.check(grew < 8 << 10, f"host-stops-reading: kiln's memory stays bounded "
                                     f"(+{grew} KiB)")
        s.close()

    def snapshot(self):
        name = "snapshot"
        uds = os.path.join(self.tmp, "snap.sock")
        api = os.path.join(self.tmp, "snap-api.sock")
        g = self.start(name, uds, ["--api-sock", api])
        if not g:
            return
        s, _ = connect(uds, 52)
        s.sendall(b"before")
        self.s.equal(s.recv(6), b"before", f"{name}: the first connection echoes")
        snap, mem = os.path.join(self.tmp, "v.snap"), os.path.join(self.tmp, "v.mem")
        lg.pause(self.s, api, name)
        if not lg.snapshot(self.s, api, name, snap, mem):
            return
        g.proc.kill()
        g.wait_exit(10)
        r = lg.Guest(name + "-restored", [self.kiln, "restore", snap, "--mem-file", mem],
                     self.tmp)
        _, m = r.wait_for(r"^KT echo end \d+ \d+$", 60)
        self.s.check(m is not None, f"{name}: the guest's old connection is reset after the "
                                    "restore (TRANSPORT_RESET)", r.text()[-300:])
        try:
            s2, _ = connect(uds, 52)
            s2.sendall(b"after")
            self.s.equal(s2.recv(5), b"after", f"{name}: the guest's listener works after "
                                               "the restore")
            s2.close()
        except OSError as e:
            self.s.check(False, f"{name}: the guest's listener works after the restore", str(e))
        r.proc.kill()
        r.wait_exit(10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--mib", type=int, default=256)
    args = ap.parse_args()
    b = Batch(args)
    scenarios = {"host-stream": b.host_stream, "guest-stream": b.guest_stream,
                 "host-many": b.host_many, "guest-many": b.guest_many,
                 "host-leaves": b.host_leaves, "guest-stops-reading": b.stops_reading,
                 "snapshot": b.snapshot}
    for name in (args.only.split(",") if args.only else scenarios):
        b.s.scenario(name, scenarios[name])
    b.s.finish()


if __name__ == "__main__":
    main()

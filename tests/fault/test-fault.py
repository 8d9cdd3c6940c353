#!/usr/bin/env python3
"""test-fault.py — fault injection: kiln's devices and migration on failing hosts.

usage: test-fault.py --kiln KILN --faultfs FAULTFS --blk BLK_FAULT.elf --vcon VCON_STREAM.elf
                     --dirty DIRTY.elf [--only NAME]...

Scenarios (each also proves kiln keeps running: the guest goes on and passes, or the API answers):
  eio      virtio-blk on a FUSE file (faultfs) whose reads and writes fail with EIO in a sector
           range: the guest gets IOERR inside, the data outside; the backing file afterwards
           holds exactly the image's pattern and the writes that succeeded (the failed ones wrote
           nothing). A second run: every fsync fails, so FLUSH is IOERR, the writes stay; a
           third without FLUSH negotiated (write-through): each write is IOERR, as kiln's sync
           after it fails.
  enospc   virtio-blk on a sparse 8 MiB image in a 1 MiB tmpfs: a write past the space is IOERR,
           the earlier writes read back and are in the file, rewriting allocated sectors works.
  console  virtio-console's socket backend: a peer connects, exchanges lines and closes with
           unread data (a second peer waits in the backlog meanwhile and takes over after); with no peer the guest keeps writing; a peer that never reads blocks the
           guest's output (not kiln: the API answers) and is killed mid-line; a new peer
           connects, gets newer lines and ends the guest. kiln exits with the guest's PASS.
  migrate  a destination that accepts and never reads, and one that stops reading after 1 MiB:
           the source's migration fails within stall_timeout_s (+ the 1 s farewell) with a
           "stalled" error, the guest keeps running, and a migration to a real destination then
           completes. stall_timeout_s outside 1..3600 is a 400.

Everything runs in a private mount namespace (this script re-executes itself under `unshare
--mount`), so the FUSE and tmpfs mounts vanish with it whatever happens; each is also unmounted
on the way out. Needs root, /dev/fuse and /dev/kvm: otherwise exit 77 (SKIP), or 1 under CI=true
(tests/lib/skiprule.py). Exit: 0 pass, 1 fail.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402  (tests/lib)
import skiprule  # noqa: E402  (tests/lib)

SECTOR = 512
NS_MARK = "KILN_FAULT_MOUNT_NS"
T = kilntest.Checks("fault")
check = T.check


def make_pattern(first, count, seed):
    """Sectors [first, first + count) of pattern seed, as tests/guest/run-guest's make_pattern
    and blk_fault.c's pattern(): the sector number, the seed, a ramp."""
    ramp = bytes(range(256)) * 3
    out = bytearray()
    for s in range(first, first + count):
        k = (16 + 13 * s + 101 * seed) % 256
        out += s.to_bytes(8, "little") + seed.to_bytes(8, "little") + ramp[k:k + SECTOR - 16]
    return bytes(out)


def wait_for(pred, secs=10, step=0.05):
    end = time.time() + secs
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Proc:
    """A process with its stdout and stderr in files under tmp, killed at exit."""

    def __init__(self, tmp, name, argv):
        self.out, self.err = (os.path.join(tmp, name + x) for x in (".out", ".err"))
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
        kilntest.reap_at_exit(self.p)

    def text(self):
        return open(self.out, errors="replace").read()

    def errtext(self):
        return open(self.err, errors="replace").read()

    def alive(self):
        return self.p.poll() is None

    def wait(self, secs):
        try:
            return self.p.wait(timeout=secs)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGKILL):
        if self.alive():
            self.p.send_signal(sig)
        return self.wait(10)


def umount(path):
    subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL, check=False)


def run_guest(a, tmp, name, disk, cmdline, timeout=60):
    """kiln runs the blk_fault guest on disk; returns (status, stdout, stderr)."""
    k = Proc(tmp, name, [a.kiln, "run", "--kernel", a.blk, "--disk", disk, "--cmdline",
                         "acpi=off " + cmdline])
    st = k.wait(timeout)
    if st is None:
        k.stop()
    return st, k.text(), k.errtext()


def guest_passed(name, st, out, err, nops):
    want = f"blk_fault: {nops} operations as expected"
    last = (out.strip().splitlines() or [""])[-1]
    why = "; " + err.strip()[-300:] if st != 1 else ""
    check(st == 1 and want in out and "FAIL" not in out,
          f"{name}: kiln served every request and the guest passed (status {st}; {last!r}{why})")


def file_matches(name, path, want):
    with open(path, "rb") as f:
        got = f.read()
    bad = next((i // SECTOR for i in range(0, len(want), SECTOR)
                if got[i:i + SECTOR] != want[i:i + SECTOR]), None)
    check(len(got) == len(want) and bad is None,
          f"{name}: the backing file holds the image and exactly the writes that reached it "
          f"(first differing sector: {bad})")


# ---- eio: FUSE ------------------------------------------------------------------------------

def mount_faultfs(a, tmp, name, backing, opts):
    mnt = os.path.join(tmp, name + "-mnt")
    os.mkdir(mnt)
    fs = Proc(tmp, name + "-faultfs", [a.faultfs, "-o", "fsname=faultfs", mnt, backing, *opts])
    ok = wait_for(lambda: os.path.exists(os.path.join(mnt, "disk")) or not fs.alive(), 10)
    if not (ok and fs.alive()):
        check(False, f"{name}: faultfs mounts ({fs.errtext().strip()[-300:]})")
        fs.stop()
        return None, None
    return fs, mnt


def unmount_faultfs(fs, mnt):
    fs.stop(signal.SIGTERM)  # libfuse unmounts on SIGTERM
    umount(mnt)  # in case it did not
    return fs.errtext()


def eio_case(a, tmp, name, opts, ops, writes, fails_re, extra=""):
    sectors, seed, wseed = 4096, 7, 9
    backing = os.path.join(tmp, name + ".img")
    with open(backing, "wb") as f:
        f.write(make_pattern(0, sectors, seed))
    fs, mnt = mount_faultfs(a, tmp, name, backing, opts)
    if not fs:
        return
    try:
        st, out, err = run_guest(a, tmp, name + "-kiln", os.path.join(mnt, "disk"),
                                 f"sectors={sectors} seed={seed} wseed={wseed} {extra}ops={','.join(ops)}")
    finally:
        fserr = unmount_faultfs(fs, mnt)
    guest_passed(name, st, out, err, len(ops))
    want = bytearray(make_pattern(0, sectors, seed))
    for first, count in writes:
        want[first * SECTOR:(first + count) * SECTOR] = make_pattern(first, count, wseed)
    file_matches(name, backing, bytes(want))
    check(fails_re in fserr, f"{name}: faultfs returned the failures ({fserr.strip()!r})")


def test_eio(a, tmp):
    # Reads fail in [1024, 1088), writes in [2048, 2112).
    ops = ["w16+16:ok", "r0+64:ok", "r1024+8:err", "r1016+16:err", "r1080+16:err",
           "r1000+24:ok", "r1088+8:ok", "w2048+8:err", "w2104+16:err", "w2040+8:ok",
           "r2048+64:ok", "w3000+8:ok", "r3000+8:ok", "r16+16:ok", "r1024+1:err", "f:ok"]
    eio_case(a, tmp, "eio", ["--read-eio", "1024,64", "--write-eio", "2048,64"], ops,
             [(16, 16), (2040, 8), (3000, 8)], "4 read, 2 write, 0 fsync")
    # Every fsync fails: FLUSH is IOERR, the writes are in the file, the disk keeps working.
    ops = ["w100+8:ok", "f:err", "r100+8:ok", "w200+8:ok", "f:err", "r200+8:ok"]
    eio_case(a, tmp, "eio-fsync", ["--fsync-eio"], ops, [(100, 8), (200, 8)],
             "0 read, 0 write, 2 fsync")
    # Without FLUSH negotiated the device is write-through: kiln syncs after each write, so a
    # failing fsync makes the write itself IOERR (its data reached the file, not durably).
    ops = ["w300+8:err", "r0+8:ok", "w400+8:err"]
    eio_case(a, tmp, "eio-write-through", ["--fsync-eio"], ops, [(300, 8), (400, 8)],
             "0 read, 0 write, 2 fsync", extra="flush=0 ")


# ---- enospc: a small tmpfs ------------------------------------------------------------------

def test_enospc(a, tmp):
    mnt = os.path.join(tmp, "enospc-mnt")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M,mode=0700", "kiln-fault", mnt],
                       capture_output=True, text=True)
    if not check(r.returncode == 0, f"enospc: a 1 MiB tmpfs mounts ({r.stderr.strip()})"):
        return
    sectors, wseed = 16384, 5  # 8 MiB, sparse
    img = os.path.join(mnt, "disk.img")
    try:
        with open(img, "wb") as f:
            f.truncate(sectors * SECTOR)
        # 256 KiB fit; 1 MiB more does not (768 KiB left); then nothing is left for new blocks,
        # but the allocated ones can be rewritten.
        ops = ["w0+512:ok", "f:ok", "w4096+2048:err", "r0+512:ok", "w0+8:ok", "w8192+8:err",
               "w12000+1:err", "r0+8:ok", "f:ok", "r100+8:ok"]
        st, out, err = run_guest(a, tmp, "enospc-kiln", img,
                                 f"sectors={sectors} seed=zero wseed={wseed} ops={','.join(ops)}")
        guest_passed("enospc", st, out, err, len(ops))
        with open(img, "rb") as f:
            got = f.read()
        head_ok = got[:512 * SECTOR] == make_pattern(0, 512, wseed)
        zero, ws = bytes(SECTOR), make_pattern(4096, 2048, wseed)
        part = [got[(4096 + i) * SECTOR:(4097 + i) * SECTOR] for i in range(2048)]
        mid_ok = all(p == zero or p == ws[i * SECTOR:(i + 1) * SECTOR] for i, p in enumerate(part))
        rest_ok = (got[512 * SECTOR:4096 * SECTOR] == bytes((4096 - 512) * SECTOR) and
                   got[6144 * SECTOR:] == bytes((sectors - 6144) * SECTOR))
        check(len(got) == sectors * SECTOR and head_ok and mid_ok and rest_ok,
              f"enospc: the file holds the written 256 KiB, the failed write only in its own "
              f"range (head {head_ok}, failed range {mid_ok}, rest zero {rest_ok})")
    finally:
        umount(mnt)


# ---- console: vanishing socket peers --------------------------------------------------------

PEER_B = r"""
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"partial-b")          # half a line: no newline, then killed
print("connected", flush=True)
time.sleep(600)                  # never reads
"""


def lines_count(text):
    n = [int(l.split()[1]) for l in text.splitlines()
         if l.startswith("vcon: ") and l.endswith(" lines") and l.split()[1].isdigit()]
    return n[-1] if n else -1


def read_while(s, more, secs):
    """What s sends until more(data) is false, it closes, or secs pass."""
    data, end = b"", time.time() + secs
    s.settimeout(1)
    while more(data) and time.time() < end:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        data += chunk
    return data


def read_until(s, needle, secs=10):
    return read_while(s, lambda d: needle not in d, secs)


def read_bytes(s, n, secs=10):
    return read_while(s, lambda d: len(d) < n, secs)


def line_numbers(data):
    return [int(l[5:15]) for l in data.split(b"\n") if l.startswith(b"line ") and len(l) == 63]


def progress(k, what, secs=5):
    n0 = lines_count(k.text())
    grew = wait_for(lambda: lines_count(k.text()) > n0 + 4000, secs)
    check(bool(grew) and k.alive(),
          f"console: {what}: kiln runs and the guest keeps writing ({n0} -> "
          f"{lines_count(k.text())} lines)")


def test_console(a, tmp):
    sock, api = os.path.join(tmp, "vcon.sock"), os.path.join(tmp, "vcon-api.sock")
    k = Proc(tmp, "console-kiln", [a.kiln, "run", "--kernel", a.vcon, "--cmdline",
                                   "acpi=off report=2000", "--console-virtio", "socket:" + sock,
                                   "--api-sock", api])
    if not check(wait_for(lambda: "vcon: streaming" in k.text() and os.path.exists(sock), 15),
                 "console: the guest streams on virtio-console"):
        return k.stop()
    # A: lines arrive and an echo comes back; A then closes with unread data pending.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    got = read_bytes(s, 500 * 64)
    s.sendall(b"hello-a\n")
    got += read_until(s, b"echo: hello-a\n")
    nums = line_numbers(got)
    check(len(nums) >= 450 and nums == list(range(nums[0], nums[0] + len(nums))) and
          b"echo: hello-a\n" in got,
          f"console: peer A gets consecutive lines ({nums[:1]}..{nums[-1:]}) and its echo")
    # X connects meanwhile: one client at a time, X waits in the backlog until A goes.
    x = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    x.connect(sock)
    early = read_bytes(x, 1, 0.5)
    s.close()
    xnums = line_numbers(read_bytes(x, 200 * 64, 5))
    check(early == b"" and xnums and xnums[0] > nums[-1],
          f"console: a second peer waits while A is connected ({len(early)} bytes), then gets "
          f"newer lines ({xnums[:1]})")
    x.close()
    progress(k, "peer A closed with unread data")
    # B: connects, sends half a line, never reads: the guest's output blocks, kiln does not.
    b = Proc(tmp, "console-peer-b", [sys.executable, "-c", PEER_B, sock])
    wait_for(lambda: "connected" in b.text(), 5)
    time.sleep(1.0)
    n0 = lines_count(k.text())
    time.sleep(1.0)
    n1 = lines_count(k.text())
    st, info = kilntest.call(api, "GET", "/", timeout=5)
    check(n1 - n0 <= 2000 and st == 200 and info.get("state") == "Running",
          f"console: a peer that never reads holds the guest's output ({n0} -> {n1} lines in "
          f"1 s) while kiln's API answers ({st}, {info and info.get('state')})")
    b.stop(signal.SIGKILL)
    progress(k, "peer B killed mid-line with unread data")
    # C: a new peer gets newer lines and ends the guest.
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    got = read_until(c, b"\n") + c.recv(65536)
    c.sendall(b"quit\n")
    got += read_until(c, b"quit\n")
    later = line_numbers(got)
    check(later and nums and later[0] > nums[-1] and b"echo: partial-bquit\n" in got,
          f"console: peer C reconnects, gets newer lines ({later[:1]}) and B's half line "
          f"then its own (echo {got[got.find(b'echo:'):][:40]!r})")
    c.close()
    st = k.wait(15)
    check(st == 1 and "vcon: quit after" in k.text(),
          f"console: kiln exits with the guest's PASS (status {st}; "
          f"{k.errtext().strip()[-300:]})")


# ---- migrate: stalled destinations ----------------------------------------------------------

class Stall(threading.Thread):
    """A destination that accepts one connection, reads `limit` bytes (or until `until()` is
    true, asked every 20 ms), then never reads again while keeping the connection open (until
    close())."""

    def __init__(self, limit, until=None):
        super().__init__(daemon=True)
        self.until, self.stopped = until, None
        self.s = socket.socket()
        # A small window, so that the source's send blocks soon; a larger one when reading at
        # full speed matters (a 4 KiB window on loopback moves about 0.3 MB/s).
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 << 10 if until else 4096)
        self.s.bind(("127.0.0.1", 0))
        self.s.listen(1)
        self.port, self.limit, self.got, self.conn = self.s.getsockname()[1], limit, 0, None
        self.start()

    def run(self):
        self.conn, _ = self.s.accept()
        if self.until:  # at most about 30 MB/s, and a look at until() every 20 ms
            self.conn.settimeout(0.02)
        t = 0
        while self.got < self.limit:
            if self.until and time.time() - t > 0.02:
                t = time.time()
                if self.until():
                    self.stopped = time.time()
                    return
            try:
                chunk = self.conn.recv(min(65536, self.limit - self.got))
            except socket.timeout:
                continue
            if not chunk:
                break
            self.got += len(chunk)
            if self.until:
                time.sleep(0.002)

    def close(self):
        for x in (self.conn, self.s):
            if x:
                x.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def passes(text):
    return text.count(" ok")


def keeps_running(src, what):
    st, info = kilntest.call(src.api, "GET", "/", timeout=5)
    n0 = passes(src.text())
    grew = wait_for(lambda: passes(src.text()) > n0 + 1, 10)
    check(st == 200 and info["state"] == "Running" and grew and "FAIL" not in src.text(),
          f"migrate: {what}: the source guest keeps running ({info and info['state']})")


def finished(src, secs):
    def done():
        st, b = kilntest.call(src.api, "GET", "/migrate", timeout=5)
        return b if b["state"] != "active" else None
    return wait_for(done, secs)


def stalled_migration(src, limit, what, until=None, **kw):
    dest = Stall(limit, until)
    t0 = time.time()
    st, b = kilntest.call(src.api, "PUT", "/migrate", {
        "destination": f"127.0.0.1:{dest.port}", "stall_timeout_s": 2, **kw}, timeout=5)
    res = finished(src, 30)
    took = time.time() - t0
    check(st == 204 and res and res["state"] == "failed" and "stalled" in res["error"] and
          2 <= took < 8, f"migrate: {what}: failed in {took:.1f} s ({res and res['error']}, "
          f"{res and res['bytes_sent']} bytes sent)")
    keeps_running(src, what)
    check(dest.conn is not None and (dest.got == limit or dest.stopped),
          f"migrate: {what}: the destination accepted and read {dest.got} bytes "
          f"({'until the VM paused, ' + format(dest.stopped - t0, '.1f') + ' s in' if dest.stopped else f'expected {limit}'}), "
          f"then nothing, connected to the end")
    dest.close()
    return res


def test_migrate(a, tmp):
    api = os.path.join(tmp, "mig-src.sock")
    src = Proc(tmp, "mig-src", [a.kiln, "run", "--kernel", a.dirty, "--cmdline",
                                "mib=32 print_every=8", "--api-sock", api])
    src.api = api
    if not check(wait_for(lambda: passes(src.text()) >= 2, 20), "migrate: the source boots"):
        return src.stop()
    stalled_migration(src, 0, "a destination that accepts and never reads")
    res = stalled_migration(src, 1 << 20, "a destination that stops reading after 1 MiB")
    check(res and res["bytes_sent"] > (1 << 20),
          f"migrate: the second stalled after part of the memory ({res and res['bytes_sent']} "
          f"of {res and res['pages_total'] * 4096} bytes)")
    # Stop-and-copy at once (no dirty rounds, force), the destination stops reading when the
    # source pauses the VM: the stall happens while the VM is paused; it must run again.
    paused = lambda: kilntest.call(api, "GET", "/", timeout=5)[1]["state"] == "Paused"
    t0 = time.time()
    stalled_migration(src, 1 << 40, "a destination that stops reading during stop-and-copy",
                      until=paused, max_rounds=0, downtime_ms=0)
    check(time.time() - t0 < 20, "migrate: the stop-and-copy stall took under 20 s")
    for bad in (0, 3601):
        st, b = kilntest.call(api, "PUT", "/migrate", {"destination": "127.0.0.1:1",
                                                       "stall_timeout_s": bad}, timeout=5)
        check(st == 400 and "stall_timeout_s" in b["fault_message"],
              f"migrate: stall_timeout_s {bad} is a 400 ({b})")
    # The same through the CLI: kiln migrate send --stall-timeout-s.
    dest = Stall(0)
    t0 = time.time()
    r = subprocess.run([a.kiln, "migrate", "send", "--sock", api, "--to",
                        f"127.0.0.1:{dest.port}", "--stall-timeout-s", "1"],
                       capture_output=True, text=True, timeout=60)
    took = time.time() - t0
    dest.close()
    check(r.returncode == 1 and "no data for 1 s (stalled)" in r.stdout + r.stderr and took < 6,
          f"migrate: kiln migrate send --stall-timeout-s 1 to a stalled destination: status "
          f"{r.returncode} in {took:.1f} s ({(r.stdout + r.stderr).strip()[-120:]!r})")
    keeps_running(src, "after kiln migrate send failed")
    p = free_port()
    dst = Proc(tmp, "mig-dst", [a.kiln, "migrate", "receive", "--listen", f"127.0.0.1:{p}"])
    wait_for(lambda: "waiting" in dst.errtext(), 10)
    st, b = kilntest.call(api, "PUT", "/migrate", {"destination": f"127.0.0.1:{p}",
                                                   "downtime_ms": 30, "max_rounds": 8}, timeout=5)
    src.wait(30)
    n = passes(dst.text())
    check(st == 204 and src.p.returncode == 0 and "completed in" in src.errtext() and
          wait_for(lambda: passes(dst.text()) > n + 1, 10) and "FAIL" not in dst.text(),
          f"migrate: then a real destination completes and runs the guest "
          f"({src.errtext().strip()[-200:]!r})")
    dst.stop()
    src.stop()


# ---- main -----------------------------------------------------------------------------------

SCENARIOS = {"eio": test_eio, "enospc": test_enospc, "console": test_console,
             "migrate": test_migrate}


def why_not(a):
    if os.geteuid() != 0:
        return "needs root (FUSE and tmpfs mounts in a private mount namespace)"
    if not a.faultfs or not os.access(a.faultfs, os.X_OK):
        return "faultfs was not built: libfuse3-dev is missing (scripts/install-deps)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    return skiprule.kvm_unusable()


def main():
    ap = argparse.ArgumentParser()
    for o in ("--kiln", "--faultfs", "--blk", "--vcon", "--dirty"):
        ap.add_argument(o, required=True)
    ap.add_argument("--only", action="append", choices=sorted(SCENARIOS))
    a = ap.parse_args()
    why = why_not(a)
    if why:
        return skiprule.cannot_run(why)
    if os.environ.get(NS_MARK) != "1":
        # Same process (unshare execs): meson's timeout still reaches it.
        os.environ[NS_MARK] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              os.path.abspath(__file__), *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="kiln-fault-", ignore_cleanup_errors=True) as tmp:
        for name in a.only or SCENARIOS:
            t0 = time.time()
            print(f"=== {name}", flush=True)
            SCENARIOS[name](a, tmp)
            kilntest.kill_leftovers()
            print(f"=== {name}: {time.time() - t0:.1f} s", flush=True)
    return T.exit_code()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""linux-lifecycle.py — the full-Linux suite's lifecycle batch, run inside the nested rig's L1
(scripts/nested): a running Linux paused and resumed, snapshotted and restored in a new kiln,
Diff-snapshotted, and live-migrated to another kiln, while its userspace works.

    linux-lifecycle.py --kiln PATH [--only NAME[,NAME...]]

The guest runs two programs: a shell loop printing "KT tick N" every 0.2 s, and blkstress
(tests/nested/guest/blkstress.c) writing stamped blocks to a virtio-blk disk and, after every
pass, reading all of them back past the page cache ("KT blk pass P ... ok"). Scenarios:
- pause-resume: no tick while paused (PATCH /vm), the count resumes where it stopped.
- snapshot-restore: pause, snapshot (Full), kill kiln, `kiln restore` in a new process: the count
  continues with the next number and blkstress keeps verifying every block it ever wrote.
- diff-snapshot: a Full snapshot, more work, a Diff snapshot (track_dirty_pages from the config
  file); `kiln snapshot-merge` of the two memory files restores to the Diff's moment.
- migrate: `kiln migrate send` to a `kiln migrate receive` while blkstress writes; the count and
  the verified passes continue on the destination, the source exits 0.
- snapshot-restore-pci, migrate-pci: the same two with `--virtio-transport pci` (the transport's
  configuration space, MSI-X table and routes travel in its state section).
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

BUILD_GUEST = os.path.join("tests", "nested")  # blkstress, relative to the build directory
SCENARIO = """/bin/blkstress /dev/vda 256 {seed} &
i=0
while :; do i=$((i + 1)); kt tick $i; sleep 0.2; done
"""
BOOT_TIMEOUT = 60  # seconds to blkstress's second pass (typical: 8-10 s)
PCI = ("--virtio-transport", "pci")  # the -pci scenarios: the disk a virtio-pci function
TICK = re.compile(r"^KT tick (\d+)$")
PASS = re.compile(r"^KT blk pass (\d+) wrote \d+ verified (\d+) ok$")


def ticks(g):
    return [int(m.group(1)) for m in (TICK.match(l) for l in g.text().splitlines()) if m]


def passes(g):
    return [int(m.group(1)) for m in (PASS.match(l) for l in g.text().splitlines()) if m]


class Batch:
    def __init__(self, args):
        self.kiln = args.kiln
        self.tmp = tempfile.mkdtemp(prefix="kiln-lifecycle-")
        self.s = lg.Suite("linux-lifecycle")
        self.kernel = lg.kiln_kernel("bzimage")
        blk = os.path.join(os.path.dirname(os.path.abspath(args.kiln)), BUILD_GUEST, "blkstress")
        self.initrd = lg.initrd(self.tmp, "lifecycle", SCENARIO.format(seed=1234),
                                files={"bin/blkstress": blk})
        self.cmdline = "console=ttyS0 loglevel=4 panic=-1"

    def disk(self, name):
        path = os.path.join(self.tmp, name + ".img")
        with open(path, "wb") as f:
            f.truncate(1 << 20)
        return path

    def start(self, name, extra=()):
        sock = os.path.join(self.tmp, name + ".sock")
        g = lg.Guest(name, [self.kiln, "run", "--kernel", self.kernel, "--initrd", self.initrd,
                            "--cpus", "2", "--memory", "512M", "--cmdline", self.cmdline,
                            "--disk", self.disk(name), "--api-sock", sock] + list(extra),
                     self.tmp)
        return g, sock

    def working(self, g, name, min_pass=2):
        """Wait until blkstress has verified min_pass passes; False (and a FAIL) if not."""
        ok = g.wait_for(rf"^KT blk pass {min_pass} ", BOOT_TIMEOUT)[1] is not None
        return self.s.check(ok, f"{name}: the guest's userspace works (blkstress pass "
                                f"{min_pass})", g.text()[-300:])

    def no_fail(self, g, name):
        self.s.equal([l for l in g.text().splitlines() if "FAIL" in l], [],
                     f"{name}: blkstress found every block as last written")

    def pause(self, sock, name):
        return lg.pause(self.s, sock, name)

    def snapshot(self, sock, name, snap, mem, kind="Full"):
        return lg.snapshot(self.s, sock, name, snap, mem, kind)

    def continues(self, g, name, after_tick, after_pass, cut, what):
        """The restored/migrated guest counts on from after_tick and verifies two more passes.
        cut: the line the old kiln left unfinished; if it was the next tick, the new kiln
        prints only its end, and the first whole tick line is the one after."""
        i, m = g.wait_for(r"^KT tick \d+$", BOOT_TIMEOUT)
        first = int(m.group(0).split()[-1]) if m else None
        want = after_tick + (2 if cut and f"KT tick {after_tick + 1}".startswith(cut) else 1)
        self.s.equal(first, want, f"{name}: after {what} the count continues with the next "
                                  "number")
        ok = g.wait_for(rf"^KT blk pass {after_pass + 2} ", BOOT_TIMEOUT)[1] is not None
        self.s.check(ok, f"{name}: after {what} blkstress verifies two more passes of every "
                         "block it wrote", g.text()[-300:])
        self.no_fail(g, name)

    def up(self, g, name):
        """working(); kiln stopped when the guest does not get there."""
        if self.working(g, name):
            return True
        self.stop(g)
        return False

    def stop(self, g):
        g.proc.send_signal(signal.SIGTERM)
        return g.wait_exit(30)

    # --- scenarios ---

    def pause_resume(self):
        name = "pause-resume"
        g, sock = self.start(name)
        if not self.up(g, name):
            return
        self.pause(sock, name)
        time.sleep(0.5)
        before = ticks(g)
        st, info = kilntest.call(sock, "GET", "/")
        self.s.equal(info.get("state") if info else None, "Paused", f"{name}: GET / says Paused")
        time.sleep(3)
        self.s.equal(ticks(g), before, f"{name}: no tick while paused (3 s)")
        since = g.count()  # before resuming: the first tick can arrive before the API answers
        st, _ = kilntest.call(sock, "PATCH", "/vm", {"state": "Resumed"})
        self.s.equal(st, 204, f"{name}: PATCH /vm Resumed answers 204")
        i, m = g.wait_for(r"^KT tick \d+$", 30, since=since)
        nxt = int(m.group(0).split()[-1]) if m else None
        self.s.equal(nxt, before[-1] + 1 if before else None,
                     f"{name}: the count resumes where it stopped")
        self.working(g, name, max(passes(g) + [0]) + 1)
        self.no_fail(g, name)
        self.s.equal(self.stop(g), 0, f"{name}: kiln exits 0 on SIGTERM")

    def snapshot_restore(self, pci=False):
        name = "snapshot-restore" + ("-pci" if pci else "")
        g, sock = self.start(name, PCI if pci else ())
        if not self.up(g, name):
            return
        snap, mem = os.path.join(self.tmp, "full.snap"), os.path.join(self.tmp, "full.mem")
        self.pause(sock, name)
        time.sleep(0.5)
        last_tick, last_pass, cut = ticks(g)[-1], max(passes(g)), g.unfinished()
        ok = self.snapshot(sock, name, snap, mem)
        g.proc.kill()
        g.wait_exit(10)
        if not ok:
            return
        r = lg.Guest(name + "-restored", [self.kiln, "restore", snap, "--mem-file", mem],
                     self.tmp)
        self.continues(r, name, last_tick, last_pass, cut, "a restore in a new process")
        self.s.equal(self.stop(r), 0, f"{name}: the restored kiln exits 0 on SIGTERM")

    def diff_snapshot(self):
        name = "diff-snapshot"
        sock = os.path.join(self.tmp, "diff.sock")
        cfg = {"boot-source": {"kernel_image_path": self.kernel, "initrd_path": self.initrd,
                               "boot_args": self.cmdline},
               "machine-config": {"vcpu_count": 2, "mem_size_mib": 512,
                                  "track_dirty_pages": True},
               "drives": [{"drive_id": "data", "path_on_host": self.disk(name),
                           "is_root_device": False, "is_read_only": False}]}
        path = os.path.join(self.tmp, "diff.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        g = lg.Guest(name, [self.kiln, "--config-file", path, "--api-sock", sock], self.tmp)
        if not self.up(g, name):
            return
        f = {k: os.path.join(self.tmp, f"d-{k}") for k in ("base.snap", "base.mem", "diff.snap",
                                                           "diff.mem", "merged.mem")}
        self.pause(sock, name)
        ok = self.snapshot(sock, name, f["base.snap"], f["base.mem"])
        kilntest.call(sock, "PATCH", "/vm", {"state": "Resumed"})
        ok = ok and self.working(g, name, max(passes(g)) + 2)
        self.pause(sock, name)
        time.sleep(0.5)
        last_tick, last_pass, cut = ticks(g)[-1], max(passes(g)), g.unfinished()
        ok = ok and self.snapshot(sock, name, f["diff.snap"], f["diff.mem"], "Diff")
        g.proc.kill()
        g.wait_exit(10)
        if not ok:
            return
        with open(f["base.mem"], "rb") as src, open(f["merged.mem"], "wb") as dst:
            while True:
                chunk = src.read(1 << 20)
                if not chunk:
                    break
                dst.write(chunk)
        p = subprocess.run([self.kiln, "snapshot-merge", f["merged.mem"], f["diff.mem"]])
        self.s.equal(p.returncode, 0, f"{name}: kiln snapshot-merge base + Diff")
        r = lg.Guest(name + "-restored", [self.kiln, "restore", f["diff.snap"], "--mem-file",
                                          f["merged.mem"]], self.tmp)
        self.continues(r, name, last_tick, last_pass, cut, "restoring base + Diff")
        self.s.equal(self.stop(r), 0, f"{name}: the restored kiln exits 0 on SIGTERM")

    def migrate(self, pci=False):
        name = "migrate" + ("-pci" if pci else "")
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        dst = lg.Guest(name + "-dst", [self.kiln, "migrate", "receive", "--listen",
                                       f"127.0.0.1:{port}"], self.tmp)
        g, sock = self.start(name + "-src", PCI if pci else ())
        if not self.up(g, name):
            self.stop(dst)
            return
        p = subprocess.run([self.kiln, "migrate", "send", "--sock", sock, "--to",
                            f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=300)
        print(p.stdout, flush=True)
        self.s.equal(p.returncode, 0, f"{name}: kiln migrate send succeeds")
        self.s.equal(g.wait_exit(60), 0, f"{name}: the source exits 0 after the migration")
        last_tick, last_pass = ticks(g)[-1], max(passes(g))
        self.continues(dst, name, last_tick, last_pass, g.unfinished(), "the live migration")
        self.s.equal(self.stop(dst), 0, f"{name}: the destination exits 0 on SIGTERM")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", help="comma-separated scenario names")
    args = ap.parse_args()
    b = Batch(args)
    scenarios = {"pause-resume": b.pause_resume, "snapshot-restore": b.snapshot_restore,
                 "diff-snapshot": b.diff_snapshot, "migrate": b.migrate,
                 "snapshot-restore-pci": lambda: b.snapshot_restore(pci=True),
                 "migrate-pci": lambda: b.migrate(pci=True)}
    for name in (args.only.split(",") if args.only else scenarios):
        b.s.scenario(name, scenarios[name])
    b.s.finish()


if __name__ == "__main__":
    main()

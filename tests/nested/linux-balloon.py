#!/usr/bin/env python3
"""linux-balloon.py — the full-Linux suite's balloon batch, run inside the nested rig's L1
(scripts/nested): Linux's virtio-balloon driver against kiln's device, measured from both sides.

    linux-balloon.py --kiln PATH [--only NAME[,NAME...]]

The guest runs a shell on ttyS0 that the batch types commands into (it answers with "KT" lines;
its echo of a typed line starts with the command, never with "KT"); tests/nested/guest/memhog.c
touches guest memory so that the host has it resident before the balloon takes it. Scenarios:
- inflate-deflate: after memhog touched nearly all free memory, PATCH /balloon to 128 MiB lowers kiln's VmRSS (read in L1) by >= 120 MiB and
  the guest's MemAvailable by as much; GET /balloon/statistics carries the guest's own values
  (total_memory is its MemTotal); PATCH back to 0 gives the memory back to the guest.
- deflate-on-oom: with 350 of 512 MiB in the balloon, a program touching 200 MiB finishes when
  deflate_on_oom is on (the guest deflates instead of killing), and is OOM-killed when it is off.
- free-page-reporting: after memhog touched nearly all free memory and exited, the guest reports the free
  ranges and kiln's VmRSS falls by >= 120 MiB without any inflation.
- snapshot-restore: a balloon at 64 MiB is snapshotted and restored in a new kiln: target,
  actual and the statistics period survive, and the restored balloon deflates on request.
"""
import argparse
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

SCENARIO = "kt ready\nsh\nkt shell-done\n"
BOOT_TIMEOUT = 90
MIB = 1 << 20


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


class Batch:
    def __init__(self, args):
        self.kiln = args.kiln
        self.tmp = tempfile.mkdtemp(prefix="kiln-balloon-")
        self.s = lg.Suite("linux-balloon")
        self.kernel = lg.kiln_kernel("bzimage")
        hog = os.path.join(os.path.dirname(os.path.abspath(args.kiln)), "tests", "nested",
                           "memhog")
        self.initrd = lg.initrd(self.tmp, "balloon", SCENARIO, files={"bin/memhog": hog})
        self.cmdline = "console=ttyS0 loglevel=4 panic=-1"

    def start(self, name, balloon):
        sock = os.path.join(self.tmp, name + ".sock")
        g = lg.Guest(name, [self.kiln, "run", "--kernel", self.kernel, "--initrd", self.initrd,
                            "--cpus", "2", "--memory", "512M", "--cmdline", self.cmdline,
                            "--balloon", balloon, "--api-sock", sock], self.tmp, stdin=True)
        ok = g.wait_for(r"^KT ready", BOOT_TIMEOUT)[1] is not None
        if self.s.check(ok, f"{name}: the guest is up", g.text()[-300:]):
            time.sleep(1)  # the shell is reading
        return g, sock, ok

    def sh(self, g, cmd, pattern, timeout=60):
        """Type cmd into the guest's shell; the match of the first new line matching pattern."""
        since = g.count()
        g.send(cmd + "\n")
        return g.wait_for(pattern, timeout, since=since)[1]

    def guest_mem(self, g):
        """(MemTotal, MemAvailable) in KiB as the guest sees them."""
        m = self.sh(g, "echo KT mem $(awk '/^MemTotal|^MemAvailable/{print $2}' /proc/meminfo)",
                    r"^KT mem (\d+) (\d+)$", 30)
        return (int(m.group(1)), int(m.group(2))) if m else (None, None)

    def hog(self, g, mib, timeout=240):
        """Run memhog; 'done' or the shell's report of how it ended."""
        m = self.sh(g, f"/bin/memhog {mib}; echo KT hog status $?",
                    r"^KT hog status (\d+)$", timeout)
        return int(m.group(1)) if m else None

    def fill(self, g, name):
        """Touch all but 24 MiB of what the guest has free, and free it again: the host then has
        nearly every free guest page resident, whichever the balloon or a report picks."""
        avail = self.guest_mem(g)[1] or 0
        mib = max(avail // 1024 - 24, 64)
        self.s.equal(self.hog(g, mib), 0, f"{name}: memhog touched {mib} MiB (now resident)")

    def patch(self, sock, name, mib):
        st, body = kilntest.call(sock, "PATCH", "/balloon", {"amount_mib": mib})
        return self.s.equal(st, 204, f"{name}: PATCH /balloon amount_mib {mib} ({body})")

    def stats(self, sock):
        st, body = kilntest.call(sock, "GET", "/balloon/statistics")
        return body if st == 200 else {}

    def reach(self, sock, mib, timeout=120):
        """Wait until the guest's balloon holds mib MiB (actual_mib); the last statistics."""
        deadline, body = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            body = self.stats(sock)
            if body.get("actual_mib") == mib:
                return True, body
            time.sleep(0.5)
        return False, body

    def stop(self, g, sock=None):
        g.proc.send_signal(signal.SIGTERM)
        return g.wait_exit(30)

    # --- scenarios ---

    def inflate_deflate(self):
        name = "inflate-deflate"
        g, sock, ok = self.start(name, "amount_mib=0,stats_interval=1")
        if not ok:
            return self.stop(g)
        self.fill(g, name)
        time.sleep(1)
        rss0, (total0, avail0) = rss_kib(g.proc.pid), self.guest_mem(g)
        print(f"  before: kiln VmRSS {rss0} KiB, guest MemTotal {total0} MemAvailable {avail0}",
              flush=True)
        self.patch(sock, name, 128)
        ok, body = self.reach(sock, 128)
        if not self.s.check(ok, f"{name}: the guest's balloon reaches 128 MiB", str(body)):
            return self.stop(g)
        time.sleep(2.5)  # two statistics periods: the guest's report is of this state
        rss1, (total1, avail1) = rss_kib(g.proc.pid), self.guest_mem(g)
        body = self.stats(sock)
        print(f"  inflated: kiln VmRSS {rss1} KiB, guest MemTotal {total1} MemAvailable {avail1}"
              f"; statistics {body}", flush=True)
        self.s.check(rss0 - rss1 >= 120 * 1024,
                     f"{name}: kiln's VmRSS fell by >= 120 MiB",
                     f"{(rss0 - rss1) // 1024} MiB ({rss0} -> {rss1} KiB)")
        self.s.check(avail0 - avail1 >= 120 * 1024,
                     f"{name}: the guest's MemAvailable fell by >= 120 MiB",
                     f"{(avail0 - avail1) // 1024} MiB")
        self.s.equal(body.get("total_memory"), total1 * 1024,
                     f"{name}: statistics total_memory is the guest's MemTotal")
        av = body.get("available_memory", 0)
        self.s.check(abs(av - avail1 * 1024) <= 16 * MIB,
                     f"{name}: statistics available_memory is the guest's MemAvailable (16 MiB)",
                     f"{av} vs {avail1 * 1024}")
        # Without CONFIG_VM_EVENT_COUNTERS (the project's kernel) Linux sends these four only
        self.s.check(all(k in body for k in ("free_memory", "total_memory", "available_memory",
                                             "disk_caches")),
                     f"{name}: statistics carry the guest's counters", str(body))
        self.s.equal((body.get("target_pages"), body.get("target_mib")), (128 * 256, 128),
                     f"{name}: statistics target")
        self.patch(sock, name, 0)
        ok, body = self.reach(sock, 0)
        self.s.check(ok, f"{name}: the balloon deflates to 0", str(body))
        total2, avail2 = self.guest_mem(g)
        self.s.check(avail2 - avail1 >= 120 * 1024,
                     f"{name}: deflating gives the guest its memory back",
                     f"MemAvailable {avail1} -> {avail2} KiB")
        self.s.equal(self.hog(g, 350), 0, f"{name}: the guest touches 350 MiB afterwards")
        self.s.equal(self.stop(g), 0, f"{name}: kiln exits 0 on SIGTERM")

    def oom(self, name, deflate_on_oom):
        g, sock, ok = self.start(name, "amount_mib=0,stats_interval=1,deflate_on_oom="
                                 + ("on" if deflate_on_oom else "off"))
        if not ok:
            return self.stop(g)
        self.patch(sock, name, 350)
        ok, body = self.reach(sock, 350)
        if not self.s.check(ok, f"{name}: the guest's balloon reaches 350 MiB", str(body)):
            return self.stop(g)
        status = self.hog(g, 200)
        body = self.stats(sock)
        if deflate_on_oom:
            self.s.equal(status, 0, f"{name}: memhog 200 MiB finishes (the balloon deflated)")
            self.s.check(body.get("actual_mib", 350) < 350,
                         f"{name}: the balloon gave pages back under OOM", str(body))
        else:
            self.s.equal(status, 137, f"{name}: without deflate_on_oom memhog is OOM-killed")
        self.s.equal(self.stop(g), 0, f"{name}: kiln exits 0 on SIGTERM")

    def free_page_reporting(self):
        name = "free-page-reporting"
        g, sock, ok = self.start(name, "amount_mib=0,free_page_reporting=on")
        if not ok:
            return self.stop(g)
        self.fill(g, name)
        peak = rss_kib(g.proc.pid)
        low = peak
        for _ in range(60):  # the guest reports every 2 s once enough is free
            time.sleep(1)
            low = min(low, rss_kib(g.proc.pid))
            if peak - low >= 150 * 1024:
                break
        self.s.check(peak - low >= 120 * 1024,
                     f"{name}: reported free pages leave kiln's VmRSS (>= 120 MiB)",
                     f"{peak} -> {low} KiB")
        self.s.equal(self.hog(g, 300), 0, f"{name}: the guest uses the reported pages again")
        self.s.equal(self.stop(g), 0, f"{name}: kiln exits 0 on SIGTERM")

    def snapshot_restore(self):
        name = "snapshot-restore"
        g, sock, ok = self.start(name, "amount_mib=0,stats_interval=2")
        if not ok:
            return self.stop(g)
        self.patch(sock, name, 64)
        ok, body = self.reach(sock, 64)
        if not self.s.check(ok, f"{name}: the balloon reaches 64 MiB", str(body)):
            return self.stop(g)
        snap, mem = os.path.join(self.tmp, "b.snap"), os.path.join(self.tmp, "b.mem")
        lg.pause(self.s, sock, name)
        ok = lg.snapshot(self.s, sock, name, snap, mem)
        g.proc.kill()
        g.wait_exit(10)
        if not ok:
            return
        sock2 = os.path.join(self.tmp, name + "-r.sock")
        r = lg.Guest(name + "-restored", [self.kiln, "restore", snap, "--mem-file", mem,
                                          "--api-sock", sock2], self.tmp, stdin=True)
        time.sleep(3)
        st, cfg = kilntest.call(sock2, "GET", "/balloon")
        self.s.equal((st, (cfg or {}).get("amount_mib"), (cfg or {}).get(
            "stats_polling_interval_s")), (200, 64, 2),
            f"{name}: GET /balloon after the restore: target 64 MiB, period 2 s")
        body = self.stats(sock2)
        self.s.equal((body.get("actual_mib"), body.get("target_mib")), (64, 64),
                     f"{name}: the restored balloon holds 64 MiB")
        self.s.check("total_memory" in body, f"{name}: the guest's statistics survive",
                     str(body))
        self.patch(sock2, name, 0)
        ok, body = self.reach(sock2, 0)
        self.s.check(ok, f"{name}: the restored balloon deflates to 0", str(body))
        self.s.check(self.guest_mem(r)[0] is not None, f"{name}: the restored guest's shell works")
        self.s.equal(self.stop(r), 0, f"{name}: the restored kiln exits 0 on SIGTERM")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    b = Batch(args)
    scenarios = [("inflate-deflate", b.inflate_deflate),
                 ("deflate-on-oom", lambda: b.oom("deflate-on-oom", True)),
                 ("oom-without-deflate", lambda: b.oom("oom-without-deflate", False)),
                 ("free-page-reporting", b.free_page_reporting),
                 ("snapshot-restore", b.snapshot_restore)]
    only = [n for n in args.only.split(",") if n]
    for name, fn in scenarios:
        if not only or name in only:
            b.s.scenario(name, fn)
    b.s.finish()


if __name__ == "__main__":
    main()

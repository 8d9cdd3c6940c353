#!/usr/bin/env python3
"""test-diff.py — Diff snapshots contain exactly the pages dirtied since the previous snapshot.

usage: test-diff.py --kiln KILN --dirty DIRTY.elf

The dirty guest (8 MiB working set at 16 MiB, every page stamped each pass) runs from a
--config-file with machine-config track_dirty_pages. Full snapshot (base), run, Diff snapshot,
then at once a Full snapshot (full2) and another Diff. Checks: every page whose content changed
between base and full2 is in the Diff, and so is the whole working set; the Diff holds only a
handful of other pages (the guest's stack, rewritten with equal bytes); a Diff taken with nothing
run in between is empty; base merged with the Diff (`kiln snapshot-merge`) equals full2; the Diff
snapshot restored on the merged memory file runs on with no FAIL.
Exit: 0 pass, 1 fail; no usable /dev/kvm: 77 skip, or 1 under CI=true (tests/lib/skiprule.py).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module  # noqa: E402

tm = import_module("test-migrate")
check, call, wait_for, Proc = tm.check, tm.call, tm.wait_for, tm.Proc
PAGE = 4096


def data_pages(path):
    """Pages of the file's data extents (SEEK_DATA/SEEK_HOLE)."""
    pages, fd = set(), os.open(path, os.O_RDONLY)
    size, off = os.fstat(fd).st_size, 0
    try:
        while off < size:
            try:
                d = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break
            h = os.lseek(fd, d, os.SEEK_HOLE)
            pages.update(range(d // PAGE, (h + PAGE - 1) // PAGE))
            off = h
    finally:
        os.close(fd)
    return pages


def changed_pages(a, b):
    out = set()
    with open(a, "rb") as fa, open(b, "rb") as fb:
        i = 0
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if not x and not y:
                return out
            for k in range(0, max(len(x), len(y)), PAGE):
                if x[k:k + PAGE] != y[k:k + PAGE]:
                    out.add(i + k // PAGE)
            i += (1 << 20) // PAGE


def snap(sock, s, m, kind):
    st, b = call(sock, "PUT", "/snapshot/create",
                 {"snapshot_path": s, "mem_file_path": m, "snapshot_type": kind})
    return check(st == 204, f"{kind} snapshot {os.path.basename(s)} ({b})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--dirty", required=True)
    a = ap.parse_args()
    if (status := tm.skiprule.require_kvm()) is not None:
        return status
    with tempfile.TemporaryDirectory() as tmp:
        run(a.kiln, a.dirty, tmp)
    print(f"{len(tm.FAILS)} failed" if tm.FAILS else "all passed")
    return 1 if tm.FAILS else 0


def run(kiln, guest, tmp):
    cfg = os.path.join(tmp, "vm.json")
    with open(cfg, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": guest,
                                   "boot_args": "mib=8 print_every=64"},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 128,
                                      "track_dirty_pages": True}}, f)
    sock = os.path.join(tmp, "vm.sock")
    vm = Proc(tmp, "vm", [kiln, "--config-file", cfg, "--api-sock", sock])
    up = wait_for(lambda: os.path.exists(sock) and " ok" in vm.text())
    if not check(up, f"the dirty guest runs with track_dirty_pages ({vm.errtext()})"):
        return vm.kill()
    p = {n: os.path.join(tmp, n) for n in ("base.snap", "base.mem", "d1.snap", "d1.mem",
                                           "f2.snap", "f2.mem", "d2.snap", "d2.mem")}
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    snap(sock, p["base.snap"], p["base.mem"], "Full")
    call(sock, "PATCH", "/vm", {"state": "Resumed"})
    n0 = vm.text().count(" ok")
    wait_for(lambda: vm.text().count(" ok") > n0 + 1)
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    snap(sock, p["d1.snap"], p["d1.mem"], "Diff")
    snap(sock, p["f2.snap"], p["f2.mem"], "Full")
    snap(sock, p["d2.snap"], p["d2.mem"], "Diff")
    # A (failed) migration consumes the log: Diff refused until a Full; tracking stays on.
    call(sock, "PATCH", "/vm", {"state": "Resumed"})
    st, _ = call(sock, "PUT", "/migrate", {"destination": f"127.0.0.1:{tm.port()}"})
    res = wait_for(lambda: (lambda b: b if b["state"] != "active" else None)(
        call(sock, "GET", "/migrate")[1]))
    check(st == 204 and res and res["state"] == "failed", f"a migration to nobody fails ({res})")
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    x = os.path.join(tmp, "x")
    st, b = call(sock, "PUT", "/snapshot/create",
                 {"snapshot_path": x + ".snap", "mem_file_path": x + ".mem",
                  "snapshot_type": "Diff"})
    check(st == 400 and "migration" in b["fault_message"], f"Diff after a migration: 400 ({b})")
    snap(sock, x + ".snap", x + ".mem", "Full")
    call(sock, "PATCH", "/vm", {"state": "Resumed"})
    n0 = vm.text().count(" ok")
    wait_for(lambda: vm.text().count(" ok") > n0)
    call(sock, "PATCH", "/vm", {"state": "Paused"})
    snap(sock, x + "3.snap", x + "3.mem", "Diff")
    check(len(data_pages(x + "3.mem")) >= 2048, "tracking is still on after the migration")
    vm.kill()
    d1, changed = data_pages(p["d1.mem"]), changed_pages(p["base.mem"], p["f2.mem"])
    work = set(range(0x1000000 // PAGE, (0x1000000 + (8 << 20)) // PAGE))
    check(os.path.getsize(p["d1.mem"]) == 128 << 20, "the Diff memory file has the full size")
    check(changed <= d1, f"every changed page is in the Diff ({len(changed)} changed, "
          f"{len(changed - d1)} missing)")
    check(work <= d1, f"the whole working set is in the Diff ({len(work - d1)} missing)")
    extra = d1 - changed - work
    check(len(extra) <= 16, f"the Diff holds {len(d1)} pages: only {len(extra)} unchanged ones "
          f"besides (stack pages rewritten with equal bytes): {sorted(extra)[:16]}")
    check(data_pages(p["d2.mem"]) == set(), "a Diff with nothing run since is empty")
    merged = os.path.join(tmp, "merged.mem")
    shutil.copyfile(p["base.mem"], merged)
    r = subprocess.run([kiln, "snapshot-merge", merged, p["d1.mem"]], capture_output=True,
                       text=True)
    check(r.returncode == 0, f"kiln snapshot-merge ({r.stderr.strip()})")
    check(changed_pages(merged, p["f2.mem"]) == set(), "base + Diff == the Full snapshot after")
    rs = Proc(tmp, "restored", [kiln, "restore", p["d1.snap"], "--mem-file", merged])
    text = wait_for(lambda: vm.text() and rs.text().count(" ok") >= 2 and rs.text(), 20)
    check(text and "FAIL" not in text, f"the Diff snapshot restored on base + Diff runs on "
          f"({(text or rs.errtext()).strip()[-80:]})")
    rs.kill()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test-fs-refusal.py — a VM with a virtio-fs device (kiln-started virtiofsd) refuses snapshots
and live migration with one line and 400, and keeps running; SIGTERM then ends kiln and its
virtiofsd.

    test-fs-refusal.py --kiln PATH --count GUEST

Exit: 0 pass, 1 fail; no usable /dev/kvm, no virtiofsd or not root: 77 skip, or 1 under CI=true.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402  (tests/lib)
import skiprule  # noqa: E402  (tests/lib)

VIRTIOFSD = os.environ.get("KILN_VIRTIOFSD", "/usr/lib/qemu/virtiofsd")
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def counts(path):
    with open(path) as f:
        return len(kilntest.serial_counts(f.read()))


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return not f.read().split(") ")[-1].startswith("Z")
    except FileNotFoundError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--count", required=True)
    args = ap.parse_args()
    if (status := skiprule.require_kvm()) is not None:
        return status
    if os.geteuid() != 0 or not os.access(VIRTIOFSD, os.X_OK):
        return skiprule.cannot_run(f"needs root and {VIRTIOFSD} (qemu-system-common)")
    tmp = tempfile.mkdtemp(prefix="kiln-fs-refusal-")
    try:
        share, sock = os.path.join(tmp, "share"), os.path.join(tmp, "api.sock")
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        os.mkdir(share)
        with open(out, "w") as o, open(err, "w") as e:
            p = kilntest.reap_at_exit(subprocess.Popen(
                [args.kiln, "run", "-v", "--kernel", args.count, "--cmdline",
                 "print_every=20000000", "--fs", f"tag=s,dir={share}", "--api-sock", sock],
                stdin=subprocess.DEVNULL, stdout=o, stderr=e))
        if not check(wait_for(lambda: os.path.exists(sock) and counts(out) >= 2, 20),
                     "the count guest runs with a virtio-fs device"):
            return 1
        m = re.search(r"virtiofsd (\d+) serves", open(err).read())
        check(m is not None, "kiln started virtiofsd")
        st, _ = kilntest.call(sock, "PATCH", "/vm", {"state": "Paused"})
        check(st == 204, "pause")
        st, body = kilntest.call(sock, "PUT", "/snapshot/create",
                                 {"snapshot_path": os.path.join(tmp, "s"),
                                  "mem_file_path": os.path.join(tmp, "m")})
        check(st == 400 and "not supported with a virtio-fs device" in str(body),
              f"snapshot/create is refused with 400 and one line ({st} {body})")
        check(not os.path.exists(os.path.join(tmp, "s")), "no snapshot file is written")
        st, body = kilntest.call(sock, "PUT", "/migrate", {"destination": "127.0.0.1:9"})
        check(st == 400 and "not supported with a virtio-fs device" in str(body),
              f"migrate is refused with 400 and one line ({st} {body})")
        st, _ = kilntest.call(sock, "PATCH", "/vm", {"state": "Resumed"})
        before = counts(out)
        check(st == 204 and wait_for(lambda: counts(out) > before + 1, 20),
              "the VM resumes and keeps counting")
        p.send_signal(signal.SIGTERM)
        check(p.wait(timeout=20) == 0, "SIGTERM ends kiln with status 0")
        if m:
            check(wait_for(lambda: not alive(int(m.group(1))), 5), "its virtiofsd is gone")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())

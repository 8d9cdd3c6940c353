#!/usr/bin/env python3
"""sandbox.py — `kiln sandbox` end to end with the project's small Linux kernel, inside the nested
rig (L1 has a real KVM; see scripts/nested).

    sandbox.py --kiln build/kiln [--kernel BZIMAGE] [--case NAME]...

The kernel defaults to the bzImage of scripts/build-linux (tests/lib/linuxguest.py finds it).

Each case runs one `kiln sandbox` and asserts its exact exit status, and where it matters the
exact bytes on stdout and what reaches stderr. One PASS/FAIL line per case; the exit status is 1
if any case failed. Python 3 standard library only (it runs inside L1).
"""
import argparse
import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import linuxguest  # noqa: E402

CASE_TIMEOUT = 90  # seconds for one kiln sandbox run, boot included (typical: 2-10 s)
MIB = 1 << 20


def pattern_bytes():
    """What the pattern command below prints: 1024 lines of 1024 bytes, exactly 1 MiB."""
    return b"".join(b"%01023d\n" % i for i in range(1024))


PATTERN_CMD = ["sh", "-c", 'i=0; while [ $i -lt 1024 ]; do printf "%01023d\\n" $i; '
               "i=$((i+1)); done"]


LAST_ERR = []  # stderr of the last run, shown when a case fails


class Result:
    def __init__(self, status, out, err, secs):
        self.status, self.out, self.err, self.secs = status, out, err, secs
        LAST_ERR[:] = [err]

    def err_text(self):
        return self.err.decode("utf-8", "replace")


def sandbox(args, extra, cmd, slow_reader=False):
    """Run kiln sandbox; its status, stdout and stderr. A slow reader drains stdout 512 bytes at a
    time with pauses, so kiln's stdout pipe fills and kiln must wait for it."""
    argv = [args.kiln, "sandbox", "--kernel", args.kernel] + extra + ["--"] + cmd
    start = time.monotonic()
    if not slow_reader:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=CASE_TIMEOUT)
        return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - start)
    with tempfile.TemporaryFile() as errf:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errf)
        chunks = []
        while True:
            b = os.read(p.stdout.fileno(), 512)
            if not b:
                break
            chunks.append(b)
            time.sleep(0.001)
        status = p.wait(timeout=CASE_TIMEOUT)
        errf.seek(0)
        return Result(status, b"".join(chunks), errf.read(), time.monotonic() - start)


def expect(r, status, out=None, err_has=(), out_lacks=()):
    """Problems with r, as a list of strings (empty: pass)."""
    bad = []
    if r.status != status:
        bad.append(f"status {r.status}, want {status}")
    if out is not None and r.out != out:
        bad.append(f"stdout: {len(r.out)} bytes sha256 {hashlib.sha256(r.out).hexdigest()[:16]}, "
                   f"want {len(out)} bytes sha256 {hashlib.sha256(out).hexdigest()[:16]}")
    for s in err_has:
        if s not in r.err_text():
            bad.append(f"stderr lacks {s!r}")
    for s in out_lacks:
        if s.encode() in r.out:
            bad.append(f"stdout has {s!r}")
    return bad


def case_true(args, tmp):
    return expect(sandbox(args, [], ["true"]), 0, out=b"")


def case_false(args, tmp):
    return expect(sandbox(args, [], ["false"]), 1, out=b"")


def case_exit42(args, tmp):
    return expect(sandbox(args, [], ["sh", "-c", "exit 42"]), 42, out=b"")


def case_stdout_1mib(args, tmp):
    return expect(sandbox(args, [], PATTERN_CMD), 0, out=pattern_bytes())


def case_stdout_slow_pipe(args, tmp):
    return expect(sandbox(args, [], PATTERN_CMD, slow_reader=True), 0, out=pattern_bytes())


def case_disk(args, tmp):
    data = os.urandom(MIB)
    path = os.path.join(tmp, "disk.img")
    with open(path, "wb") as f:
        f.write(data)
    r = sandbox(args, ["--disk", path + ",ro"], ["head", "-c", "65536", "/dev/vda"])
    return expect(r, 0, out=data[:65536])


def case_disk_write(args, tmp):
    """What CMD writes to a disk is on the image when kiln returns (init syncs first)."""
    path = os.path.join(tmp, "rw.img")
    with open(path, "wb") as f:
        f.write(bytes(MIB))
    r = sandbox(args, ["--disk", path], ["sh", "-c", "printf kiln-was-here > /dev/vda"])
    bad = expect(r, 0, out=b"")
    with open(path, "rb") as f:
        head = f.read(16)
    if head != b"kiln-was-here\0\0\0":
        bad.append(f"the image starts with {head!r}")
    return bad


def case_cpus(args, tmp):
    return expect(sandbox(args, ["--cpus", "2", "--memory", "512M"], ["nproc"]), 0, out=b"2\n")


def case_stderr(args, tmp):
    r = sandbox(args, [], ["sh", "-c", "echo to-stdout; echo marker-on-stderr-7d1 >&2"])
    return expect(r, 0, out=b"to-stdout\n", err_has=["marker-on-stderr-7d1\n"],
                  out_lacks=["marker-on-stderr"])


def case_signal(args, tmp):
    return expect(sandbox(args, [], ["sh", "-c", "kill -9 $$"]), 137, out=b"")


def case_panic(args, tmp):
    r = sandbox(args, [], ["sh", "-c", "echo c > /proc/sysrq-trigger"])
    return expect(r, 123, err_has=["kiln sandbox: the guest kernel panicked while CMD ran"])


def case_timeout(args, tmp):
    r = sandbox(args, ["--timeout", "5"], ["sleep", "60"])
    bad = expect(r, 124, out=b"", err_has=["kiln sandbox: --timeout 5 expired while CMD ran"])
    if r.secs > 60:
        bad.append(f"took {r.secs:.0f} s: sleep 60 ran out instead of being stopped")
    return bad


def case_stderr_stalled(args, tmp):
    """CMD floods stderr, which nobody reads until kiln has stopped the VM: --timeout must still
    stop it (COM1 and kiln's log never block a vCPU)."""
    rd, wr = os.pipe()
    fcntl.fcntl(rd, 1031, 4096)  # F_SETPIPE_SZ: the pipe is full at once
    argv = [args.kiln, "sandbox", "--kernel", args.kernel, "--timeout", "5", "--",
            "sh", "-c", "while :; do echo stderr-flood; done >&2"]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=wr)
    os.close(wr)
    seen = {"stopped": False, "err": b""}

    def drain():
        ran = False  # the vCPU thread was seen: kiln has two threads while the VM runs
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            try:
                tasks = len(os.listdir(f"/proc/{p.pid}/task"))
            except FileNotFoundError:
                break
            ran |= tasks > 1
            if ran and tasks == 1:  # the vCPU thread has been joined: the VM stopped
                seen["stopped"] = True
                break
            time.sleep(0.2)
        with os.fdopen(rd, "rb") as f:
            seen["err"] = f.read()

    t = threading.Thread(target=drain)
    t.start()
    out = p.stdout.read()
    status = p.wait(timeout=CASE_TIMEOUT)
    t.join(timeout=CASE_TIMEOUT)
    r = Result(status, out, seen["err"], 0)
    bad = expect(r, 124, out=b"", err_has=["stderr-flood", "kiln sandbox: --timeout 5 expired"])
    if not seen["stopped"]:
        bad.append("the VM did not stop while stderr was not read")
    return bad


def case_interrupted(args, tmp):
    """SIGTERM to kiln while CMD runs: the VM is stopped, status 128+15, one line says so."""
    argv = [args.kiln, "sandbox", "--kernel", args.kernel, "--", "sleep", "60"]
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(8)
    p.terminate()
    out, err = p.communicate(timeout=CASE_TIMEOUT)
    r = Result(p.returncode, out, err, time.monotonic() - start)
    return expect(r, 128 + 15, out=b"", err_has=["kiln sandbox: stopped by signal 15"])


def case_never_started(args, tmp):
    r = sandbox(args, ["--cmdline", "rdinit=/nonexistent"], ["true"])
    return expect(r, 122, out=b"", err_has=["kiln sandbox: the guest kernel panicked before CMD"])


def case_not_found(args, tmp):
    r = sandbox(args, [], ["no-such-command-kiln-test"])
    return expect(r, 127, out=b"", err_has=["kiln sandbox: no-such-command-kiln-test: command "
                                            "not found"])


def run_case(s, case, name, args, tmp):
    """Run one case as one check of Suite s (its time in the check's name; kiln's last stderr
    lines printed when it fails)."""
    start = time.monotonic()
    try:
        bad = case(args, tmp)
    except subprocess.TimeoutExpired:
        bad = [f"kiln did not exit within {CASE_TIMEOUT} s"]
    s.check(not bad, f"{name} ({time.monotonic() - start:.1f} s)", "; ".join(bad))
    if bad and LAST_ERR:
        for line in LAST_ERR[-1].decode("utf-8", "replace").splitlines()[-8:]:
            print(f"    stderr: {line}", flush=True)


CASES = [case_true, case_false, case_exit42, case_stdout_1mib, case_stdout_slow_pipe, case_disk,
         case_disk_write, case_cpus, case_stderr, case_signal, case_panic, case_timeout,
         case_stderr_stalled, case_interrupted, case_never_started, case_not_found]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--kernel", help="the kernel (default: the bzImage of scripts/build-linux)")
    ap.add_argument("--case", action="append", help="run only these cases (name without case_)")
    args = ap.parse_args()
    if not args.kernel:
        args.kernel = linuxguest.kiln_kernel("bzimage")
    for path in (args.kiln, args.kernel):
        if not os.path.isfile(path):
            print(f"sandbox.py: {path}: no such file", flush=True)
            return 1
    cases = [c for c in CASES if not args.case or c.__name__[5:] in args.case]
    s = linuxguest.Suite("sandbox")  # each case a scenario: rerun, fresh L1 (docs/testing.md)
    with tempfile.TemporaryDirectory(prefix="kiln-sandbox-test-") as tmp:
        for case in cases:
            name = case.__name__[5:]
            s.scenario(name, lambda case=case, name=name: run_case(s, case, name, args, tmp))
        s.finish()


if __name__ == "__main__":
    sys.exit(main())

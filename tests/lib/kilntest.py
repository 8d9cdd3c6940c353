"""kilntest.py — helpers shared by kiln's Python tests and benchmarks: a JSON call to kiln's API
on a Unix socket, the host side of Firecracker's vsock handshake, a check counter, a reaper
that kills every kiln a script started when it exits, and a look at kiln's own reaper processes
(KVM teardowns still at work)."""
import atexit
import http.client
import json
import os
import signal
import socket
import sys
import time


class UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over the Unix stream socket at path."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(sock, method, path, body=None, timeout=60):
    """One API request; returns (status, decoded JSON body or None)."""
    c = UnixHTTP(sock, timeout)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def serial_counts(text):
    """The numbers of the count guest's "count: N" lines in serial output `text`, complete lines
    only: the guest writes a line a byte at a time, so the last line of output read while the
    guest runs may be cut short ("count: 14" of "count: 140000000")."""
    text = text[:text.rfind("\n") + 1]
    return [int(w[1]) for w in (l.split() for l in text.splitlines())
            if len(w) > 1 and w[0] == "count:" and w[1].isdigit()]


# Every kiln a script starts, killed at exit whatever path the script takes (a failed check,
# an exception, or meson's SIGTERM on timeout): a leaked guest would spin on for ever.
_live = []


def vsock_connect(path, port, timeout=30):
    """A host connection to guest port `port` through kiln's vsock Unix socket at path
    (Firecracker's handshake: `CONNECT port`, then `OK host_port`); returns (socket, host
    port). OSError if the handshake fails."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            raise OSError(f"closed during the handshake (after {line!r})")
        line += c
    if not line.startswith(b"OK "):
        raise OSError(f"handshake answer {line!r}")
    return s, int(line.split()[1])


class Checks:
    """PASS/FAIL lines and their count, for a test script: check(ok, what), then exit_code()."""

    def __init__(self, name):
        self.name, self.passed, self.failures = name, 0, []

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"PASS {what}", flush=True)
        else:
            self.failures.append(what)
            print(f"FAIL {what}", flush=True)
        return ok

    def exit_code(self):
        print(f"{self.name}: {self.passed} passed, {len(self.failures)} failed")
        return 1 if self.failures else 0


def _kill_leftovers():
    for p in _live:
        if p.poll() is None:
            p.kill()
            p.wait()


def kill_leftovers():
    """Kill every process reap_at_exit() registered that still runs (before a scenario runs
    again, say)."""
    _kill_leftovers()


def reap_at_exit(proc):
    """Register a subprocess.Popen to be killed when the script exits; returns it."""
    if not _live:
        atexit.register(_kill_leftovers)
        signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(128 + signo))
    _live.append(proc)
    return proc


def reapers():
    """pids of the kiln-reaper processes still at work (src/hv/kvm_reaper.c): a kiln's VM whose
    KVM teardown has not finished. Zombies, their teardown done and init yet to reap them, are
    left out."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm, state = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2]
        if comm == "kiln-reaper" and state not in "ZX":
            out.append(int(pid))
    return out


def wait_reapers_done(timeout=60):
    """Wait up to timeout seconds for every reaper's teardown to end; whether they all did."""
    deadline = time.monotonic() + timeout
    while reapers() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not reapers()

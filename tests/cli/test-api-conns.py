#!/usr/bin/env python3
"""test-api-conns.py KILN — the API server against connection patterns a hostile or careless client
makes: it must answer a well-behaved client after (and during) each of them.

- flood-and-close: open more connections than the server takes (its 32 plus the listen backlog),
  close them all, then ask: the answer must come (the server once stopped watching its listening
  socket after a full house and never accepted again).
- idle-hold: one client holds 60 idle connections open (no request on them); another client's
  request must still be answered at once, not after the idle connections time out.
- half-requests: 60 connections each holding half a request line; same.
- after each pattern the held connections are closed and the server still answers.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402

KILN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="kiln-api-conns-")
CHECKS = kilntest.Checks("api-conns")
check = CHECKS.check


def get_root(sock, timeout):
    """GET / on a fresh connection: (status or None, seconds taken)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        while True:  # a full backlog refuses at once (EAGAIN): a client tries again
            try:
                s.connect(sock)
                break
            except BlockingIOError:
                if time.monotonic() - t0 > timeout:
                    raise
                time.sleep(0.05)
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head = data.split(b"\r\n", 1)[0].split()
        status = int(head[1]) if len(head) > 1 and head[1].isdigit() else None
    except OSError:
        status = None
    finally:
        s.close()
    return status, time.monotonic() - t0


def open_many(sock, n, first=b""):
    """Up to n established connections, each sent `first`: a refused connect (the backlog is
    full) is tried again for up to 2 s, so the server is really full (its 32 and the backlog)
    unless it makes room."""
    conns, deadline = [], time.monotonic() + 2
    while len(conns) < n and time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX)
        s.setblocking(False)
        try:
            s.connect(sock)
        except BlockingIOError:
            s.close()
            time.sleep(0.01)
            continue
        if first:
            s.send(first)
        conns.append(s)
    return conns


def close_all(conns):
    for s in conns:
        s.close()


def answered(sock, what, within=5.0):
    status, took = get_root(sock, within + 1)
    check(status == 200 and took <= within,
          f"{what}: GET / answered in {took:.2f} s (status {status}, want 200 within {within} s)")


def flood(sock):
    for round_ in range(5):
        conns = open_many(sock, 60)
        time.sleep(0.3)
        close_all(conns)
        time.sleep(0.2)
        answered(sock, f"flood-and-close round {round_ + 1}")


def hold(sock, what, first):
    conns = open_many(sock, 60, first)
    time.sleep(0.3)
    answered(sock, f"{what}: 60 connections held open")
    close_all(conns)
    answered(sock, f"{what}: after closing them")


def with_kiln(pattern, *args):
    """Run one pattern against a fresh kiln on a socket of its own (the patterns must not mask
    one another)."""
    sock = os.path.join(TMP, f"{pattern.__name__}-{len(CHECKS.failures) + CHECKS.passed}.sock")
    p = subprocess.Popen([KILN, "--api-sock", sock], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        answered(sock, "start")
        pattern(sock, *args)
        check(p.poll() is None, "kiln is still running")
    finally:
        p.terminate()
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
    check(p.returncode == 0, f"kiln exits 0 on SIGTERM (status {p.returncode}, "
                             f"{err.decode(errors='replace')[-300:]})")


def main():
    with_kiln(flood)
    with_kiln(hold, "idle-hold", b"")
    with_kiln(hold, "half-requests", b"GET / HT")
    subprocess.run(["rm", "-rf", TMP], check=False)
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

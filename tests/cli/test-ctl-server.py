#!/usr/bin/env python3
"""test-ctl-server.py KILN — `kiln ctl` against a socket that is not kiln's API: a fake server
answers each request in one bad way, and kiln ctl must exit 1 with one line on stderr that says
what was wrong (it once printed nothing and exited 0).

- not JSON: a 200 whose body is not JSON, for a command that prints the answer;
- endless: a 200 head and then bytes without end (kiln ctl stops at 1 MiB);
- not HTTP: a line of something else, then the close;
- silent: accepts and never answers (kiln ctl gives up after its timeout).
"""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402

KILN = sys.argv[1]
TMP = tempfile.mkdtemp(prefix="kiln-ctl-server-")
CHECKS = kilntest.Checks("ctl-server")
check = CHECKS.check


def answer(conn, mode):
    conn.recv(4096)
    if mode == "not-json":
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    elif mode == "not-http":
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    elif mode == "endless":
        conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline:
                conn.sendall(b"x" * 65536)
        except OSError:
            pass
    elif mode == "silent":
        time.sleep(15)


def serve(path, mode):
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        with conn:
            answer(conn, mode)
        srv.close()
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main():
    cases = [("not-json", "is not JSON"), ("endless", "over 1 MiB"),
             ("not-http", "is not HTTP"), ("silent", "timed out")]
    for mode, want in cases:
        path = os.path.join(TMP, mode + ".sock")
        serve(path, mode)
        t0 = time.monotonic()
        p = subprocess.run([KILN, "ctl", "--sock", path, "info"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        took = time.monotonic() - t0
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 1 and len(lines) == 1 and want in lines[0],
              f"{mode}: exit 1 and one line saying '{want}' (status {p.returncode}, "
              f"stderr {p.stderr.strip()!r}, stdout {p.stdout[:60]!r}, {took:.1f} s)")
    subprocess.run(["rm", "-rf", TMP], check=False)
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make-http-seeds.py OUTDIR — seeds for fuzz_http: a state byte (0 not started, 1 running,
2 paused) then raw HTTP/1.1 bytes as Firecracker's clients send them, and a few malformed ones."""
import os
import sys


def req(method, path, body=b"", extra=b""):
    h = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n".encode() + extra
    if body:
        h += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return h + b"\r\n" + body


SEEDS = {
    "get-root": b"\0" + req("GET", "/"),
    "machine": b"\0" + req("PUT", "/machine-config", b'{"vcpu_count": 2, "mem_size_mib": 256}'),
    "pause": b"\1" + req("PATCH", "/vm", b'{"state": "Paused"}'),
    "resume": b"\2" + req("PATCH", "/vm", b'{"state": "Resumed"}'),
    "mmds": b"\0" + req("PUT", "/mmds", b'{"latest": {"meta-data": {"id": "i-1"}}}'),
    "actions": b"\1" + req("PUT", "/actions", b'{"action_type": "FlushMetrics"}'),
    "pipelined": b"\0" + req("GET", "/") + req("GET", "/machine-config") + req("GET", "/version"),
    "chunked": b"\0" + b"PUT /mmds HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n",
    "keepalive-close": b"\0" + req("GET", "/", extra=b"Connection: keep-alive\r\n") +
                       req("GET", "/", extra=b"Connection: close\r\n"),
    "nul-url": b"\0" + req("PUT", "/drives/a%00b", b'{"drive_id": "a"}'),
    "expect-100": b"\0" + req("PUT", "/mmds", b'{"x": 1}', b"Expect: 100-continue\r\n"),
    "http10": b"\0GET / HTTP/1.0\r\n\r\n",
    "cut-body": b"\0PUT /mmds HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"a\"",
}

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

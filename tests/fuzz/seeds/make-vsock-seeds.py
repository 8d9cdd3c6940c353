#!/usr/bin/env python3
"""Seeds for fuzz_vsock (tests/fuzz/fuzz_vsock.c): a guest connection with data both ways, a
host CONNECT handshake, malformed packets, a restore. Writes tests/fuzz/seeds/vsock/*."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vsock")


def hdr(op, src_port, dst_port, length, typ=1, flags=0, buf_alloc=262144, fwd_cnt=0):
    return struct.pack("<QQIIIHHIII", 3, 2, src_port, dst_port, length, typ, op, flags,
                       buf_alloc, fwd_cnt)


def op(code, a=0, b=0, payload=b""):
    assert len(payload) <= 255 + b * 64
    n = len(payload) - (b * 64 if code == 0 else 0)
    return bytes([code, a, b, n]) + payload


def tx(pkt, split=0):
    extra = max(0, len(pkt) - 255)
    b = (extra + 63) // 64
    return op(0, split, b, pkt + b"\0" * (b * 64 + 255 - len(pkt) if b else 0))[:4 + len(pkt)] \
        if not b else bytes([0, split, b, len(pkt) - b * 64]) + pkt


SEEDS = {
    "guest-connect": op(1, 3, 70) + tx(hdr(1, 1000, 1, 0)) + tx(hdr(5, 1000, 1, 5) + b"hello", 44)
    + op(1, 3, 70) + tx(hdr(6, 1000, 1, 0, fwd_cnt=0)) + tx(hdr(4, 1000, 1, 0, flags=3)),
    "host-connect": op(1, 2, 70) + op(3, 0, 0, b"CONNECT 7\n") + tx(hdr(2, 7, 1 << 30, 0))
    + op(4, 0, 0, b"data for the guest") + op(1, 2, 70) + op(5, 0),
    "bad-lines": op(3, 1, 0, b"connect x\n") + op(3, 2, 0, b"CONNECT 4294967296\n")
    + op(3, 3, 0, b"A" * 40),
    "malformed": tx(hdr(5, 1, 2, 1000)) + tx(hdr(99, 1, 2, 0)) + tx(hdr(1, 1, 2, 0, typ=2))
    + tx(b"\x03" * 20) + op(1, 0, 0),
    "restore": op(2, 0, 4) + op(2, 0, 4) + tx(hdr(1, 1000, 2, 0)) + op(6) + op(1, 1, 70) + op(7),
}

os.makedirs(OUT, exist_ok=True)
for name, data in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

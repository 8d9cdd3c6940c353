#!/usr/bin/env python3
"""make-blk-seeds.py — write seed inputs for fuzz_blk (the layout is described in fuzz_blk.c)."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "blk")
os.makedirs(out, exist_ok=True)


def seed(name, segs, nr_out, flags=0x6, capacity=2048):
    b = struct.pack("<BBBQ", len(segs) - 1, nr_out, flags, capacity)
    b += b"".join(struct.pack("<H", len(s)) for s in segs)
    b += b"".join(segs)
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)


def hdr(t, sector=0):
    return struct.pack("<IIQ", t, 0, sector)


seed("read", [hdr(0, 3), bytes(1024), b"\xff"], 1)
seed("write", [hdr(1, 10), bytes(512), bytes(512), b"\xff"], 3)
seed("write-merged", [hdr(1, 10) + bytes(512), b"\xff"], 1)
seed("flush", [hdr(4), b"\xff"], 1)
seed("get-id", [hdr(8), bytes(20), b"\xff"], 1)
seed("discard", [hdr(11), struct.pack("<QII", 8, 8, 0), b"\xff"], 2)
seed("write-zeroes-unmap", [hdr(13), struct.pack("<QII", 8, 8, 1), b"\xff"], 2)
seed("read-at-end", [hdr(0, 2047), bytes(512), b"\xff"], 1, capacity=2048)
seed("read-status-in-data", [hdr(0, 0), bytes(513)], 1)

#!/usr/bin/env python3
"""make-mmio-seeds.py OUTDIR — seeds for fuzz_mmio (its input format: 8-byte operations).

For each of the six devices (0 blk, 1 rng, 2 console, 3 balloon, 4 net, 5 vsock): a driver's init with every
offered feature, queue 0 (and 1) set up with rings at 0x1000/0x2000/0x4000, a three-descriptor
chain written into guest RAM (a read request for blk; one writable buffer for the others; a
page-number list for the balloon), the available ring published, and a notification; then the
same chain with an indirect table and a looping NEXT. The fuzzer mutates from real traffic.
"""
import os
import struct
import sys


def op(kind, dev=0, width=4, off=0, val=0, extra=0):
    w = {1: 0, 2: 1, 4: 2, 8: 3}[width]
    if dev >= 4:  # devices 4 and 5: the extra byte's top bit adds 4
        dev, extra = dev - 4, extra | 0x80
    return struct.pack("<BHIB", kind | dev << 3 | w << 5, off, val & 0xffffffff, extra)


def ram(addr, data):
    """RAM writes of data at addr (4-byte steps)."""
    data += b"\0" * (-len(data) % 4)
    return b"".join(op(2, off=(addr + i) // 4, val=struct.unpack_from("<I", data, i)[0])
                    for i in range(0, len(data), 4))


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


WHERE = 1 | 2 << 6 | 1 << 12  # descriptors 0x1000, driver area 0x2000, device area 0x4000
NEXT, WRITE, INDIRECT = 1, 2, 4


def chain(dev, table):
    s = op(3, dev, val=0xffffffff)
    s += op(4, dev, off=WHERE, val=8, extra=0)
    s += ram(0x1000, b"".join(table))
    s += ram(0x2000, struct.pack("<HHH", 0, 1, 0))
    return s + op(5, dev) + op(1, dev, off=0x60) + op(0, dev, off=0x64, val=1)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    blk_hdr = ram(0x8000, struct.pack("<IIQ", 0, 0, 0))
    seeds["blk-read"] = blk_hdr + chain(0, [desc(0x8000, 16, NEXT, 1),
                                            desc(0x9000, 512, NEXT | WRITE, 2),
                                            desc(0xa000, 1, WRITE, 0)])
    seeds["blk-write"] = ram(0x8000, struct.pack("<IIQ", 1, 0, 3)) + chain(
        0, [desc(0x8000, 16, NEXT, 1), desc(0x9000, 512, NEXT, 2), desc(0xa000, 1, WRITE, 0)])
    seeds["blk-indirect"] = blk_hdr + ram(0xb000, desc(0x8000, 16, NEXT, 1) +
                                          desc(0x9000, 512, NEXT | WRITE, 2) +
                                          desc(0xa000, 1, WRITE, 0)) + chain(
        0, [desc(0xb000, 48, INDIRECT, 0)])
    seeds["blk-loop"] = blk_hdr + chain(0, [desc(0x8000, 16, NEXT, 1),
                                            desc(0x9000, 512, NEXT | WRITE, 0)])
    seeds["rng"] = chain(1, [desc(0x9000, 64, WRITE, 0)])
    seeds["console-rx"] = chain(2, [desc(0x9000, 64, WRITE, 0)])
    seeds["console-tx"] = op(3, 2, val=0xffffffff) + op(4, 2, off=WHERE, val=8, extra=1) + \
        ram(0x1000, desc(0x9000, 64, 0, 0)) + ram(0x2000, struct.pack("<HHH", 0, 1, 0)) + \
        op(5, 2) + op(0, 2, width=4, off=0x108, val=0x41)
    seeds["balloon-inflate"] = ram(0x9000, struct.pack("<4I", 0x20, 0x21, 0x400, 0xfffff)) + \
        chain(3, [desc(0x9000, 16, 0, 0)]) + op(1, 3, off=0x104) + op(0, 3, off=0x104, val=4)
    where_tx = 5 | 6 << 6 | 2 << 12  # queue 1: descriptors 0x5000, driver 0x6000, device 0x8000
    tx = lambda dev, table: op(4, dev, off=where_tx, val=8, extra=1) + \
        ram(0x5000, b"".join(table)) + ram(0x6000, struct.pack("<HHH", 0, 1, 0))
    seeds["net-rx-tx"] = chain(4, [desc(0x9000, 1526, WRITE, 0)]) + \
        ram(0xc000, bytes(12) + b"\xff" * 6 + bytes(54)) + \
        tx(4, [desc(0xc000, 72, 0, 0)]) + op(5, 4)
    vsock_req = struct.pack("<QQIIIHHIII", 3, 2, 1000, 1, 0, 1, 1, 0, 65536, 0)
    seeds["vsock-connect"] = chain(5, [desc(0x9000, 4096, WRITE, 0)]) + \
        ram(0xc000, vsock_req) + tx(5, [desc(0xc000, 44, 0, 0)]) + op(5, 5)
    seeds["config-reads"] = b"".join(op(1, d, width=w, off=0x100 + o)
                                     for d in range(6) for w in (1, 2, 4, 8) for o in (0, 4, 8))
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

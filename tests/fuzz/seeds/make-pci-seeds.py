#!/usr/bin/env python3
"""make-pci-seeds.py OUTDIR — write seed inputs for fuzz_pci (format: see fuzz_pci.c): Linux's
virtio_pci_modern probe of the function (enumeration, BAR sizing, capability walk, MSI-X set up,
device initialisation, one request on queue 0), the same through ports 0xcf8/0xcfc, and a BAR
moved before a snapshot round trip."""
import os
import struct
import sys

W = {1: 0x00, 2: 0x10, 4: 0x20, 8: 0x30}


def op(kind, off, val=0, extra=0, width=4):
    return struct.pack("<BHIB", kind | W[width], off, val & 0xffffffff, extra)


def cfg_w(reg, val, width=4, slot=1):
    return op(0, reg, val, slot, width)


def cfg_r(reg, width=4, slot=1):
    return op(1, reg, 0, slot, width)


def bar_w(off, val, width=4):
    return op(3, off, val, 0, width)


def bar_r(off, width=4):
    return op(4, off, 0, 0, width)


def ram(addr, val):
    return op(5, addr // 4, val)


def probe():
    s = [cfg_r(0), cfg_r(0, slot=0), cfg_r(8), cfg_r(0x34, 1)]
    s += [cfg_w(4, 0, 2), cfg_w(0x10, 0xffffffff), cfg_r(0x10), cfg_w(0x10, 0xe1000000)]
    s += [cfg_r(a, 1) for a in (0x40, 0x41, 0x43, 0x50, 0x51, 0x53, 0x64, 0x65)]
    s += [cfg_w(4, 0x6, 2)]                         # memory decoding, bus master
    for cap in (0x40, 0x50, 0x64, 0x74, 0x88):  # kiln's chain for virtio-rng (no device cap)
        s += [cfg_r(cap, 1), cfg_r(cap + 1, 1)]
    s += [cfg_w(0x8a, 0x8000, 2)]                  # MSI-X on (its capability, last)
    for v in range(2):
        s += [bar_w(0x4000 + 16 * v, 0xfee00000), bar_w(0x4008 + 16 * v, 0x40 + v),
              bar_w(0x400c + 16 * v, 0)]
    s += [bar_w(0x14, 0, 1), bar_w(0x14, 3, 1), bar_w(0x08, 1), bar_w(0x0c, 1),
          bar_w(0x14, 11, 1), bar_w(0x10, 0, 2), bar_w(0x16, 0, 2), bar_r(0x18, 2),
          bar_w(0x18, 16, 2), bar_w(0x1a, 1, 2), bar_w(0x20, 0), bar_w(0x28, 0x1000),
          bar_w(0x30, 0x2000), bar_w(0x1c, 1, 2), bar_w(0x14, 15, 1)]
    # one descriptor (64 bytes at 0x8000, device-writable) made available, then notified
    s += [ram(0, 0x8000), ram(8, 64), ram(12, 2), ram(0x1000, 0x10000), ram(0x1004, 0)]
    s += [bar_w(0x3000, 0, 2), bar_r(0x1000, 1), op(6, 0, 0, 1), op(7, 0)]
    return b"".join(s)


def cf8():
    s = [op(2, 0, 0x80000000 | 1 << 11, 0), op(2, 0, 0x80000000 | 1 << 11 | 4, 1, 2),
         op(2, 2, 0x80000000 | 1 << 11 | 0x34, 0, 1), op(2, 0, 0x80010000, 0)]
    return b"".join(s)


def moved():
    s = [cfg_w(4, 0x2, 2), cfg_w(0x10, 0xe1010000), bar_r(0x12, 2), cfg_w(0x10, 0xd0000000),
         cfg_w(0x8a, 0xc000, 2), op(6, 0, 0, 1), op(7, 0), cfg_w(0x8a, 0x8000, 2)]
    return b"".join(s)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in (("probe", probe()), ("cf8", cf8()), ("moved", moved())):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

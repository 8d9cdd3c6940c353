#!/usr/bin/env python3
"""make-vfio-pci-seeds.py OUTDIR — write seed inputs for fuzz_vfio_pci (format: see
fuzz_vfio_pci.c): an edu-like device (1234:11e8, a 1 MiB memory BAR, 64-bit MSI) as Linux and a
userspace driver use it (enumeration, BAR sizing, MSI programmed and enabled, register accesses
through the BAR), and a device with MSI-X in a second BAR whose table the guest writes."""
import os
import struct
import sys

W = {1: 0x00, 2: 0x10, 4: 0x20, 8: 0x30}
SLOT = 1  # the function's slot on the fuzzer's bus


def op(kind, off, val=0, extra=0, width=4):
    return struct.pack("<BHIB", kind | W[width], off, val & 0xffffffff, extra)


def cfg_w(reg, val, width=4):
    return op(0, reg, val, 0, width)


def cfg_r(reg, width=4):
    return op(1, reg, 0, 0, width)


def bar_w(bar, off, val, width=4):
    return op(2, off, val, bar, width)


def bar_r(bar, off, width=4):
    return op(3, off, 0, bar, width)


def config(msix=False):
    c = bytearray(256)
    struct.pack_into("<HH", c, 0, 0x1234, 0x11e8)
    c[8], c[11] = 0x10, 0xff
    struct.pack_into("<H", c, 6, 0x10)  # capability list
    c[0x34] = 0x40
    c[0x40:0x44] = bytes([0x05, 0x50 if msix else 0, 0x80, 0])  # 64-bit MSI
    if msix:
        c[0x50:0x54] = bytes([0x11, 0, 7, 0])  # 8 vectors
        struct.pack_into("<II", c, 0x54, 0x2000 | 2, 0x3000 | 2)
    c[0x3d] = 1
    return bytes(c)


def probe():
    ops = [cfg_r(0), cfg_r(8), cfg_r(0x0e, 1), cfg_r(0x34, 1)]
    ops += [cfg_w(0x10, 0xffffffff), cfg_r(0x10), cfg_w(0x10, 0xe0000000), cfg_w(4, 6, 2)]
    ops += [cfg_r(0x40), cfg_w(0x44, 0xfee00000), cfg_w(0x48, 0), cfg_w(0x4c, 0x41, 2),
            cfg_w(0x42, 0x81, 2), cfg_r(0x42, 2)]
    return ops


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    sizes = bytes([0x80 | 20, 0, 0, 0, 0, 0])  # BAR0 1 MiB, mappable
    seeds = {
        "edu-probe": config() + sizes + b"\x00" + b"".join(probe() + [
            bar_r(0, 0), bar_w(0, 4, 0x12345678), bar_r(0, 4), bar_w(0, 0x60, 1),
            cfg_w(0x42, 0x80, 2)]),
        "msix": config(True) + bytes([0x80 | 20, 0, 14, 0, 0, 0]) + b"\x08" + b"".join(
            probe() + [cfg_w(0x18, 0xffffffff), cfg_w(0x18, 0xe8000000), cfg_w(0x52, 0x8000, 2),
                       bar_w(2, 0x2000, 0xfee00000), bar_w(2, 0x2008, 0x42),
                       bar_w(2, 0x200c, 0), bar_r(2, 0x3000, 8), cfg_w(0x52, 0xc000, 2),
                       cfg_w(0x52, 0, 2)]),
    }
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

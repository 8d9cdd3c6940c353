#!/usr/bin/env python3
"""make-virtq-seeds.py OUTDIR — write seed inputs for fuzz_virtq (format: see fuzz_virtq.c)."""
import os
import struct
import sys

MAIN = 0x10000


def desc(addr, length, flags, nxt):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def seed(size, feats, chains, ops, indirect_tables=()):
    """chains: list of head indices; descriptors given as {index: bytes}."""
    hdr = bytes([size.bit_length() - 1, feats | 4]) + bytes(6) + struct.pack("<H", size)
    hdr += bytes([0, (len(ops) + 1) // 2])
    ops = ops + ([bytes(6)] if len(ops) % 2 else [])  # even count, padded with a pop
    mem = bytearray(0x9100)
    table, heads = chains
    for i, d in table.items():
        mem[16 * i:16 * i + 16] = d
    avail = 16 * size
    struct.pack_into("<HH", mem, avail, 0, len(heads))
    for k, h in enumerate(heads):
        struct.pack_into("<H", mem, avail + 4 + 2 * k, h)
    for off, d in indirect_tables:
        mem[off:off + len(d)] = d
    return hdr + b"".join(ops) + bytes(mem)


F_NEXT, F_WRITE, F_IND = 1, 2, 4
DRAIN, IRQ, ENABLE = bytes([7, 0, 0, 0, 0, 0]), bytes([3] + [0] * 5), bytes([4] + [0] * 5)
simple = ({0: desc(MAIN + 0x8000, 64, F_NEXT, 1), 1: desc(MAIN + 0x8100, 64, F_WRITE, 0),
           2: desc(MAIN + 0x9000, 32, F_IND, 0)}, [0, 2])
ind = [(0x9000, desc(MAIN + 0x8200, 16, F_NEXT, 1) + desc(MAIN + 0x8300, 16, F_WRITE, 0))]
nested = [(0x9000, desc(MAIN + 0x9100, 16, F_IND, 0))]
long_chain = ({i: desc(MAIN + 0x8000 + i, 1, F_NEXT if i < 299 else 0, i + 1) for i in range(300)},
              [0])
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
seeds = {
    "simple-event-idx": seed(16, 3, simple, [DRAIN, IRQ, ENABLE], ind),
    "simple-no-features": seed(16, 0, simple, [bytes(6), bytes([2] + [0] * 5), IRQ], ind),
    "size-256": seed(256, 3, simple, [DRAIN, ENABLE, DRAIN], ind),
    "nested-indirect": seed(16, 3, simple, [DRAIN], nested),
    "chain-300-in-512": seed(512, 1, long_chain, [DRAIN]),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

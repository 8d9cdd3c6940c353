#!/usr/bin/env python3
"""make-net-seeds.py OUTDIR — write seed inputs for fuzz_net (format: see fuzz_net.c)."""
import os
import struct
import sys

RX_DESC, TX_DESC, AVAIL, USED = 0x0000, 0x3000, 0x1000, 0x2000
F_NEXT, F_WRITE, F_IND = 1, 2, 4
MRG, EVENT_IDX, INDIRECT, HOOKS, RX_LIMIT, TX_LIMIT, OFFLOADS = 1, 2, 4, 8, 16, 32, 64


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def op(code, a=0, b=0, c=0, d=0, e=0):
    return bytes([code, a, b, c, d, e])


def notify_rx():
    return op(0)


def notify_tx():
    return op(1)


def send(length):
    return op(2, length & 0xff, (length >> 8) & 0xff, (length >> 16) & 1)


PUMP, DRAIN_PEER, SAVE_LOAD, DRAIN = op(3), op(4), op(8), op(9)


class Image:
    def __init__(self):
        self.mem = bytearray(0xa000)

    def put(self, off, data):
        if off + len(data) > len(self.mem):
            self.mem.extend(bytes(off + len(data) - len(self.mem)))
        self.mem[off:off + len(data)] = data

    def ring(self, base, descs, heads):
        for i, d in enumerate(descs):
            self.put(base + 16 * i, d)
        self.put(base + AVAIL, struct.pack("<HH", 0, len(heads)))
        for k, h in enumerate(heads):
            self.put(base + AVAIL + 4 + 2 * k, struct.pack("<H", h))


def frame(length, first=0):
    data = bytearray((i * 7) & 0xff for i in range(length))
    data[:12] = bytes(12)
    if length > 12:
        data[12] = first
    return bytes(data)


def seed(feat, rx_log, tx_log, ops, img):
    return bytes([feat, rx_log, tx_log, len(ops)]) + b"".join(ops) + bytes(img.mem)


def tx_simple():
    img = Image()
    img.ring(TX_DESC, [desc(0x8000, 100)], [0])
    img.put(0x8000, frame(100))
    return seed(EVENT_IDX, 4, 4, [notify_tx(), DRAIN_PEER], img)


def rx_mergeable():
    img = Image()
    img.ring(RX_DESC, [desc(0x6000 + 0x800 * i, 0x800, F_WRITE) for i in range(8)],
             list(range(8)))
    ops = [notify_rx(), send(5000), PUMP, send(100), PUMP, SAVE_LOAD, send(60), PUMP,
           send(65562), PUMP]
    return seed(MRG | EVENT_IDX, 4, 4, ops, img)


def rx_one_buffer():
    img = Image()
    img.ring(RX_DESC, [desc(0x6000, 1600, F_WRITE), desc(0x7000, 8, F_WRITE),
                       desc(0x7100, 16, 0, 0)], [0, 1, 2])
    return seed(0, 4, 4, [send(200), notify_rx(), PUMP, send(2000), PUMP], img)


def tx_indirect_hooks():
    img = Image()
    img.ring(TX_DESC, [desc(0x7000, 48, F_IND)], [0])
    img.put(0x7000, desc(0x8000, 12, F_NEXT, 1) + desc(0x8100, 50, F_NEXT, 2) +
            desc(0x8200, 38, 0, 0))
    img.put(0x8100, bytes([1]) + bytes(49))  # odd first byte: the hook consumes it
    img.ring(RX_DESC, [desc(0x6000, 0x800, F_WRITE), desc(0x6800, 0x800, F_WRITE)], [0, 1])
    ops = [notify_rx(), notify_tx(), PUMP, op(10, 0x40), DRAIN_PEER]
    return seed(INDIRECT | HOOKS | EVENT_IDX, 4, 4, ops, img)


def backpressure_limits():
    img = Image()
    img.ring(TX_DESC, [desc(0x6000 + 0x400 * i, 0x3f0) for i in range(8)], list(range(8)))
    img.ring(RX_DESC, [desc(0x9000, 0x800, F_WRITE)], [0])
    ops = [notify_tx(), PUMP, notify_rx(), send(300), send(300), PUMP, DRAIN, SAVE_LOAD,
           DRAIN_PEER, PUMP, op(11, 1), notify_tx(), op(6, 1), op(7), notify_tx(), DRAIN_PEER]
    return seed(RX_LIMIT | TX_LIMIT | MRG, 3, 3, ops, img)


def offloads():
    img = Image()
    img.ring(TX_DESC, [desc(0x8000, 64)], [0])
    img.ring(RX_DESC, [desc(0x6000, 0x800, F_WRITE)], [0])
    return seed(OFFLOADS | MRG, 2, 2, [notify_tx(), send(90), PUMP, DRAIN_PEER], img)


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, fn in [("tx-simple", tx_simple), ("rx-mergeable", rx_mergeable),
                 ("rx-one-buffer", rx_one_buffer), ("tx-indirect-hooks", tx_indirect_hooks),
                 ("backpressure-limits", backpressure_limits), ("offloads", offloads)]:
    with open(os.path.join(out, name), "wb") as f:
        f.write(fn())

#!/usr/bin/env python3
"""make-vhost-user-seeds.py — seeds for fuzz_vhost_user: a backend's side of whole conversations
(the replies kiln expects, in order), each chunk framed as the target reads its input:
[u8 ctl][u16 len][bytes], ctl bit 0 attaching an eventfd.

    make-vhost-user-seeds.py OUT_DIR
"""
import os
import struct
import sys

GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM = 1, 15, 17
SET_FEATURES, SET_MEM_TABLE, GET_VRING_BASE = 2, 5, 11
SET_PROTOCOL_FEATURES, SET_VRING_ENABLE, RESET_DEVICE = 16, 18, 34
REPLY = 0x5  # version 1 | reply
PF, V1 = 1 << 30, 1 << 32
MQ, ACK, RESET = 1 << 0, 1 << 3, 1 << 13


def chunk(data, fd=False):
    return struct.pack("<BH", 1 if fd else 0, len(data)) + data


def reply(req, payload, flags=REPLY):
    return chunk(struct.pack("<III", req, flags, len(payload)) + payload)


def u64(req, v):
    return reply(req, struct.pack("<Q", v))


def ack(req, v=0):
    return u64(req, v)


def ring_acks(q):
    return b"".join(ack(r) for r in (8, 10, 9, 13, 12, 18))


def full(protocol):
    s = u64(GET_FEATURES, V1 | PF) + u64(GET_PROTOCOL_FEATURES, protocol)
    if protocol & MQ:
        s += u64(GET_QUEUE_NUM, 2)
    if protocol & ACK:
        s += ack(SET_FEATURES) + ack(SET_MEM_TABLE) + ring_acks(0) + ring_acks(1)
        s += ack(SET_VRING_ENABLE)
    s += reply(GET_VRING_BASE, struct.pack("<II", 1, 0))
    if protocol & ACK:
        s += ack(SET_VRING_ENABLE)
    s += reply(GET_VRING_BASE, struct.pack("<II", 0, 5))
    if protocol & RESET:
        s += ack(RESET_DEVICE) if protocol & ACK else b""
    return s


SEEDS = {
    "ack-mq-reset": full(ACK | MQ | RESET),
    "ack-only": full(ACK),
    "no-protocol": u64(GET_FEATURES, V1) + reply(GET_VRING_BASE, struct.pack("<II", 1, 0)),
    "refusal": u64(GET_FEATURES, V1 | PF) + u64(GET_PROTOCOL_FEATURES, ACK) + ack(SET_FEATURES, 1),
    "fd-in-reply": chunk(struct.pack("<III", GET_FEATURES, REPLY, 8) + struct.pack("<Q", V1), True),
    "wrong-size": reply(GET_FEATURES, b"\0" * 4),
    "split-header": chunk(struct.pack("<III", GET_FEATURES, REPLY, 8)[:5])
    + chunk(struct.pack("<III", GET_FEATURES, REPLY, 8)[5:] + struct.pack("<Q", V1)),
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

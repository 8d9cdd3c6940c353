"""migstream.py — kiln's migration stream as the tests write and read it
(docs/migration-protocol.md): CRC-32C, frames, and the frames of a recorded stream."""
import struct


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as the stream's frames carry it."""
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82f63b78 if crc & 1 else 0)
    return crc ^ 0xffffffff


def frame(ftype, payload):
    """One frame: u32 type, u32 length, u32 CRC-32C of both and the payload, the payload."""
    h = struct.pack("<II", ftype, len(payload))
    return h + struct.pack("<I", crc32c(h + payload)) + payload


def frames(data):
    """(type, offset, length) of each whole frame after the 16-byte header."""
    out, off = [], 16
    while off + 12 <= len(data):
        t, n = struct.unpack_from("<II", data, off)
        if off + 12 + n > len(data):
            break
        out.append((t, off, n))
        off += 12 + n
    return out

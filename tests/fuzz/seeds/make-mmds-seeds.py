#!/usr/bin/env python3
"""make-mmds-seeds.py [OUTDIR] — write seed inputs for fuzz_mmds (the format is in fuzz_mmds.c):
guest conversations with MMDS (ARP, a GET over TCP, a V2 token then a GET with it, a response in
small segments, timeouts, malformed frames)."""
import base64
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "mmds")
os.makedirs(out, exist_ok=True)

MMDS_MAC = bytes([0x06, 0x01, 0x23, 0x45, 0x67, 0x01])
GUEST_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])
MMDS_IP = bytes([169, 254, 169, 254])
GUEST_IP = bytes([169, 254, 0, 2])
FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16


def frame(data, fix=True, partial=False):
    """An op-0 record: the harness fixes the checksums when fix is set."""
    return bytes([0x80 * fix | 0x40 * partial]) + struct.pack("<H", len(data)) + data


def tcp_frame(flags, seq=1000, ack=0, wnd=64240, mss=1460, payload=b"", sport=40000,
              ihl=5, frag=0):
    opts = struct.pack(">BBH", 2, 4, mss) if mss else b""
    tcp = struct.pack(">HHIIBBHHH", sport, 80, seq, ack, (20 + len(opts)) // 4 << 4, flags, wnd,
                      0, 0) + opts + payload
    ipopts = b"\x01" * (4 * (ihl - 5))
    ip = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(tcp), 0, frag, 64, 6, 0,
                     GUEST_IP, MMDS_IP) + ipopts
    return MMDS_MAC + GUEST_MAC + b"\x08\x00" + ip + tcp


def arp_request(target=MMDS_IP, op=1):
    arp = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, GUEST_MAC, GUEST_IP, bytes(6),
                      target)
    return b"\xff" * 6 + GUEST_MAC + b"\x08\x06" + arp


def drain(size_index=61):
    """An op-2 record: 60 + 24 * size_index bytes of buffer (61: a full frame)."""
    return bytes([2 | size_index << 2])


def clock(steps):
    """An op-1 record: steps * 97 ms (63: 200 s)."""
    return bytes([1 | steps << 2])


def answer(flags, payload=b"", wnd=64240):
    """An op-3 record: the guest answers MMDS's last segment."""
    return bytes([3, flags]) + struct.pack("<HH", wnd, len(payload)) + payload


def token(nth_random_byte):
    """The token fuzz_mmds's counter source makes from its bytes nth.. (1-based)."""
    raw = bytes((k * 0x9E3779B97F4A7C15 % 2**64) >> 56
                for k in range(nth_random_byte, nth_random_byte + 36))
    return base64.b64encode(raw).decode()


def seed(name, cfg, records):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([cfg]) + b"".join(records))


def handshake(mss=1460, wnd=64240):
    return [frame(tcp_frame(SYN, mss=mss, wnd=wnd)), drain(), answer(ACK, wnd=wnd)]


GET = b"GET /latest/meta-data/ami-id HTTP/1.1\r\nHost: 169.254.169.254\r\nAccept: */*\r\n\r\n"
CLOSE = [answer(ACK | FIN), drain(), answer(ACK), drain()]

seed("arp", 0, [frame(arp_request(), fix=False), drain(),
                frame(arp_request(op=2), fix=False), drain()])
seed("get-v1", 0, handshake() + [answer(ACK | PSH, GET), drain(), answer(ACK), drain()] + CLOSE)
seed("get-json-split", 0, handshake() + [
    answer(ACK | PSH, b"GET /latest/ HTTP/1.0\r\nAccept: app"), drain(),
    answer(ACK | PSH, b"lication/json\r\n\r\n"), drain(), answer(ACK), drain()] + CLOSE)
put = b"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n"
get_tok = ("GET /latest/meta-data/ HTTP/1.1\r\nX-metadata-token: %s\r\n\r\n" % token(5)).encode()
seed("token-v2", 1, handshake() + [answer(ACK | PSH, put), drain(), answer(ACK, get_tok), drain(),
                                   answer(ACK), drain()] + CLOSE)
seed("imds-compat", 3, handshake() + [
    answer(ACK | PSH, b"GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"), drain(),
    answer(ACK), drain()])
seed("big-small-mss", 0, handshake(mss=100, wnd=300) + [
    answer(ACK | PSH, b"GET /big HTTP/1.1\r\n\r\n", wnd=300), drain()] +
    [answer(ACK, wnd=300), drain()] * 8 + [answer(ACK, wnd=0), drain(), clock(4), drain(),
                                           answer(ACK, wnd=500), drain()])
seed("retransmit", 0, handshake() + [answer(ACK | PSH, GET), drain()] +
     [clock(40), drain()] * 18 + [clock(63), drain()])
seed("bad-frames", 0, [
    frame(tcp_frame(SYN, ihl=6)), frame(tcp_frame(SYN, frag=0x2000)),
    frame(tcp_frame(SYN)[:40]), frame(tcp_frame(SYN), fix=False),
    frame(tcp_frame(SYN), fix=False, partial=True), frame(tcp_frame(ACK, ack=5, sport=1)),
    frame(tcp_frame(SYN, mss=50, sport=2)), drain()])
seed("pipelined-keepalive", 0, handshake() + [
    answer(ACK | PSH, GET + b"PATCH / HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n\r\n"), drain(),
    answer(ACK), drain(), answer(ACK), drain(), answer(ACK), drain()])

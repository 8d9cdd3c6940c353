#!/usr/bin/env python3
"""make-migrate-seeds.py — seeds for fuzz_migrate: real migration streams, made small.

usage: make-migrate-seeds.py KILN COUNT.elf OUTDIR

Boots the count guest with 2 MiB of RAM (and again with 2 vCPUs and a virtio-rng and balloon),
migrates it to a recording receiver on 127.0.0.1 that keeps the stream up to COMPLETE, and
writes seeds in fuzz_migrate's input format (the stream itself): each MEMORY frame cut to its
first page run of one page, so a seed is the CONFIG and STATE a real kiln sends with little
RAM. Variants: the stream without STATE, STATE before MEMORY, and MEMORY alone.
Regenerate when the CONFIG or STATE layout changes; the fuzzer's corpus then follows.
"""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
import kilntest  # noqa: E402  (tests/lib)
import migstream  # noqa: E402  (tests/lib)
from migstream import frame  # noqa: E402  (tests/lib)


def frames(data):
    """(type, payload) of each whole frame after the 16-byte header."""
    return [(t, data[off + 12:off + 12 + n]) for t, off, n in migstream.frames(data)]


def record(kiln, guest, tmp, extra):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    got = []

    def rx():
        c, _ = ls.accept()
        data = b""
        while not any(t == 4 for t, _ in frames(data)):
            chunk = c.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        got.append(data)
        c.close()

    th = threading.Thread(target=rx, daemon=True)
    th.start()
    sock = os.path.join(tmp, "src.sock")
    p = subprocess.Popen([kiln, "run", "--kernel", guest, "--memory", "2M", *extra,
                          "--api-sock", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        kilntest.call(sock, "PUT", "/migrate", {"destination": f"127.0.0.1:{ls.getsockname()[1]}"})
        th.join(30)
    finally:
        p.kill()
        p.wait()
        if os.path.exists(sock):
            os.unlink(sock)
    return frames(got[0]) if got else []


def small(fr):
    """Each MEMORY frame cut to the first page of its first run."""
    out = []
    for t, pl in fr:
        if t == 2 and len(pl) >= 16 + 4096:
            gpa = struct.unpack_from("<Q", pl, 0)[0]
            pl = struct.pack("<QII", gpa, 1, 0) + pl[16:16 + 4096]
        out.append((t, pl))
    return out


def write(outdir, name, fr):
    data = b"".join(frame(t, pl) for t, pl in fr)
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def main():
    kiln, guest, outdir = sys.argv[1:4]
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for tag, extra in (("min", []), ("rng-balloon", ["--cpus", "2", "--rng",
                                                         "--balloon", "amount_mib=0"])):
            fr = small(record(kiln, guest, tmp, extra))
            if not fr:
                sys.exit(f"make-migrate-seeds: no stream recorded for {tag}")
            mem = [x for x in fr if x[0] == 2][:2]
            cfg = [x for x in fr if x[0] == 1]
            st = [x for x in fr if x[0] == 3]
            write(outdir, f"{tag}-stream", cfg + mem + st + [(4, b"")])
            write(outdir, f"{tag}-no-state", cfg + mem)
            write(outdir, f"{tag}-state-first", cfg + st + mem)
        write(outdir, "memory-only", mem)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""test-fifo-paths.py KILN GUEST_ELF — every path a user gives kiln, named as a FIFO nobody
writes to or reads from: kiln must refuse it at once with one line naming the path, never block
in open() (it once hung there with its event loop, the API and SIGTERM stuck behind it).

- kiln run: --kernel, --initrd, --disk (read-only and read-write), --serial file:, and
  kiln --config-file (Firecracker style);
- kiln restore: the snapshot and the memory file;
- over the API of a running, paused VM: PUT /snapshot/create with the snapshot or the memory
  file a FIFO (400, and the API still answers and the VM still resumes).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402

KILN, GUEST = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="kiln-fifo-")
FIFO = os.path.join(TMP, "fifo")
CHECKS = kilntest.Checks("fifo-paths")
check = CHECKS.check


def refused(what, argv):
    """kiln with argv ends within 10 s, non-zero, its last stderr line naming the FIFO."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
    except subprocess.TimeoutExpired:
        check(False, f"{what}: kiln still runs after 10 s (blocked on the FIFO?)")
        return
    err = p.stderr.strip().splitlines()
    check(p.returncode != 0 and err and FIFO in err[-1] and "not a regular file" in err[-1],
          f"{what}: refused in {time.monotonic() - t0:.1f} s, status {p.returncode}: "
          f"{err[-1] if err else ''!r}")


def call(sock, method, path, body=None):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    raw = b""
    while chunk := s.recv(65536):
        raw += chunk
    s.close()
    head, _, text = raw.decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), text


def over_api():
    sock = os.path.join(TMP, "api.sock")
    p = subprocess.Popen([KILN, "run", "--kernel", GUEST, "--memory", "64M", "--api-sock", sock,
                          "--serial", "none", "--cmdline", "print_every=100000000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        st, _ = call(sock, "PATCH", "/vm", {"state": "Paused"})
        check(st == 204, f"API: paused ({st})")
        other = os.path.join(TMP, "x.mem")
        for what, body in (("the snapshot", {"snapshot_path": FIFO, "mem_file_path": other}),
                           ("the memory file", {"snapshot_path": other + ".snap",
                                                "mem_file_path": FIFO})):
            t0 = time.monotonic()
            try:
                st, text = call(sock, "PUT", "/snapshot/create", body)
            except OSError as e:
                st, text = None, str(e)
            check(st == 400 and "not a regular file" in text and time.monotonic() - t0 < 5,
                  f"API: PUT /snapshot/create with {what} a FIFO: {st} {text[:160]}")
        st, _ = call(sock, "PATCH", "/vm", {"state": "Resumed"})
        check(st == 204, f"API: the VM resumes afterwards ({st})")
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    check(p.returncode == 0, f"API: kiln exits 0 on SIGTERM ({p.returncode})")


def main():
    os.mkfifo(FIFO)
    img = os.path.join(TMP, "disk.img")
    with open(img, "wb") as f:
        f.truncate(1 << 20)
    cfg = os.path.join(TMP, "vm.json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump({"boot-source": {"kernel_image_path": FIFO},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}, f)
    run = [KILN, "run", "--memory", "64M", "--serial", "none"]
    refused("--kernel FIFO", run + ["--kernel", FIFO])
    refused("--initrd FIFO", run + ["--kernel", GUEST, "--initrd", FIFO])
    refused("--disk FIFO,ro", run + ["--kernel", GUEST, "--disk", FIFO + ",ro"])
    refused("--disk FIFO", run + ["--kernel", GUEST, "--disk", FIFO])
    refused("--serial file:FIFO", [KILN, "run", "--memory", "64M", "--kernel", GUEST,
                                   "--serial", "file:" + FIFO])
    refused("--config-file FIFO", [KILN, "--config-file", FIFO, "--no-api"])
    refused("a config file naming a FIFO kernel", [KILN, "--config-file", cfg, "--no-api"])
    refused("restore FIFO", [KILN, "restore", FIFO, "--mem-file", img])
    over_api()
    subprocess.run(["rm", "-rf", TMP], check=False)
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

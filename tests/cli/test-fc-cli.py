#!/usr/bin/env python3
"""test-fc-cli.py KILN — Firecracker's process command line, as `kiln` and as a `firecracker`
symlink to it: good flags take effect (the id in GET /, a log file with levels, a metrics file,
the body limit), bad ones get one line on stderr naming the flag and the documented status
(kiln 2; firecracker 153, or 152 for --level)."""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

KILN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="kiln-fccli-")
FC = os.path.join(TMP, "firecracker")
os.symlink(KILN, FC)
failures = []
passed = 0


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(what)
        print("FAIL:", what)


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def request(sock, method, path, body=None):
    c = UnixConn(sock)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, json.loads(raw) if raw else None


CHILDREN = []


def raw_request(sock, line, body, pause=0.0, declared=None):
    """Headers, then (after pause seconds) the body, as a slow client would: (status, text)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    size = len(body) if declared is None else declared
    s.sendall(line + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              + b"Content-Length: " + str(size).encode() + b"\r\n\r\n")
    time.sleep(pause)
    try:
        if body:
            s.sendall(body)
        s.shutdown(socket.SHUT_WR) if declared is None else None
        data = b""
        while not data.endswith(b"}") and (chunk := s.recv(4096)):
            data += chunk
    except OSError as e:
        return None, f"connection error: {e}"
    finally:
        s.close()
    head, _, text = data.decode(errors="replace").partition("\r\n\r\n")
    parts = head.split(" ", 2)
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None), text


def start(prog, *args):
    p = subprocess.Popen([prog, *args], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    CHILDREN.append(p)
    return p


def wait_socket(p, path):
    for _ in range(100):
        if os.path.exists(path):
            return True
        if p.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return p.returncode, err.decode(errors="replace")


def lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def api_process(prog, tag):
    """--api-sock with every good flag: id, logger, metrics, body limit, accepted no-ops."""
    sock, log, met = (os.path.join(TMP, f"{tag}.{x}") for x in ("sock", "log", "metrics"))
    p = start(prog, "--api-sock", sock, "--id", "vm-1", "--log-path", log, "--level", "debug",
              "--show-level", "--show-log-origin", "--metrics-path", met,
              "--http-api-max-payload-size", "300", "--mmds-size-limit", "100",
              "--no-seccomp", "--start-time-us", "1", "--start-time-cpu-us", "2",
              "--parent-cpu-time-us", "3", "--boot-timer")
    if not wait_socket(p, sock):
        check(False, f"{tag}: the API socket did not appear: {stop(p)}")
        return
    status, body = request(sock, "GET", "/")
    check(status == 200 and body["id"] == "vm-1", f"{tag}: GET / id: {status} {body}")
    status, _ = request(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})
    check(status == 204, f"{tag}: FlushMetrics: {status}")
    m = lines(met)
    check(len(m) == 1 and "utc_timestamp_ms" in json.loads(m[0]),
          f"{tag}: --metrics-path: one line after FlushMetrics, got {m}")
    small = {"vcpu_count": 1, "mem_size_mib": 64}
    status, _ = request(sock, "PUT", "/machine-config", small)
    check(status == 204, f"{tag}: a body under the limit: {status}")
    big = json.dumps(small).encode() + b" " * 300
    status, body = request(sock, "PUT", "/machine-config", big)
    check(status == 400 and "larger than the limit of 300" in body["fault_message"],
          f"{tag}: a body over --http-api-max-payload-size: {status} {body}")
    status, text = raw_request(sock, b"PUT /machine-config", b"x" * 70000, pause=0.3)
    check(status == 400 and "size 70000 is larger than the limit of 300" in text,
          f"{tag}: an over-limit body sent after a pause is read, then answered: {status} {text}")
    status, text = raw_request(sock, b"PUT /machine-config", b"", declared=1 << 40)
    check(status == 400 and f"size {1 << 40} is larger" in text,
          f"{tag}: a declared body far over the limit is answered at once: {status} {text}")
    rc, err = stop(p)
    check(rc == 0, f"{tag}: SIGTERM: status {rc}, stderr {err}")
    log_lines = lines(log)
    check(any(re.search(r"\[Debug\] \S+\.c:\d+: api: PUT /actions -> 204", x)
              for x in log_lines),
          f"{tag}: --log-path with --level debug --show-level --show-log-origin: {log_lines}")
    check(len(lines(met)) == 1, f"{tag}: no VM ran, so no line at exit: {lines(met)}")
    check(not os.path.exists(sock), f"{tag}: the socket was left behind")


def level_filters(prog, tag):
    """--level error: the debug and info lines of the same requests are not written."""
    sock, log = os.path.join(TMP, f"{tag}.lsock"), os.path.join(TMP, f"{tag}.elog")
    p = start(prog, "--api-sock", sock, "--log-path", log, "--level", "ERROR")
    if not wait_socket(p, sock):
        check(False, f"{tag}: --level: no socket: {stop(p)}")
        return
    request(sock, "GET", "/")
    stop(p)
    check(os.path.exists(log) and lines(log) == [],
          f"{tag}: --level ERROR still wrote: {lines(log)}")


def no_api(prog, tag):
    """--config-file --no-api: the document boots (the demo guest resets: status 0); the log and
    metrics flags work without an API."""
    cfg, log, met = (os.path.join(TMP, f"{tag}.{x}") for x in ("json", "nlog", "nmetrics"))
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump({"machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}, f)
    r = subprocess.run([prog, "--config-file", cfg, "--no-api", "--log-path", log, "--level",
                        "Info", "--metrics-path", met, "--id", "nvm"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    check(r.returncode == 0, f"{tag}: --no-api: status {r.returncode}, {r.stderr!r}")
    m = lines(met)
    check(len(m) == 1 and "vcpu" in json.loads(m[0]), f"{tag}: --no-api metrics at exit: {m}")


GOOD_JSON, BAD_JSON, FIFO = (os.path.join(TMP, x) for x in ("meta.json", "bad.json", "fifo"))
METADATA = {"latest": {"meta-data": {"instance-id": "i-kiln", "tags": ["a", "b"]}}}


def metadata_files():
    with open(GOOD_JSON, "w", encoding="utf-8") as f:
        json.dump(METADATA, f)
    with open(BAD_JSON, "w", encoding="utf-8") as f:
        f.write('{"latest": ')
    os.mkfifo(FIFO)


def metadata(prog, tag):
    """--metadata fills the MMDS store; --mmds-size-limit bounds later PUTs (413 over it)."""
    sock = os.path.join(TMP, f"{tag}.msock")
    size = len(json.dumps(METADATA, separators=(",", ":")))
    p = start(prog, "--api-sock", sock, "--metadata", GOOD_JSON, "--mmds-size-limit",
              str(size + 8))  # room for ,"k":"v" exactly
    if not wait_socket(p, sock):
        check(False, f"{tag}: --metadata: no socket: {stop(p)}")
        return
    status, body = request(sock, "GET", "/mmds")
    check(status == 200 and body == METADATA, f"{tag}: --metadata: GET /mmds: {status} {body}")
    status, body = request(sock, "PATCH", "/mmds", {"k": "v"})
    check(status == 204, f"{tag}: a patch within --mmds-size-limit: {status} {body}")
    status, body = request(sock, "PATCH", "/mmds", {"k": "vv"})
    check(status == 413 and "doesn't fit" in body["fault_message"],
          f"{tag}: a patch over --mmds-size-limit: {status} {body}")
    status, body = request(sock, "GET", "/mmds")
    check(status == 200 and body == {**METADATA, "k": "v"},
          f"{tag}: the refused patch changed nothing: {body}")
    rc, err = stop(p)
    check(rc == 0, f"{tag}: --metadata: SIGTERM: status {rc}, stderr {err}")


def refused(prog, tag, want, part, *args):
    r = subprocess.run([prog, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    err = r.stderr.decode(errors="replace")
    check(r.returncode == want and err.count("\n") == 1 and part in err,
          f"{tag} {' '.join(args)}: status {r.returncode} (want {want}), stderr {err!r} "
          f"(want one line with {part!r})")


def bad_values(prog, tag, usage):
    sock = os.path.join(TMP, "never.sock")
    level = 152 if usage == 153 else 2
    cases = [
        (usage, "option '--api-sock' needs a value", "--api-sock"),
        (usage, "option '--id' needs a value", "--api-sock", sock, "--id", "--level"),
        (usage, "--id: 'a_b': invalid character", "--api-sock", sock, "--id", "a_b"),
        (usage, "--id: '': length 0", "--api-sock", sock, "--id", ""),
        (usage, "length 65", "--api-sock", sock, "--id", "a" * 65),
        (level, "--level: 'loud'", "--api-sock", sock, "--level", "loud"),
        (usage, "--http-api-max-payload-size: '12k'", "--api-sock", sock,
         "--http-api-max-payload-size", "12k"),
        (usage, "--mmds-size-limit: '-1'", "--api-sock", sock, "--mmds-size-limit", "-1"),
        (usage, "--start-time-us: 'x'", "--api-sock", sock, "--start-time-us", "x"),
        (usage, "--no-api needs --config-file", "--no-api"),
        (usage, "given more than once", "--api-sock", sock, "--api-sock", sock),
        (usage, "unknown option '--frob'", "--api-sock", sock, "--frob"),
        (usage, "unexpected argument 'extra'", "--api-sock", sock, "extra"),
        (2, "--metadata: cannot open", "--api-sock", sock, "--metadata",
         os.path.join(TMP, "missing.json")),
        (2, "is not valid JSON: line 1", "--api-sock", sock, "--metadata", BAD_JSON),
        (2, "is not a regular file", "--api-sock", sock, "--metadata", FIFO),
        (2, "over the MMDS limit of 10", "--api-sock", sock, "--metadata", GOOD_JSON,
         "--mmds-size-limit", "10"),
        (usage, "--seccomp-filter: cannot open", "--api-sock", sock, "--seccomp-filter",
         os.path.join(TMP, "missing.bpf")),
        (usage, "too large for a seccomp filter file", "--api-sock", sock,
         "--seccomp-filter", KILN),
        (usage, "cannot be used together", "--api-sock", sock, "--seccomp-filter", KILN,
         "--no-seccomp"),
        (usage, "--module: kiln does not filter", "--api-sock", sock, "--module", "api"),
        (usage, "--enable-pci: kiln has no PCI", "--api-sock", sock, "--enable-pci"),
        (usage, "--log-path: logger: cannot open", "--api-sock", sock, "--log-path",
         os.path.join(TMP, "nodir", "log")),
        (usage, "--metrics-path: metrics: cannot open", "--api-sock", sock, "--metrics-path",
         os.path.join(TMP, "nodir", "m")),
    ]
    for want, part, *args in cases:
        refused(prog, tag, want, part, *args)
    check(not os.path.exists(sock), f"{tag}: a refused command line left a socket")


def version_help():
    r = subprocess.run([FC, "--version"], capture_output=True, timeout=10)
    first = r.stdout.decode().splitlines()[0] if r.stdout else ""
    check(r.returncode == 0 and re.fullmatch(r"Firecracker v\d+\.\d+\.\d+", first),
          f"firecracker --version: first line {first!r}")
    r = subprocess.run([KILN, "--api-sock", "x", "--version"], capture_output=True, timeout=10)
    check(r.returncode == 0 and r.stdout.decode().startswith("kiln "),
          f"kiln --api-sock x --version: {r.stdout!r}")
    for prog in (KILN, FC):
        r = subprocess.run([prog, "--id", "bad id", "--help"], capture_output=True, timeout=10)
        check(r.returncode == 0 and b"--http-api-max-payload-size" in r.stdout,
              f"{prog} --help: {r.returncode} {r.stdout[:80]!r}")


def default_socket():
    """As firecracker without --api-sock: /run/firecracker.socket (only when it is free)."""
    path = "/run/firecracker.socket"
    if os.path.exists(path) or not os.access("/run", os.W_OK):
        print("note: /run/firecracker.socket in use or /run not writable: default not tested")
        return
    p = start(FC, "--id", "default-sock")
    if not wait_socket(p, path):
        check(False, f"firecracker: no {path}: {stop(p)}")
        return
    status, body = request(path, "GET", "/")
    check(status == 200 and body["id"] == "default-sock", f"default socket: {status} {body}")
    stop(p)


def main():
    metadata_files()
    version_help()
    for prog, tag, usage in ((KILN, "kiln", 2), (FC, "firecracker", 153)):
        api_process(prog, tag)
        level_filters(prog, tag)
        no_api(prog, tag)
        metadata(prog, tag)
        bad_values(prog, tag, usage)
    default_socket()
    print(f"fc-cli: {passed} passed, {len(failures)} failed")
    subprocess.run(["rm", "-rf", TMP], check=False)
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:  # a test that dies must not leave a kiln holding the runner's pipes
        for child in CHILDREN:
            if child.poll() is None:
                child.kill()

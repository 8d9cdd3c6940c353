#!/usr/bin/env python3
"""test-api.py — kiln's API end to end: `kiln --api-sock`, configured and booted over the socket.

usage: test-api.py --kiln KILN --guest GUEST.elf [--swagger firecracker.yaml]

(--swagger defaults to shared/reference/firecracker-api/firecracker.yaml found above this file)

Starts kiln with an API socket and checks: the socket (mode 0600, no second server on it, no
replacing a file that is not a socket), GET / and /version, the state rules, malformed requests
(bad JSON, wrong types, unknown fields, unknown paths, wrong methods, oversized bodies, actions in
the wrong state, unimplemented resources, malformed Content-Length values, a client that
disconnects mid-request, an idle client) each answered while the VM keeps running, logger and
metrics files, booting the guest and seeing its serial output, pause/resume through GET /, GET
/vm/config, `kiln ctl`, and curl. Every request body sent and every response received is checked
against the Swagger description (status declared for the operation; body against its definition:
required fields, types, enums). Without JSON converters in the build (boot-source answers that it
has none) the built-in demo guest is booted instead of GUEST and pause/resume is not checked.
Exit: 0 pass, 1 fail; no usable /dev/kvm: 77 skip, or 1 under CI=true (tests/lib/skiprule.py).
"""
import argparse
import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import skiprule  # noqa: E402  (tests/lib)

try:
    import yaml
except ImportError:  # python3-yaml (scripts/install-deps)
    yaml = None

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL " + what, flush=True)
    return cond


# ---- Swagger checks ----

class Swagger:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.defs = self.doc["definitions"]

    def resolve(self, s):
        while "$ref" in s:
            s = self.defs[s["$ref"].split("/")[-1]]
        return s

    def validate(self, schema, v, where, partial=False):
        """Check v against schema; partial (a PATCH body) lets required fields be absent,
        since Firecracker's PATCH operations reuse the full definitions for partial updates."""
        s = self.resolve(schema)
        t = s.get("type", "object" if "properties" in s else None)
        types = {"object": dict, "string": str, "boolean": bool, "array": list}
        if t == "integer":
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif t == "number":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif t in types:
            ok = isinstance(v, types[t])
        else:
            ok = True
        if not check(ok, f"{where}: {v!r} is not of type {t}"):
            return
        if "enum" in s:
            check(v in s["enum"], f"{where}: {v!r} not in {s['enum']}")
        if t == "object":
            for r in ([] if partial else s.get("required", [])):
                check(r in v, f"{where}: required field '{r}' missing")
            for k, sub in s.get("properties", {}).items():
                # Firecracker answers null for an optional field that is unset (serde's
                # Option), which Swagger 2.0 cannot say: null is valid where not required.
                if k in v and not (v[k] is None and k not in s.get("required", [])):
                    self.validate(sub, v[k], f"{where}.{k}")
        if t == "array" and "items" in s:
            for i, item in enumerate(v):
                self.validate(s["items"], item, f"{where}[{i}]")

    def operation(self, method, path):
        for p, ops in self.doc["paths"].items():
            pat = p.split("/")
            parts = path.split("/")
            if len(pat) == len(parts) and all(a == b or a.startswith("{")
                                              for a, b in zip(pat, parts)):
                return ops.get(method.lower())
        return None

    def check_request(self, method, path, body):
        op = self.operation(method, path)
        if not op or body is None:
            return
        for prm in op.get("parameters", []):
            if prm.get("in") == "body":
                self.validate(prm["schema"], body, f"request {method} {path}",
                              partial=method == "PATCH")

    def check_response(self, method, path, status, body):
        op = self.operation(method, path)
        where = f"response {method} {path} {status}"
        if op is None:  # not a Firecracker operation (or a wrong method): a 400 Error
            check(status == 400, f"{where}: expected 400")
            self.validate({"$ref": "#/definitions/Error"}, body, where)
            return
        resp = op["responses"].get(status, op["responses"].get("default"))
        if not check(resp is not None, f"{where}: status not declared"):
            return
        if status == 204:
            check(body is None, f"{where}: 204 with a body")
        elif "schema" in resp:
            self.validate(resp["schema"], body, where)
        if status >= 400:
            check(isinstance(body, dict) and isinstance(body.get("fault_message"), str),
                  f"{where}: no fault_message")


class NoSwagger:
    def check_request(self, *a):
        pass

    def check_response(self, *a):
        pass


# ---- HTTP over the Unix socket ----

class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


class Api:
    def __init__(self, sock, swagger):
        self.sock, self.sw = sock, swagger
        self.conn = UnixConn(sock)  # one keep-alive connection, as SDKs use

    def raw(self, method, path, data=None, headers=None):
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers or {})
                r = self.conn.getresponse()
                self.last_deprecation = r.getheader("Deprecation")
                return r.status, r.getheader("Content-Type"), r.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def req(self, method, path, body=None, validate_request=True):
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if validate_request and not isinstance(body, (bytes, str)):
                self.sw.check_request(method, path, body)
        hdr = {"Content-Type": "application/json"} if data is not None else {}
        status, ctype, raw = self.raw(method, path, data, hdr)
        parsed = None
        if raw:
            check(ctype == "application/json", f"{method} {path}: Content-Type {ctype}")
            parsed = json.loads(raw)
        self.sw.check_response(method, path, status, parsed)
        return status, parsed

    def expect(self, method, path, body, status, fault_part=None, **kw):
        got, b = self.req(method, path, body, **kw)
        check(got == status, f"{method} {path} {str(body)[:60]}: status {got}, want {status} ({b})")
        if fault_part is not None:
            msg = (b or {}).get("fault_message", "")
            check(fault_part in msg, f"{method} {path}: fault '{msg}' lacks '{fault_part}'")
        return b

    def state(self):
        return self.req("GET", "/")[1]["state"]


class Kiln:
    def __init__(self, kiln, sock, extra=()):
        self.proc = subprocess.Popen([kiln, "--api-sock", sock, "-v", *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.out, self.err = bytearray(), bytearray()
        for stream, buf in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self.pump, args=(stream, buf), daemon=True).start()

    @staticmethod
    def pump(stream, buf):
        for chunk in iter(lambda: stream.read1(4096), b""):
            buf.extend(chunk)

    def wait_for(self, text, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if text.encode() in self.out:
                return True
            time.sleep(0.05)
        return False


def wait_socket(path, proc, timeout=10):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


# ---- the checks ----

def socket_rules(kiln, sock, tmp):
    mode = stat.S_IMODE(os.stat(sock).st_mode)
    check(mode == 0o600, f"socket mode {oct(mode)}, want 0600")
    r = subprocess.run([kiln, "--api-sock", sock], capture_output=True, timeout=10)
    check(r.returncode != 0 and b"in use by a running process" in r.stderr,
          f"second kiln on a live socket: {r.returncode} {r.stderr!r}")
    plain = os.path.join(tmp, "plain")
    open(plain, "w").close()
    r = subprocess.run([kiln, "--api-sock", plain], capture_output=True, timeout=10)
    check(r.returncode != 0 and b"exists and is not a socket" in r.stderr and os.path.exists(plain),
          f"kiln over a regular file: {r.returncode} {r.stderr!r}")


def malformed(api, state_after):
    """Requests that must fail without disturbing anything."""
    api.expect("GET", "/nope", None, 400, "Invalid request method and/or path")
    # %00 must not cut a path short (it once made GET /%00 a GET / and PUT /drives/a%00xyz a
    # drive "a")
    api.expect("GET", "/%00", None, 400, "Invalid request method and/or path")
    api.expect("PUT", "/drives/a%00xyz", {"drive_id": "a", "path_on_host": "/dev/null",
                                          "is_root_device": False, "is_read_only": True},
               400, "a%00xyz", validate_request=False)
    api.expect("DELETE", "/", None, 400, "allowed: GET")
    api.expect("POST", "/actions", {"action_type": "FlushMetrics"}, 400, "allowed: PUT")
    api.expect("GET", "/balloon", None, 400, "No balloon device found.")
    api.expect("PUT", "/vsock", {}, 400,
               "vsock: field 'guest_cid' is missing" if state_after == "Not started"
               else "not supported after starting the microVM",
               validate_request=False)
    api.expect("PUT", "/snapshot/create", {}, 400, "snapshot/create",
               validate_request=False)
    if state_after == "Paused":  # the same file twice: a 400, and no file is left behind
        same = os.path.join(os.path.dirname(api.sock), "same.snap")
        api.expect("PUT", "/snapshot/create", {"snapshot_path": same, "mem_file_path":
                                               os.path.join(os.path.dirname(same), ".",
                                                            "same.snap")},
                   400, "name the same file")
        check(not os.path.exists(same), "PUT /snapshot/create to one file twice leaves none")
        # a directory as the memory file is the client's mistake: 400, not 500
        api.expect("PUT", "/snapshot/create", {"snapshot_path": same,
                                               "mem_file_path": os.path.dirname(same)},
                   400, "not a regular file")
    api.expect("PUT", "/actions", '{"action_type": ', 400, "invalid JSON")
    api.expect("PUT", "/actions", "[]", 400, "must be a JSON object")
    api.expect("PUT", "/actions", {"action_type": 3}, 400,
               "actions: field 'action_type': expected a string", validate_request=False)
    api.expect("PUT", "/actions", {"action_type": None}, 400,
               "actions: field 'action_type' is missing (required)", validate_request=False)
    api.expect("PUT", "/actions", {"action_type": "FlushMetrics", "x": 1}, 400,
               "unknown field 'x'", validate_request=False)
    api.expect("PUT", "/actions", {"action_type": "Reboot"}, 400, "is not one of",
               validate_request=False)
    api.expect("PATCH", "/vm", {"state": "Stopped"}, 400, validate_request=False)
    api.expect("PUT", "/logger", {"level": "Loud"}, 400, "logger: field 'level'",
               validate_request=False)
    oversized(api.sock, chunked=False)
    oversized(api.sock, chunked=True)
    for value, status in ((b"-5", 400), (b"5x", 400), (b"", 400), (b"0x10", 400),
                          (b"99999999999999999999999", 413)):
        bad_content_length(api.sock, value, status)
    check(api.state() == state_after, f"state after malformed requests: {api.state()}")


def oversized(sock, chunked):
    """A 70 KB body: answered 400 (early, when Content-Length announces it; the server may close
    before reading it all, so a failed send is fine)."""
    body = b"{" + b" " * 70000 + b"}"
    if chunked:
        head = b"PUT /actions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    else:
        head = b"PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(sock)
    try:
        s.sendall(head + body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    resp = b""
    try:
        while b"}" not in resp.partition(b"\r\n\r\n")[2]:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    check(resp.startswith(b"HTTP/1.1 400") and b"the limit of 65536 allowed" in resp,
          f"oversized body (chunked={chunked}): {resp[:200]!r}")


def bad_content_length(sock, value, status):
    """A Content-Length that is not a decimal number, or too large for 64 bits: libmicrohttpd
    answers it before kiln sees the request. Checked: the status comes first and the server closes
    the connection at once. libmicrohttpd 0.9.75 writes its response head twice (docs/api.md,
    "Malformed Content-Length"), so what follows the first head is not checked."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sock)
    s.sendall(b"PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\n{}" % value)
    resp, closed = b"", False
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                closed = True
                break
            resp += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    check(resp.startswith(b"HTTP/1.1 %d " % status) and closed,
          f"Content-Length {value!r}: {status} and closed: closed={closed} {resp[:60]!r}")


def disconnecting_clients(sock, api, state_after):
    # Headers promise a body that never comes; the client goes away.
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"act")
    s.close()
    # Half a request line, then gone.
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"GET /vers")
    s.close()
    # Not HTTP at all.
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    s.sendall(b"\x00\xff\r\n\r\n")
    time.sleep(0.1)
    s.close()
    # An idle client stays connected while others are served.
    idle = socket.socket(socket.AF_UNIX)
    idle.connect(sock)
    check(api.state() == state_after, "served while a client idles")
    idle.close()


def ctl_and_curl(kiln, sock, want_state):
    r = subprocess.run([kiln, "ctl", "--sock", sock, "info"], capture_output=True, timeout=10)
    check(r.returncode == 0 and f"state: {want_state}".encode() in r.stdout,
          f"kiln ctl info: {r.returncode} {r.stdout!r} {r.stderr!r}")
    r = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/version"],
                       capture_output=True, timeout=10)
    check(r.returncode == 0 and b"firecracker_version" in r.stdout, f"curl: {r!r}")


def ctl_fails(kiln, sock):
    r = subprocess.run([kiln, "ctl", "--sock", sock, "ctrl-alt-del"], capture_output=True,
                       timeout=10)
    check(r.returncode == 1 and b"before starting the microVM" in r.stderr,
          f"kiln ctl ctrl-alt-del before boot: {r.returncode} {r.stderr!r}")
    r = subprocess.run([kiln, "ctl", "--sock", sock + ".none", "info"], capture_output=True,
                       timeout=10)
    check(r.returncode == 1, f"kiln ctl on a missing socket: {r.returncode}")


def configure(api, guest, tmp):
    """Returns True if the JSON converters exist (the guest is configured)."""
    st, b = api.req("PUT", "/boot-source", {"kernel_image_path": guest, "boot_args": "x=1"})
    if st == 400 and "no JSON configuration converters" in (b or {}).get("fault_message", ""):
        print("note: no JSON converters in this build: booting the demo guest")
        return False
    check(st == 204, f"PUT /boot-source: {st} {b}")
    api.expect("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64}, 204)
    api.expect("PATCH", "/machine-config", {"mem_size_mib": 96}, 204)
    check(api.last_deprecation is None, "no Deprecation header without a deprecated field")
    api.expect("PATCH", "/machine-config", {"cpu_template": "None"}, 204)
    check(api.last_deprecation == "true", "Deprecation: true for cpu_template (as Firecracker)")
    mc = api.req("GET", "/machine-config")[1]
    check(mc.get("vcpu_count") == 2 and mc.get("mem_size_mib") == 96, f"machine-config {mc}")
    api.expect("PUT", "/machine-config", {"vcpu_count": "two", "mem_size_mib": 64}, 400,
               "vcpu_count", validate_request=False)
    api.expect("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64, "bogus": 1},
               400, "bogus", validate_request=False)
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    api.expect("PUT", "/drives/scratch", {"drive_id": "scratch", "path_on_host": disk,
                                          "is_root_device": False, "is_read_only": True}, 204)
    api.expect("PUT", "/drives/other", {"drive_id": "scratch", "path_on_host": disk,
                                        "is_root_device": False}, 400)
    api.expect("PUT", "/entropy", {}, 204)
    start_failure_reason(api, guest, tmp)
    return True


def device_counters(line):
    """Every device of the board reports its counters by name, a virtio device both its own and
    the transport's common ones, under one device name."""
    want = {"com1": ["tx_bytes", "rx_bytes", "overruns", "tx_errors", "rx_dropped"],
            "com2": ["tx_bytes"], "i8042": ["ignored"],
            "block0": ["reads", "writes", "flushes", "bytes_read", "no_status", "notifies",
                       "interrupts", "needs_reset", "bad_access"],
            "entropy": ["requests", "bytes", "malformed", "starved", "notifies", "interrupts"]}
    for dev, names in want.items():
        got = line.get(dev, {})
        check(all(isinstance(got.get(n), int) for n in names), f"metrics {dev}: {got}")


def drive_swap(api, tmp):
    """PATCH /drives/{id} after boot points the running disk at another file (Firecracker's
    disk update, Kata's hot-plug): a file that does not open is a 400 and nothing changes; a
    good one is served from then on and GET /vm/config names it."""
    api.expect("PATCH", "/drives/scratch", {"drive_id": "scratch", "path_on_host": "/no/x"},
               400, "No such file or directory")
    other = os.path.join(tmp, "disk2.img")
    with open(other, "wb") as f:
        f.truncate(2 << 20)
    api.expect("PATCH", "/drives/scratch", {"drive_id": "scratch", "path_on_host": other}, 204)
    drives = api.req("GET", "/vm/config")[1].get("drives", [])
    check(drives and drives[0].get("path_on_host") == other, f"vm/config after the swap {drives}")


def start_failure_reason(api, guest, tmp):
    """A kernel path that does not open is refused at PUT time, as Firecracker does; a start that
    fails deep in the board (a kernel file that opens but is empty) answers 400 with that reason,
    carried up by the request's error context, and the configuration can be fixed."""
    missing = os.path.join(tmp, "no-such-kernel")
    api.expect("PUT", "/boot-source", {"kernel_image_path": missing}, 400,
               "The kernel file cannot be opened: No such file or directory (os error 2)")
    empty = os.path.join(tmp, "empty-kernel")
    open(empty, "wb").close()
    api.expect("PUT", "/boot-source", {"kernel_image_path": empty, "boot_args": "x=1"}, 204)
    api.expect("PUT", "/actions", {"action_type": "InstanceStart"}, 400,
               f"kernel {empty}: not a non-empty regular file")
    check(api.state() == "Not started", "still Not started after a failed start")
    api.expect("PUT", "/boot-source", {"kernel_image_path": guest, "boot_args": "x=1"}, 204)


def metrics_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def find_swagger(given):
    """The given path, else the copy in tests/api/data, else
    shared/reference/firecracker-api/firecracker.yaml beside any directory above this script."""
    if given and os.path.exists(given):
        return given
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "firecracker.yaml")
    if os.path.exists(here):
        return here
    d = os.path.dirname(os.path.abspath(__file__))
    while d != "/":
        cand = os.path.join(d, "shared", "reference", "firecracker-api", "firecracker.yaml")
        if os.path.exists(cand):
            return cand
        d = os.path.dirname(d)
    return None


def run(a):
    path = find_swagger(a.swagger)
    sw = Swagger(path) if yaml and path else NoSwagger()
    if isinstance(sw, NoSwagger):
        print("note: Swagger description or python3-yaml missing: schema checks off")
        check(os.environ.get("CI") != "true", "CI needs the Swagger checks")
    tmp = tempfile.mkdtemp(prefix="kiln-api-")
    sock = os.path.join(tmp, "api.sock")
    k = Kiln(a.kiln, sock)
    try:
        if not check(wait_socket(sock, k.proc), "the socket appears"):
            return
        api = Api(sock, sw)
        info = api.req("GET", "/")[1]
        check(info["state"] == "Not started" and info["app_name"] == "kiln", f"GET / {info}")
        api.expect("GET", "/version", None, 200)
        api.expect("GET", "/machine-config", None, 200)
        socket_rules(a.kiln, sock, tmp)
        malformed(api, "Not started")
        api.expect("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, 400,
                   "not supported before starting the microVM")
        api.expect("PATCH", "/vm", {"state": "Paused"}, 400, "before starting")
        ctl_fails(a.kiln, sock)
        log, met = os.path.join(tmp, "kiln.log"), os.path.join(tmp, "metrics.json")
        api.expect("PUT", "/logger", {"log_path": log, "level": "Debug", "show_level": True}, 204)
        api.expect("PUT", "/metrics", {"metrics_path": met}, 204)
        api.expect("PUT", "/metrics", {"metrics_path": met}, 400, "Reinitialization of metrics not allowed")
        full = configure(api, a.guest, tmp)
        disconnecting_clients(sock, api, "Not started")
        api.expect("PUT", "/actions", {"action_type": "InstanceStart"}, 204)
        if not full:
            check(k.wait_for("Hello from the kiln demo guest"), "demo guest output")
            check(k.proc.wait(timeout=10) == 0, "kiln exits 0 after the demo guest")
            check(not os.path.exists(sock), "socket removed at exit")
            return
        check(k.wait_for("count: counting at 0x300000"), f"guest output: {bytes(k.out)!r}")
        check(api.state() == "Running", "Running after InstanceStart")
        api.expect("PUT", "/actions", {"action_type": "InstanceStart"}, 400,
                   "not supported after starting the microVM")
        api.expect("PUT", "/boot-source", {"kernel_image_path": a.guest}, 400, "after starting")
        drive_swap(api, tmp)
        malformed(api, "Running")
        disconnecting_clients(sock, api, "Running")
        api.expect("PATCH", "/vm", {"state": "Paused"}, 204)
        check(api.state() == "Paused", "Paused after PATCH /vm")
        ctl_and_curl(a.kiln, sock, "Paused")
        malformed(api, "Paused")
        api.expect("PATCH", "/vm", {"state": "Resumed"}, 204)
        check(api.state() == "Running", "Running after Resumed")
        r = subprocess.run([a.kiln, "ctl", "--sock", sock, "pause"], capture_output=True)
        check(r.returncode == 0 and api.state() == "Paused", "kiln ctl pause")
        r = subprocess.run([a.kiln, "ctl", "--sock", sock, "resume"], capture_output=True)
        check(r.returncode == 0 and api.state() == "Running", "kiln ctl resume")
        cfg = api.expect("GET", "/vm/config", None, 200)
        check(cfg.get("boot-source", {}).get("kernel_image_path") == a.guest,
              f"vm/config boot-source {cfg.get('boot-source')}")
        check(cfg.get("machine-config", {}).get("vcpu_count") == 2, "vm/config machine-config")
        check(len(cfg.get("drives", [])) == 1, "vm/config drives")
        check(cfg.get("metrics", 0) is None and cfg.get("logger", 0) is None,
              "vm/config: logger and metrics null, as in Firecracker")
        api.expect("PUT", "/actions", {"action_type": "FlushMetrics"}, 204)
        lines = metrics_lines(met)
        check(lines and "utc_timestamp_ms" in lines[-1] and len(lines[-1].get("vcpu", [])) == 2
              and "com1" in lines[-1], f"metrics line {lines[-1:]}")
        check(lines and lines[-1]["com1"]["tx_bytes"] > 0, "com1 tx_bytes counted")
        device_counters(lines[-1] if lines else {})
        with open(log) as f:
            check("[Debug] api: PUT /actions -> 204" in f.read(), "logger file has debug lines")
        api.expect("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, 204)
        check(api.state() == "Running", "still Running after SendCtrlAltDel (no keyboard driver)")
        k.proc.terminate()
        check(k.proc.wait(timeout=10) == 0, "kiln exits 0 on SIGTERM")
        check(not os.path.exists(sock), "socket removed at exit")
    finally:
        if k.proc.poll() is None:
            k.proc.kill()
            k.proc.wait()
        if FAILS:
            sys.stdout.write("kiln stdout:\n" + k.out.decode(errors="replace")[-2000:])
            sys.stdout.write("kiln stderr:\n" + k.err.decode(errors="replace")[-2000:])
        subprocess.run(["rm", "-rf", tmp])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kiln", required=True)
    p.add_argument("--guest", required=True)
    p.add_argument("--swagger")
    a = p.parse_args()
    if (status := skiprule.require_kvm()) is not None:
        return status
    run(a)
    print(f"{'FAIL' if FAILS else 'PASS'}: {len(FAILS)} failed checks")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())

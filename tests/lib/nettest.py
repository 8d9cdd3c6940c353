"""nettest.py — what the network tests and the network benchmark share, inside the nested rig's
L1: TAP devices with link-local addresses, and TCP servers on L1's side that time and hash a
transfer (an upload the guest sends, a download the guest fetches over HTTP)."""
import hashlib
import http.server
import os
import socket
import subprocess
import threading
import time

# How long a server waits for the guest's connection and its data.
TIMEOUT = 180
MIB = 1 << 20
BLOB = 4 * MIB  # the guest uploads this random file, over and over


def sh(*cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def make_tap(name, host_ip):
    """A TAP device in L1 with host_ip/24 on it, up (created fresh)."""
    subprocess.run(["ip", "link", "del", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    sh("ip", "tuntap", "add", "dev", name, "mode", "tap")
    sh("ip", "addr", "add", f"{host_ip}/24", "dev", name)
    sh("ip", "link", "set", name, "up")


def tap_counters(name):
    base = f"/sys/class/net/{name}/statistics/"
    with open(base + "rx_packets") as r, open(base + "tx_packets") as t:
        return int(r.read()), int(t.read())


def pattern(n):
    """n bytes of a non-repeating test pattern, in 1 MiB chunks: a random block rotated by the
    chunk's index (cheap to make, and a misplaced or reordered chunk changes the hash)."""
    block = os.urandom(MIB)
    for i in range(n // MIB):
        k = (i * 4099) % MIB
        yield block[k:] + block[:k]


class Upload(threading.Thread):
    """Accept one TCP connection on addr and read exactly `size` bytes: the hash and the time."""

    def __init__(self, addr, size):
        super().__init__(daemon=True)
        self.sock = socket.create_server(addr, reuse_port=True)
        self.sock.settimeout(TIMEOUT)
        self.size, self.digest, self.seconds, self.got = size, None, None, 0

    def run(self):
        conn, _ = self.sock.accept()
        # Stop listening at once: a listener left open (this thread stuck in recv after a
        # failed run) would share the port (SO_REUSEPORT) and take the next run's connection.
        self.sock.close()
        h, start = hashlib.md5(), time.monotonic()
        with conn:
            conn.settimeout(60)
            while self.got < self.size:
                chunk = conn.recv(min(1 << 18, self.size - self.got))
                if not chunk:
                    break
                h.update(chunk)
                self.got += len(chunk)
        self.seconds = time.monotonic() - start
        self.digest = h.hexdigest()


class Download(threading.Thread):
    """Serve `size` bytes of pattern() at http://addr/blob once: the hash of what was sent."""

    def __init__(self, addr, size):
        super().__init__(daemon=True)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                h, start = hashlib.md5(), time.monotonic()
                for chunk in pattern(size):
                    h.update(chunk)
                    self.wfile.write(chunk)
                outer.seconds = time.monotonic() - start
                outer.digest = h.hexdigest()

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(addr, Handler)
        self.digest, self.seconds = None, None

    def run(self):
        self.server.timeout = TIMEOUT
        self.server.handle_request()
        self.server.server_close()


# `sent ADDR:PORT` in a guest waits (up to 60 s) until its TCP connections to ADDR:PORT have
# delivered everything: nc exits once its data is in the socket's send buffer, and a guest that
# powered off then would lose the rest (seen: an 8 MiB upload cut after 1 MiB).
GUEST_SENT = r"""sent() {
	i=0
	while [ $i -lt 600 ] && netstat -tn 2>/dev/null |
		grep -q " $1 *\(ESTABLISHED\|FIN_WAIT1\|CLOSING\|LAST_ACK\)"; do
		sleep 0.1
		i=$((i + 1))
	done
}
"""


def guest_net_setup(dev, ip):
    """A guest script's start: dev up with ip/24, and the `sent` function (GUEST_SENT)."""
    return GUEST_SENT + f"ip link set {dev} up\nip addr add {ip}/24 dev {dev}\n"

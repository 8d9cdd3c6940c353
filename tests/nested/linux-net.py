#!/usr/bin/env python3
"""linux-net.py — the full-Linux suite's network batch, run inside the nested rig's L1
(scripts/nested): Linux guests on kiln's virtio-net, with TAP devices this script creates in L1
and link-local addresses (169.254.0.0/16) only, so no test traffic leaves L1.

    linux-net.py --kiln PATH [--only NAME[,NAME...]] [--mib N]

Scenarios:
- tcp: one interface (`--net tap=...,mac=...,mtu=...`). The guest reports its MAC and MTU,
  pings L1, sends N MiB to L1 over TCP (busybox nc) and fetches N MiB from L1 over HTTP
  (busybox wget); each side hashes what it sent and received and the hashes must match. The
  throughput of each direction is printed (L1 is emulated: these are not kiln's speeds).
- two-interfaces: two interfaces on two TAPs and two subnets; the guest pings L1 through each
  and each TAP's counters on L1 show the traffic went through it.
- rate-limit: an interface from a --config-file with a tx rate limiter (Firecracker's
  tx_rate_limiter bandwidth bucket, 256 KiB/s); the guest's 4 MiB upload must take the time the
  bucket allows, within 10 %; then PATCH /network-interfaces/eth0 after boot doubles the rate
  and a second upload takes the new bucket's time.
- snapshot-tcp: a guest streams numbered lines to L1 over one TCP connection; mid-stream it is
  paused, snapshotted (API), its kiln killed and `kiln restore` resumes it in a new process on
  the same TAP: the connection carries on and every line arrives once, in order.
- migrate-tcp: the same stream, live-migrated (`kiln migrate send`/`receive`) from a kiln in one
  network namespace to a kiln in another, each with a TAP of the same name, both bridged to L1
  (a veth into L1's bridge): the connection carries on and every line arrives once, in order.
- mmds-v1, mmds-v2: MMDS on eth0 from a --config-file's mmds-config, the store filled by
  --metadata: the guest reads it over HTTP (raw requests with nc, and busybox wget): leaves as
  text, objects as key lists, JSON with Accept, 404; V2's token flow (PUT /latest/api/token,
  X-metadata-token; no token, an unknown and an expired token are 401); none of it reaches the
  TAP.
"""
import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import nettest  # noqa: E402
from nettest import (Download, Upload, guest_net_setup, make_tap, sh,  # noqa: E402
                     tap_counters)
import linuxguest as lg  # noqa: E402

# A guest's whole part of a scenario (boot included) ends well within this (the longest, tcp's
# 256 MiB download, takes ~25 s at the rig's ~11 MiB/s); more means the emulated L2 is stuck, and
# the scenario fails and runs once more instead of eating the batch's time limit (a CI run lost
# the batch that way to a 600 s wait).
GUEST_TIMEOUT = 180
MIB = nettest.MIB
BLOB = nettest.BLOB


def dump_counters(sock, tag):
    """When a transfer failed: kiln's counters (FlushMetrics through its API), for the log."""
    try:
        c = kilntest.UnixHTTP(sock, 10)
        c.request("PUT", "/actions", body=json.dumps({"action_type": "FlushMetrics"}),
                  headers={"Content-Type": "application/json"})
        c.getresponse().read()
        c.close()
        with open(sock + ".metrics", encoding="utf-8") as f:
            last = f.read().splitlines()[-1]
        print(f"{tag}: kiln's counters: {last}", flush=True)
    except (OSError, ValueError, IndexError) as e:
        print(f"{tag}: no counters from kiln: {e}", flush=True)


def kiln_run(args, tmp, name, initrd, nets, extra=(), wrap=()):
    kernel = lg.kiln_kernel("bzimage")
    argv = [*wrap, args.kiln, "run", "-v", "--kernel", kernel, "--initrd", initrd, "--memory", "256M",
            "--cmdline", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init", *extra]
    for n in nets:
        argv += ["--net", n]
    return lg.Guest(name, argv, tmp)


def scenario_tcp(s, args, tmp):
    size, down_size = args.up_mib * MIB, args.mib * MIB
    make_tap("kn0", "169.254.100.1")
    up = Upload(("169.254.100.1", 5001), size)
    down = Download(("169.254.100.1", 5002), down_size)
    up.start()
    down.start()
    script = guest_net_setup("eth0", "169.254.100.2") + f"""
kt mac "$(cat /sys/class/net/eth0/address)"
kt mtu "$(cat /sys/class/net/eth0/mtu)"
if ping -c 3 -W 5 169.254.100.1 >/dev/null 2>&1; then kt ping ok; else kt ping fail; fi
kt down "$(wget -q -O - http://169.254.100.1:5002/blob | md5sum | cut -d' ' -f1)"
i=0
while [ $i -lt {size // BLOB} ]; do cat /blob; i=$((i + 1)); done | nc 169.254.100.1 5001
sent 169.254.100.1:5001
kt up sent
""" + lg.REPORT_KERNEL_ERRORS
    blob = os.path.join(tmp, "blob")
    with open(blob, "wb") as f:
        f.write(os.urandom(BLOB))
    with open(blob, "rb") as f:
        data = f.read()
    want_up = hashlib.md5()
    for _ in range(size // BLOB):
        want_up.update(data)
    initrd = lg.guest_tree(script, files={"blob": blob}).write(os.path.join(tmp, "tcp.cpio"))
    g = kiln_run(args, tmp, "tcp", initrd, ["tap=kn0,mac=06:00:a9:fe:64:02,mtu=1500"])
    status = g.wait_exit(GUEST_TIMEOUT)
    up.join(5)
    down.join(5)
    s.check(status == 0, "tcp: kiln exits 0 after the guest powers off",
            f"status {status}; {g.stderr()[-400:]}")
    s.equal(g.report("mac"), "06:00:a9:fe:64:02", "tcp: the guest's eth0 has the given MAC")
    s.equal(g.report("mtu"), "1500", "tcp: the guest's eth0 has the advertised MTU")
    s.equal(g.report("ping"), "ok", "tcp: the guest pings L1 over the TAP")
    s.check(up.got == size and up.digest == want_up.hexdigest(),
            f"tcp: {args.up_mib} MiB guest -> L1 over TCP arrive whole (md5 of what L1 got)",
            f"L1 got {up.got} bytes {up.digest}, the guest sent {want_up.hexdigest()}")
    s.check(down.digest is not None and g.report("down") == down.digest,
            f"tcp: {args.mib} MiB L1 -> guest over HTTP arrive whole (md5 equal)",
            f"L1 sent {down.digest}, the guest got {g.report('down')}")
    for what, mib, t in (("guest -> L1", args.up_mib, up.seconds),
                         ("L1 -> guest", args.mib, down.seconds)):
        if t:
            print(f"tcp: {what}: {mib} MiB in {t:.1f} s = {mib / t:.1f} MiB/s "
                  f"(inside the emulated L1)", flush=True)
    s.equal(lg.kernel_errors(g), [], "tcp: no kernel errors")
    print(f"tcp: kiln's stderr: {g.stderr()[-2000:]}", flush=True)


def scenario_two(s, args, tmp):
    make_tap("kn1", "169.254.101.1")
    make_tap("kn2", "169.254.102.1")
    before = [tap_counters("kn1"), tap_counters("kn2")]
    script = (guest_net_setup("eth0", "169.254.101.2") + guest_net_setup("eth1", "169.254.102.2")
              + """
for i in 1 2; do
	if ping -c 5 -W 5 169.254.10$i.1 >/dev/null 2>&1; then kt ping$i ok; else kt ping$i fail; fi
done
kt macs "$(cat /sys/class/net/eth0/address) $(cat /sys/class/net/eth1/address)"
""")
    initrd = lg.initrd(tmp, "two", script)
    g = kiln_run(args, tmp, "two", initrd, ["tap=kn1,id=a", "tap=kn2,id=b"])
    status = g.wait_exit(GUEST_TIMEOUT)
    after = [tap_counters("kn1"), tap_counters("kn2")]
    s.check(status == 0, "two-interfaces: kiln exits 0", f"status {status}; {g.stderr()[-400:]}")
    s.equal([g.report("ping1"), g.report("ping2")], ["ok", "ok"],
            "two-interfaces: the guest pings L1 through each interface")
    for i in range(2):
        s.check(after[i][0] - before[i][0] >= 5 and after[i][1] - before[i][1] >= 5,
                f"two-interfaces: kn{i + 1} carried its interface's pings",
                f"rx/tx packets {before[i]} -> {after[i]}")
    macs = (g.report("macs") or "").split()
    s.check(len(macs) == 2 and macs[0] != macs[1] and all(m[1] in "26ae" for m in macs),
            "two-interfaces: each interface has its own generated locally administered MAC",
            f"{macs}")


def upload_time(s, what, up, size, bucket, rate):
    """Check that upload `up` of `size` bytes took the time a tx bucket of `bucket` bytes
    refilled at `rate` bytes/s allows (it starts full), within 10 %."""
    s.equal(up.got, size, f"rate-limit: {what}: the whole upload arrives")
    want = (size - bucket) / rate
    if up.seconds:
        print(f"rate-limit: {what}: {size // MIB} MiB in {up.seconds:.2f} s, the bucket allows "
              f"{want:.2f} s", flush=True)
    s.check(up.seconds is not None and abs(up.seconds - want) <= 0.1 * want,
            f"rate-limit: {what}: the upload takes the time the tx bucket allows (within 10 %)",
            f"{up.seconds} s, want {want:.2f} s")


def gate(addr):
    """Listen on addr and accept (then close) one connection, in a thread: the guest waits
    until it can connect, i.e. until L1 opened the gate."""
    srv = socket.create_server(addr, reuse_port=True)
    srv.settimeout(GUEST_TIMEOUT)

    def run():
        try:
            srv.accept()[0].close()
        finally:
            srv.close()
    threading.Thread(target=run, daemon=True).start()


def scenario_rate(s, args, tmp):
    """tx limited to 256 KiB/s (a bucket of 128 KiB refilled every 500 ms), a 4 MiB upload: the
    guest of the emulated L1 sends unlimited at 1.3-1.8 MiB/s, so the limiter sets the pace.
    Then PATCH /network-interfaces/eth0 (after boot) makes it 512 KiB/s (128 KiB every 250 ms)
    and a second 4 MiB upload takes the new bucket's time."""
    size, bucket, rate = 4 * MIB, 128 << 10, 256 << 10
    host = "169.254.103.1"
    make_tap("kn3", host)
    up = Upload((host, 5003), size)
    up.start()
    script = guest_net_setup("eth0", "169.254.103.2") + f"""
dd if=/dev/zero bs=65536 count={size // 65536} 2>/dev/null | nc {host} 5003
sent {host}:5003
kt sent
i=0
until echo | nc {host} 5004 >/dev/null 2>&1 || [ $i -ge 600 ]; do sleep 0.2; i=$((i + 1)); done
dd if=/dev/zero bs=65536 count={size // 65536} 2>/dev/null | nc {host} 5005
sent {host}:5005
kt sent2
"""
    initrd = lg.initrd(tmp, "rate", script)
    doc = {"boot-source": {"kernel_image_path": lg.kiln_kernel("bzimage"),
                           "initrd_path": initrd,
                           "boot_args": "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "kn3",
                                   "tx_rate_limiter": {"bandwidth": {
                                       "size": bucket, "refill_time": 500}}}]}
    cfg = os.path.join(tmp, "rate.json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    sock = os.path.join(tmp, "rate.sock")
    g = lg.Guest("rate", [args.kiln, "--config-file", cfg, "--api-sock", sock, "--metrics-path",
                          sock + ".metrics"], tmp)
    up.join(GUEST_TIMEOUT)
    if up.got != size:
        dump_counters(sock, "rate-limit")
    upload_time(s, "256 KiB/s from the config file", up, size, bucket, rate)
    st, body = kilntest.call(sock, "PATCH", "/network-interfaces/eth0",
                             {"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {
                                 "size": bucket, "refill_time": 250}}})
    s.equal(st, 204, f"rate-limit: PATCH /network-interfaces/eth0 after boot ({body})")
    up2 = Upload((host, 5005), size)
    up2.start()
    gate((host, 5004))
    up2.join(GUEST_TIMEOUT)
    status = g.wait_exit(60 if up2.got == size else 5)
    s.check(status == 0, "rate-limit: kiln exits 0", f"status {status}; {g.stderr()[-400:]}")
    upload_time(s, "512 KiB/s after the PATCH", up2, size, bucket, 2 * rate)


class Lines(threading.Thread):
    """Accept one TCP connection on addr and collect its lines "tick N" with arrival times."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.sock = socket.create_server(addr, reuse_port=True)
        self.sock.settimeout(GUEST_TIMEOUT)
        self.ticks, self.closed = [], False

    def run(self):
        conn, _ = self.sock.accept()
        self.sock.close()  # as nettest.Upload does
        buf = b""
        with conn:
            conn.settimeout(120)
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    break
                if not chunk:
                    self.closed = True
                    break
                *done, buf = (buf + chunk).split(b"\n")
                self.ticks += [(int(l.split()[1]), time.monotonic()) for l in done
                               if l.startswith(b"tick ")]


def stream_setup(tmp, name, count, net, port):
    """A Lines server on L1 at {net}.1:port and the initrd of a guest ({net}.2 on eth0) that
    streams `count` "tick N" lines to it over one TCP connection, one every 100 ms."""
    srv = Lines((f"{net}.1", port))
    srv.start()
    script = guest_net_setup("eth0", f"{net}.2") + f"""
i=0
while [ $i -lt {count} ]; do echo "tick $i"; i=$((i + 1)); sleep 0.1; done | nc {net}.1 {port}
sent {net}.1:{port}
kt streamed done
"""
    return srv, lg.initrd(tmp, name, script)


def stream_started(s, name, srv, g):
    """Wait (GUEST_TIMEOUT at most) until 20 ticks arrived from guest g; a check."""
    deadline = time.monotonic() + GUEST_TIMEOUT
    while len(srv.ticks) < 20 and time.monotonic() < deadline and g.proc.poll() is None:
        time.sleep(0.2)
    s.check(len(srv.ticks) >= 20, f"{name}: the guest streams over TCP",
            f"{len(srv.ticks)} ticks; {g.stderr()[-300:]}")


def scenario_snapshot(s, args, tmp):
    """A guest streams "tick N" lines to L1 over one TCP connection; mid-stream it is paused,
    snapshotted, its kiln killed and `kiln restore` resumes it in a new process on the same TAP:
    the connection carries on, every tick arrives once and in order."""
    name, count = "snapshot-tcp", 150
    make_tap("kn6", "169.254.106.1")
    srv, initrd = stream_setup(tmp, name, count, "169.254.106", 5006)
    sock = os.path.join(tmp, name + ".sock")
    g = kiln_run(args, tmp, name, initrd, ["tap=kn6"], ["--api-sock", sock])
    stream_started(s, name, srv, g)
    snap, mem = os.path.join(tmp, name + ".snap"), os.path.join(tmp, name + ".mem")
    lg.pause(s, sock, name)
    lg.snapshot(s, sock, name, snap, mem)
    before = len(srv.ticks)
    g.proc.kill()
    g.wait_exit(10)
    r = lg.Guest(name + "-restored", [args.kiln, "restore", snap, "--mem-file", mem], tmp)
    idx, _ = r.wait_for(r"^KT streamed ", GUEST_TIMEOUT)
    srv.join(30)
    r.proc.terminate()
    r.wait_exit(20)
    stream_carried_on(s, name, srv, before, count, idx is not None, r, "the restore")


def stream_carried_on(s, name, srv, before, count, finished, guest, event):
    """The checks of a TCP stream that crossed `event`: `before` ticks had arrived when the
    first kiln stopped; `guest` is the new kiln's Guest, `finished` whether it printed the end."""
    got = [n for n, _ in srv.ticks]
    s.check(finished, f"{name}: the guest finished its stream after {event}",
            f"{guest.text()[-300:]}; {guest.stderr()[-300:]}")
    s.check(len(got) > before, f"{name}: ticks kept coming after {event}",
            f"{before} before, {len(got)} in all")
    s.equal(got, list(range(count)),
            f"{name}: every tick arrived once and in order over the one connection")
    s.check(srv.closed, f"{name}: the connection ended with the stream (FIN), not a reset")


def ns_run(ns, *cmd):
    sh("ip", "netns", "exec", ns, *cmd)


def make_site(ns, tap, ip):
    """A network namespace standing for one host of a migration: in it a TAP `tap` and a veth
    in a bridge that has `ip`; the veth's peer is in L1's bridge knbr, so both sites and L1
    share one link-local Ethernet segment, as two hosts on one LAN do."""
    subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", ns + "-h", "type", "veth", "peer", "name", ns + "-g")
    sh("ip", "link", "set", ns + "-g", "netns", ns)
    sh("ip", "link", "set", ns + "-h", "master", "knbr", "up")
    ns_run(ns, "ip", "link", "set", "lo", "up")
    ns_run(ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
    ns_run(ns, "ip", "link", "add", "br0", "type", "bridge")
    for dev in (tap, ns + "-g"):
        ns_run(ns, "ip", "link", "set", dev, "master", "br0", "up")
    ns_run(ns, "ip", "addr", "add", f"{ip}/24", "dev", "br0")
    ns_run(ns, "ip", "link", "set", "br0", "up")


def scenario_migrate(s, args, tmp):
    """Live migration of a guest streaming "tick N" lines to L1 over one TCP connection, from a
    kiln in one network namespace to a kiln in another, each with its own TAP of the same name
    (the destination opens the TAP the stream names), both bridged to L1: the connection
    carries on and every tick arrives once, in order."""
    name, count, port = "migrate-tcp", 150, 5107
    subprocess.run(["ip", "link", "del", "knbr"], stderr=subprocess.DEVNULL)
    sh("ip", "link", "add", "knbr", "type", "bridge")
    sh("ip", "addr", "add", "169.254.107.1/24", "dev", "knbr")
    sh("ip", "link", "set", "knbr", "up")
    make_site("kma", "kn7", "169.254.107.10")
    make_site("kmb", "kn7", "169.254.107.20")
    srv, initrd = stream_setup(tmp, name, count, "169.254.107", 5007)
    sock = os.path.join(tmp, name + ".sock")
    dst = lg.Guest(name + "-dst", ["ip", "netns", "exec", "kmb", args.kiln, "migrate",
                                   "receive", "--listen", f"169.254.107.20:{port}"], tmp)
    g = kiln_run(args, tmp, name, initrd, ["tap=kn7"], ["--api-sock", sock],
                 wrap=["ip", "netns", "exec", "kma"])
    stream_started(s, name, srv, g)
    p = subprocess.run([args.kiln, "migrate", "send", "--sock", sock, "--to",
                        f"169.254.107.20:{port}"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=GUEST_TIMEOUT)
    print(p.stdout, flush=True)
    before = len(srv.ticks)
    s.equal(p.returncode, 0, f"{name}: kiln migrate send succeeds")
    s.equal(g.wait_exit(60), 0, f"{name}: the source exits 0 after the migration")
    idx, _ = dst.wait_for(r"^KT streamed ", GUEST_TIMEOUT)
    srv.join(30)
    dst.proc.terminate()
    dst.wait_exit(20)
    stream_carried_on(s, name, srv, before, count, idx is not None, dst, "the live migration")
    for ns in ("kma", "kmb"):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    subprocess.run(["ip", "link", "del", "knbr"], stderr=subprocess.DEVNULL)


METADATA = {"latest": {"meta-data": {"ami-id": "ami-kiln", "tags": {"env": "test"}}},
            "plain": "text"}

# The guest side of MMDS: raw HTTP with nc for the token PUT (busybox wget cannot PUT), wget for
# GETs. `ask` prints the status line's code; `body` the body. busybox nc half-closes the
# connection at the end of its input and reads on; MMDS answers, then closes (its FIN follows
# the response once the guest's FIN came, src/mmds/ns.c), and nc exits.
MMDS_SCRIPT = r"""
ip route add 169.254.169.254 dev eth0
ask() { nc 169.254.169.254 80 < /tmp/req > /tmp/resp; head -n1 /tmp/resp | cut -d' ' -f2; }
body() { sed '1,/^\r$/d' /tmp/resp; }
get() { printf "GET $1 HTTP/1.1\r\nHost: 169.254.169.254\r\n$2\r\n" > /tmp/req; ask; }
token() { printf "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-metadata-token-ttl-seconds: $1\r\n\r\n" > /tmp/req; ask; }
kt ami "$(get /latest/meta-data/ami-id '') $(body)"
kt list "$(get /latest/meta-data/ '') $(body | tr '\n' ,)"
kt json "$(get /latest/meta-data/tags 'Accept: application/json\r\n') $(body)"
kt wget "$(wget -q -O - http://169.254.169.254/plain)"
kt missing "$(get /nope '')"
kt token "$(token 60) $(body | wc -c)"
t=$(body)
kt with-token "$(get /latest/meta-data/ami-id "X-metadata-token: $t\r\n") $(body)"
kt bad-token "$(get /latest/meta-data/ami-id 'X-metadata-token: AAAA\r\n')"
token 1 >/dev/null
short=$(body)
sleep 2
kt expired "$(get /latest/meta-data/ami-id "X-metadata-token: $short\r\n")"
"""


def scenario_mmds(s, args, tmp, version):
    """MMDS version V1 or V2 on eth0, the data store filled by --metadata."""
    name = f"mmds-{version.lower()}"
    tap = "kn4" if version == "V1" else "kn5"
    make_tap(tap, "169.254.104.1")
    meta = os.path.join(tmp, "meta.json")
    with open(meta, "w", encoding="utf-8") as f:
        json.dump(METADATA, f)
    initrd = lg.initrd(tmp, name, guest_net_setup("eth0", "169.254.104.2") + MMDS_SCRIPT)
    doc = {"boot-source": {"kernel_image_path": lg.kiln_kernel("bzimage"), "initrd_path": initrd,
                           "boot_args": "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
           "network-interfaces": [{"iface_id": "eth0", "host_dev_name": tap}],
           "mmds-config": {"version": version, "network_interfaces": ["eth0"]}}
    cfg = os.path.join(tmp, name + ".json")
    with open(cfg, "w", encoding="utf-8") as f:
        json.dump(doc, f)
    g = lg.Guest(name, [args.kiln, "--config-file", cfg, "--metadata", meta], tmp)
    g.wait_for(r"^KT ami ", GUEST_TIMEOUT)  # the interface is up (its own chatter is done)
    before = tap_counters(tap)
    g.wait_for(r"^KT expired ", GUEST_TIMEOUT)
    after = tap_counters(tap)
    status = g.wait_exit(GUEST_TIMEOUT)
    s.check(status == 0, f"{name}: kiln exits 0", f"status {status}; {g.stderr()[-400:]}")
    v2 = version == "V2"
    ami = g.report("ami") or ""
    if v2:
        s.check(ami.startswith("401 No MMDS token provided."),
                f"{name}: GET /latest/meta-data/ami-id without a token is 401", ami)
    else:
        s.equal(ami, "200 ami-kiln", f"{name}: GET /latest/meta-data/ami-id answers the leaf")
    if not v2:
        s.equal(g.report("list"), "200 ami-id,tags/",
                f"{name}: an object lists its keys, objects with a trailing /")
        s.equal(g.report("json"), '200 {"env":"test"}',
                f"{name}: Accept: application/json answers JSON")
        s.equal(g.report("wget"), "text", f"{name}: busybox wget reads a leaf")
        s.equal(g.report("missing"), "404", f"{name}: a missing path is 404")
    s.check((g.report("token") or "").startswith("200 "),
            f"{name}: PUT /latest/api/token issues a token", f"{g.report('token')}")
    s.equal(g.report("with-token"), "200 ami-kiln", f"{name}: a GET with the token answers")
    # V2 refuses a bad token; V1 answers either way (Firecracker's rule)
    deny = "401" if v2 else "200"
    s.equal(g.report("bad-token"), deny, f"{name}: a GET with an unknown token is {deny}")
    s.equal(g.report("expired"), deny, f"{name}: a GET with an expired token is {deny}")
    # MMDS's frames never reach the TAP: between the first and the last request the guest sent
    # MMDS over 50 frames (10 connections); L1 got only the guest's own chatter (IGMP reports
    # after the link came up: a few).
    s.check(after[0] - before[0] < 10, f"{name}: the guest's MMDS traffic never reached the TAP",
            f"TAP rx packets {before[0]} -> {after[0]}")


SCENARIOS = {"tcp": scenario_tcp, "two-interfaces": scenario_two, "rate-limit": scenario_rate,
             "snapshot-tcp": scenario_snapshot, "migrate-tcp": scenario_migrate,
             "mmds-v1": lambda s, a, t: scenario_mmds(s, a, t, "V1"),
             "mmds-v2": lambda s, a, t: scenario_mmds(s, a, t, "V2")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--mib", type=int, default=256, help="MiB L1 -> guest in the tcp scenario")
    # Guests of the emulated L1 die under sustained fast uploads, with QEMU as their VMM as with
    # kiln (docs/testing.md): the upload stays short by default.
    ap.add_argument("--up-mib", type=int, default=8, help="MiB guest -> L1 (a multiple of 4)")
    args = ap.parse_args()
    s = lg.Suite("linux-net")
    tmp = tempfile.mkdtemp(prefix="kiln-linux-net-")
    only = [x for x in args.only.split(",") if x]
    for name, fn in SCENARIOS.items():
        if not only or name in only:
            s.scenario(name, lambda fn=fn: fn(s, args, tmp))
    s.finish()


if __name__ == "__main__":
    main()

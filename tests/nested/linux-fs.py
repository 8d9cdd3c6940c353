#!/usr/bin/env python3
"""linux-fs.py — the full-Linux suite's virtio-fs batch, run inside the nested rig's L1
(scripts/nested): a directory of L1 shared with a Linux guest through kiln's vhost-user frontend
and Debian's virtiofsd (/usr/lib/qemu/virtiofsd, package qemu-system-common).

    linux-fs.py --kiln PATH

dir: `--fs tag=share,dir=DIR` (kiln starts virtiofsd itself). The guest mounts the tag
(`mount -t virtiofs share /mnt`), reads a file L1 wrote (a random token), writes one L1 then
reads, lists the directory, unmounts and powers off; kiln exits 0 and the virtiofsd it started
is gone, its private socket directory removed.
dir-pci: dir with `--virtio-transport pci`: the backend signals each queue's own MSI-X vector.
socket: the same through `--fs tag=ext,socket=PATH` to a virtiofsd this script started; kiln
leaves that one alone (it ends by itself once its client left).
sigterm: a guest that mounted the share and then waits; kiln gets SIGTERM and exits, and its
virtiofsd is gone with it.
"""
import argparse
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

VIRTIOFSD = os.environ.get("KILN_VIRTIOFSD", "/usr/lib/qemu/virtiofsd")

SCENARIO = r"""
tag=$(sed 's/.*kiln.tag=\([^ ]*\).*/\1/' /proc/cmdline)
tok=$(sed 's/.*kiln.token=\([^ ]*\).*/\1/' /proc/cmdline)
if mount -t virtiofs "$tag" /mnt; then kt mount ok; else kt mount failed; fi
kt fstype "$(awk '$2 == "/mnt" {print $3}' /proc/mounts)"
kt read "$(cat /mnt/host.txt)"
echo "guest-$tok" > /mnt/guest.txt
dd if=/dev/urandom of=/mnt/big.bin bs=65536 count=32 2>/dev/null
kt big "$(sha256sum < /mnt/big.bin | cut -d' ' -f1)"
sync
kt ls $(ls /mnt)
kt irqs "$(grep -i virtio /proc/interrupts | tr -s ' ' | tr '\n' '|')"
{WAIT}
umount /mnt
kt umount $?
""" + lg.REPORT_KERNEL_ERRORS


def kiln_argv(args, initrd, fs, tag, token):
    kernel = lg.kiln_kernel("bzimage")
    return [args.kiln, "run", "-v", "--kernel", kernel, "--initrd", initrd, "--memory", "256M",
            "--fs", fs, "--cmdline",
            f"console=ttyS0 loglevel=4 panic=-1 rdinit=/init kiln.tag={tag} kiln.token={token}"]


def share(tmp, name, token):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "host.txt"), "w") as f:
        f.write(f"host-{token}\n")
    return d


def daemon_of(g):
    """The pid and socket of the virtiofsd kiln said it started (kiln -v)."""
    m = re.search(r"virtiofsd (\d+) serves \S+ on (\S+)", g.stderr())
    return (int(m.group(1)), m.group(2)) if m else (None, None)


def gone(pid, timeout=5):
    """Whether process pid has ended (and is not a zombie of someone) within timeout s."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[-1].startswith("Z"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def check_exchange(s, g, name, d, token):
    s.equal(g.report("mount"), "ok", f"{name}: the guest mounts the tag (mount -t virtiofs)")
    s.equal(g.report("fstype"), "virtiofs", f"{name}: /mnt is a virtiofs mount")
    s.equal(g.report("read"), f"host-{token}", f"{name}: the guest reads the file the host wrote")
    try:
        with open(os.path.join(d, "guest.txt")) as f:
            got = f.read()
    except OSError as e:
        got = repr(e)
    s.equal(got, f"guest-{token}\n", f"{name}: the host reads the file the guest wrote")
    try:
        with open(os.path.join(d, "big.bin"), "rb") as f:
            import hashlib
            big = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        big = repr(e)
    s.equal(g.report("big"), big, f"{name}: 2 MiB the guest wrote arrive intact on the host")
    s.equal(g.report("ls"), "big.bin guest.txt host.txt", f"{name}: the guest lists the share")
    s.equal(lg.kernel_errors(g), [], f"{name}: no kernel errors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    args = ap.parse_args()
    s = lg.Suite("linux-fs")
    if not os.access(VIRTIOFSD, os.X_OK):
        print(f"SKIP: {VIRTIOFSD} missing (apt-get install qemu-system-common)", flush=True)
        sys.exit(lg.SKIP)
    tmp = tempfile.mkdtemp(prefix="kiln-linux-fs-")

    def by_dir():
        token = secrets.token_hex(8)
        d = share(tmp, "dir-share", token)
        initrd = lg.initrd(tmp, "dir", SCENARIO.replace("{WAIT}", ""))
        g = lg.Guest("dir", kiln_argv(args, initrd, f"tag=share,dir={d}", "share", token), tmp)
        status = g.wait_exit(180)
        s.check(status == 0, "dir: kiln exits 0 after the guest powers off",
                f"status {status}; {g.stderr()[-600:]}")
        check_exchange(s, g, "dir", d, token)
        s.equal(g.report("umount"), "0", "dir: the guest unmounts the share")
        pid, sock = daemon_of(g)
        s.check(pid is not None, "dir: kiln started virtiofsd (kiln -v names it)", g.stderr()[-400:])
        if pid:
            s.check(gone(pid), "dir: the virtiofsd kiln started is gone after kiln exits")
            s.check(not os.path.exists(os.path.dirname(sock)),
                    "dir: its private socket directory is removed")

    def by_dir_pci():
        """dir over virtio-pci: the backend signals each queue's own MSI-X vector (its eventfd
        handed over as the ring's call fd), kicks reach it through ioeventfds in the BAR."""
        token = secrets.token_hex(8)
        d = share(tmp, "pci-share", token)
        initrd = lg.initrd(tmp, "dir-pci", SCENARIO.replace("{WAIT}", ""))
        argv = kiln_argv(args, initrd, f"tag=share,dir={d}", "share", token)
        g = lg.Guest("dir-pci", argv[:2] + ["--virtio-transport", "pci"] + argv[2:], tmp)
        status = g.wait_exit(180)
        s.check(status == 0, "dir-pci: kiln exits 0 after the guest powers off",
                f"status {status}; {g.stderr()[-600:]}")
        check_exchange(s, g, "dir-pci", d, token)
        irqs = [l for l in (g.report("irqs") or "").split("|") if "PCI-MSI" in l]
        used = [l for l in irqs if len(l.split()) > 1 and l.split()[1].isdigit()
                and int(l.split()[1]) > 0 and "config" not in l]
        s.check(len(irqs) >= 2 and used,
                "dir-pci: the device's queues interrupt through PCI-MSI vectors of their own",
                g.report("irqs") or "")

    def by_socket():
        token = secrets.token_hex(8)
        d = share(tmp, "sock-share", token)
        sock = os.path.join(tmp, "ext.sock")
        daemon = kilntest.reap_at_exit(subprocess.Popen(
            [VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={d}", "-o", "cache=none"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "ext-virtiofsd.log"), "wb")))
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        initrd = lg.initrd(tmp, "socket", SCENARIO.replace("{WAIT}", ""))
        g = lg.Guest("socket", kiln_argv(args, initrd, f"tag=ext,socket={sock}", "ext", token),
                     tmp)
        status = g.wait_exit(180)
        s.check(status == 0, "socket: kiln exits 0 after the guest powers off",
                f"status {status}; {g.stderr()[-600:]}")
        check_exchange(s, g, "socket", d, token)
        s.equal(daemon_of(g), (None, None), "socket: kiln started no virtiofsd of its own")
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()

    def sigterm():
        token = secrets.token_hex(8)
        d = share(tmp, "term-share", token)
        initrd = lg.initrd(tmp, "sigterm", SCENARIO.replace("{WAIT}", "kt waiting; sleep 600"))
        g = lg.Guest("sigterm", kiln_argv(args, initrd, f"tag=t,dir={d}", "t", token), tmp)
        s.check(g.wait_for(r"^KT waiting", 180) is not None, "sigterm: the guest mounted the share",
                g.stderr()[-400:])
        pid, _ = daemon_of(g)
        g.proc.send_signal(signal.SIGTERM)
        status = g.wait_exit(30)
        s.check(status is not None, "sigterm: kiln exits on SIGTERM", f"status {status}")
        s.check(pid is not None and gone(pid), "sigterm: its virtiofsd is gone with it",
                f"pid {pid}")

    s.scenario("dir", by_dir)
    s.scenario("dir-pci", by_dir_pci)
    s.scenario("socket", by_socket)
    s.scenario("sigterm", sigterm)
    s.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""linux-arm64 — kiln's arm64 board booting real arm64 Linux, in the arm64 nested rig.

    tests/nested/linux-arm64.py --kiln ARM64_KILN [--keep DIR]

ARM64_KILN is the cross-built kiln (make build-arm64). Everything is prepared on the build host
(x86): the guests' initramfs (Debian's arm64 busybox, an /init that runs the scenario named by
scn= on the kernel command line, and for Debian's kernel its virtio modules), an ext4 root image,
and a shell script for L1. Then one arm64 L1 (scripts/nested --arch arm64) runs that script with
busybox's sh: each scenario runs kiln with its output in the work directory. Back on the host the
outputs are checked. The guest kernels are Debian's stock arm64 kernel (a raw Image with modular
virtio drivers) and the project's small arm64 kernel (scripts/build-linux --arch arm64, drivers
built in).

Scenarios: boot with 1, 2 and 4 vCPUs with the topology the guest sees in sysfs (cores,
sockets, SMT); the console on the first UART and application output on the second; the PL031
clock; virtio-console, -rng and -blk with Debian's drivers and the small kernel's, virtio-net on a
TAP (the guest pings L1) and virtio-balloon; guest RAM from hugetlb pages; an ext4 root
written by the guest and read back from the image; poweroff (status 0) and reboot (with
--on-reset restart: a second boot); pause and resume through the API, a snapshot restored in a
new kiln, a live migration between two kilns; the virtio devices as PCI functions
(--virtio-transport pci: ECAM host bridge, MSI-X through the GICv3 ITS) with Debian's kernel,
and pause, snapshot-restore and migration again over PCI while the guest uses its disk and rng;
`kiln sandbox`; bad input (an x86 kernel, --boot linux, too much memory, an x86-only device,
--vfio) refused with one line.

Exit status: 0 if every check passed, 1 otherwise, 77 if the rig cannot run here (not under CI).
"""
import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import initramfs  # noqa: E402
import kilntest  # noqa: E402
import linuxguest  # noqa: E402

SKIP = 77
DEBIAN_MODULES = ["virtio_mmio", "virtio_blk", "virtio_console", "virtio_rng"]
# over PCI (Debian's arm64 kernel has pci-host-generic and the GICv3 ITS built in)
DEBIAN_PCI_MODULES = ["virtio_pci", "virtio_blk", "virtio_console", "virtio_rng", "virtio_net",
                      "virtio_balloon"]

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
@LOAD_MODULES@
scn=$(sed -n 's/.*scn=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "L2-UP scn=$scn uptime=$(cut -d' ' -f1 /proc/uptime)"
wait_dev() { i=0; while [ ! -e "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; }
case "$scn" in
topo)
	echo "NPROC $(grep -c ^processor /proc/cpuinfo)"
	for c in /sys/devices/system/cpu/cpu[0-9]*; do
		t=$c/topology
		echo "TOPO ${c##*/} pkg=$(cat $t/physical_package_id) core=$(cat $t/core_id) sib=$(cat $t/thread_siblings_list)"
	done
	echo "RTC $(date -u +%Y) $(cat /sys/class/rtc/rtc0/name 2>/dev/null)"
	echo "hello from the second UART" > /dev/ttyS1
	;;
devices)
	for d in /dev/vda /dev/hvc0 /dev/hwrng; do wait_dev $d; done
	echo "to the virtio console" > /dev/hvc0
	echo "RNG $(head -c 4096 /dev/hwrng | wc -c) $(cat /sys/class/misc/hw_random/rng_current)"
	echo "VDA $(cat /sys/block/vda/size)"
	echo "kiln-arm64-disk-write" | dd of=/dev/vda bs=512 seek=8 conv=notrunc,fsync 2>/dev/null
	echo "VDA-READ $(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 21)"
	;;
ticks)
	i=0
	while [ $i -lt 30 ]; do i=$((i+1)); echo "tick $i"; sleep 0.5; done
	;;
ticks-io)
	# each tick needs interrupts from the disk and the rng (a restored VM's MSIs among them)
	for d in /dev/vda /dev/hwrng; do wait_dev $d; done
	i=0
	while [ $i -lt 30 ]; do
		i=$((i+1))
		r=$(head -c 64 /dev/hwrng | wc -c)
		echo "tick-$i" | dd of=/dev/vda bs=512 seek=$i conv=notrunc,fsync 2>/dev/null
		echo "tick $i rng=$r"
		sleep 0.5
	done
	;;
pci)
	for d in /dev/vda /dev/hvc0 /dev/hwrng; do wait_dev $d; done
	i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
	for f in /sys/bus/pci/devices/*; do
		drv=$(readlink "$f/driver"); n=$(ls "$f/msi_irqs" 2>/dev/null | wc -l)
		echo "PCIDEV ${f##*/} $(cat "$f/vendor"):$(cat "$f/device") msi=$n drv=${drv##*/}"
	done
	echo "to the virtio console" > /dev/hvc0
	echo "RNG $(head -c 4096 /dev/hwrng | wc -c) $(cat /sys/class/misc/hw_random/rng_current)"
	echo "VDA $(cat /sys/block/vda/size)"
	echo "kiln-arm64-disk-write" | dd of=/dev/vda bs=512 seek=8 conv=notrunc,fsync 2>/dev/null
	echo "MAC $(cat /sys/class/net/eth0/address)"
	ip addr add 10.0.7.3/24 dev eth0 && ip link set eth0 up
	if ping -c 3 -W 3 10.0.7.1 > /dev/null 2>&1; then echo "PING-OK"; else echo "PING-FAIL"; fi
	echo "DRIVERS $(for d in /sys/bus/virtio/devices/*/driver; do basename "$(readlink "$d")"; done | sort | tr '\n' ' ')"
	grep MSI /proc/interrupts | sed 's/^/IRQ /'
	;;
net)
	i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
	echo "MAC $(cat /sys/class/net/eth0/address)"
	ip addr add 10.0.7.2/24 dev eth0 && ip link set eth0 up
	if ping -c 3 -W 3 10.0.7.1 > /dev/null 2>&1; then echo "PING-OK"; else echo "PING-FAIL"; fi
	echo "DRIVERS $(for d in /sys/bus/virtio/devices/*/driver; do basename "$(readlink "$d")"; done | sort | tr '\n' ' ')"
	;;
reboot)
	wait_dev /dev/vda
	b=$(dd if=/dev/vda bs=1 count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	echo "BOOT byte=$b"
	if [ "$b" = 0 ]; then
		printf '\001' | dd of=/dev/vda bs=1 count=1 conv=notrunc,fsync 2>/dev/null
		echo "REBOOTING"
		reboot -f
	fi
	;;
esac
echo "L2-DONE"
poweroff -f
"""

# The ext4 root's init (small kernel, root=/dev/vda rw): writes a file the host reads back.
ROOT_INIT = r"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "ROOT-UP $(/bin/busybox cat /proc/mounts | /bin/busybox grep ' / ')"
echo "written by an arm64 guest on kiln" > /written.txt
/bin/busybox sync
echo "ROOT-WROTE"
/bin/busybox poweroff -f
"""

L1_HEAD = r"""#!/bin/sh
# written by tests/nested/linux-arm64.py: runs in the arm64 L1 with busybox's sh
K=@KILN@
W=@WORK@
# Outputs go to L1's own tmpfs first and are copied to the shared work directory afterwards: a
# guest console written byte by byte into the 9p share costs ~40 s a boot.
L=@LOCAL@
mkdir -p "$L"
cd "$W" || exit 125
echo "L1: $(uname -m), $(ls -l /dev/kvm)"
# A kiln killed by a signal leaves its core (guest RAM is not in it: MADV_DONTDUMP); scn keeps it
# as NAME.core for the host's backtrace.
ulimit -c unlimited
echo "$L/core.%p" > /proc/sys/kernel/core_pattern
# scn NAME SECONDS KILN-ARGS...: one kiln run; its stdout, stderr, status, core and any
# $L/NAME.* file end up in the work directory
scn() {
	n=$1; t=$2; shift 2
	echo "scenario $n"
	s=$(date +%s)
	rm -f "$L"/core.* "$L/$n.core" "$W/$n.core"
	timeout "$t" "$K" "$@" > "$L/$n.out" 2> "$L/$n.err"
	echo $? > "$L/$n.status"
	for c in "$L"/core.*; do [ -f "$c" ] && mv "$c" "$L/$n.core"; done
	cp "$L/$n".* "$W/"
	echo "scenario $n: status $(cat "$W/$n.status") after $(( $(date +%s) - s )) s"
}
# A guest of L1's KVM now and then stalls or dies under the emulation (docs/testing.md, "When the
# emulated machine fails"): a scenario whose kiln did not exit 0 after the guest's L2-DONE runs
# once more; keep_first NAME FILES keeps the first run's files as first-* for the host's report.
done_ok() { [ "$(cat "$L/$1.status" 2>/dev/null)" = 0 ] && grep -q L2-DONE "$L/$1.out"; }
keep_first() { n=$1; shift; for f in "$@"; do cp "$f" "$W/first-${f##*/}"; done; echo "RETRY $n"; }
# scn2 NAME SECONDS KILN-ARGS...: scn, and once more if it did not end done_ok
scn2() {
	scn "$@"
	if ! done_ok "$1"; then keep_first "$1" "$L/$1".*; scn "$@"; fi
}
"""

PAUSE = r"""
# pause/resume through the API while the guest counts
S=/run/kiln-arm64-api.sock  # not in $W: a 9p share holds no sockets
rm -f "$S"
"$K" run --api-sock "$S" @ARGS@ > "$L/pause@P@.out" 2> "$L/pause@P@.err" &
pid=$!
i=0
while ! grep -q "^tick 4" "$L/pause@P@.out" && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done
"$K" ctl --sock "$S" pause > "$L/pause@P@.ctl" 2>&1
echo "pause=$?" >> "$L/pause@P@.ctl"
"$K" ctl --sock "$S" info >> "$L/pause@P@.ctl" 2>&1
a=$(grep -c "^tick" "$L/pause@P@.out"); sleep 3; b=$(grep -c "^tick" "$L/pause@P@.out")
"$K" ctl --sock "$S" snapshot --to "$L/snap@P@" --mem "$L/mem@P@" >> "$L/pause@P@.ctl" 2>&1
echo "snapshot=$?" >> "$L/pause@P@.ctl"
echo "$b" > "$W/snap@P@.ticks"
"$K" ctl --sock "$S" resume >> "$L/pause@P@.ctl" 2>&1
echo "resume=$?" >> "$L/pause@P@.ctl"
sleep 3; c=$(grep -c "^tick" "$L/pause@P@.out")
echo "before=$a paused=$b resumed=$c" > "$L/pause@P@.counts"
wait $pid
echo $? > "$L/pause@P@.status"
cp "$L"/pause@P@.* "$W/"
echo "scenario pause@P@: status $(cat "$W/pause@P@.status") counts $(cat "$W/pause@P@.counts")"
# the snapshot taken while paused, restored in a new kiln: the guest counts on from there
# a restore whose guest did not reach its poweroff runs once more (scn2, L1_HEAD)
scn2 restore@P@ 240 restore "$L/snap@P@" --mem-file "$L/mem@P@"
rm -f "$L/mem@P@"

# live migration between two kilns over loopback TCP while the guest counts
mig() {
	rm -f "$S"
	# bounded: a side that never ends is a failure with its output, not a rig timeout
	timeout 240 "$K" migrate receive --listen 127.0.0.1:7411 > "$L/migrate@P@-dst.out" \
		2> "$L/migrate@P@-dst.err" &
	dst=$!
	timeout 240 "$K" run --api-sock "$S" @ARGS@ > "$L/migrate@P@-src.out" 2> "$L/migrate@P@-src.err" &
	src=$!
	i=0
	while ! grep -q "^tick 4" "$L/migrate@P@-src.out" && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done
	timeout 120 "$K" migrate send --sock "$S" --to 127.0.0.1:7411 > "$L/migrate@P@-send.out" 2>&1
	echo $? > "$L/migrate@P@-send.status"
	wait $src
	echo $? > "$L/migrate@P@-src.status"
	wait $dst
	echo $? > "$L/migrate@P@-dst.status"
}
mig
if ! done_ok migrate@P@-dst; then keep_first migrate@P@ "$L"/migrate@P@-*; mig; fi
cp "$L"/migrate@P@-* "$W/"
echo "scenario migrate@P@: send $(cat "$L/migrate@P@-send.status"), source $(cat "$L/migrate@P@-src.status"), destination $(cat "$L/migrate@P@-dst.status")"
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def cannot_run(msg):
    print(f"linux-arm64: {msg}", flush=True)
    sys.exit(1 if os.environ.get("CI") == "true" else SKIP)


class Prep:
    """What the host prepares in the work directory W before L1 boots."""

    def __init__(self, work, kiln):
        self.work, self.kiln = work, kiln
        self.busybox = run([os.path.join(ROOT, "scripts", "fetch-arm64-busybox")]).strip()
        tree = run([os.path.join(ROOT, "scripts", "fetch-debian-kernel"), "--arch", "arm64",
                    "--tree"]).strip()
        boot = os.path.join(tree, "boot")
        self.debian = os.path.join(boot, next(f for f in os.listdir(boot)
                                              if f.startswith("vmlinuz-")))
        mods = os.path.join(tree, "lib", "modules")
        self.moddir = os.path.join(mods, os.listdir(mods)[0])
        p = subprocess.run([os.path.join(ROOT, "scripts", "build-linux"), "--arch", "arm64"],
                           stdout=subprocess.PIPE, text=True)
        m = re.search(r"^image=(.*)$", p.stdout, re.M)
        if p.returncode != 0 or not m:
            cannot_run("scripts/build-linux --arch arm64 failed")
        self.small = m.group(1)
        self.mktap = os.path.join(work, "mktap")
        subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-Wextra", "-o",
                        self.mktap, os.path.join(ROOT, "tests", "nested", "arm64", "mktap.c")],
                       check=True)

    def initrd(self, name, modules):
        t = initramfs.Tree()
        initramfs.busybox(t, self.busybox)
        for d in ("proc", "sys", "dev", "tmp"):
            t.dir(d)
        if modules:
            initramfs.Modules(self.moddir).add(t, modules)
        t.file("init", INIT.replace("@LOAD_MODULES@", initramfs.LOAD_MODULES), 0o755)
        return t.write(os.path.join(self.work, name))

    def ext4_root(self, name):
        top = os.path.join(self.work, name + ".tree")
        for d in ("bin", "sbin", "proc", "dev"):
            os.makedirs(os.path.join(top, d), exist_ok=True)
        shutil.copy(self.busybox, os.path.join(top, "bin", "busybox"))
        with open(os.path.join(top, "sbin", "init"), "w") as f:
            f.write(ROOT_INIT)
        os.chmod(os.path.join(top, "sbin", "init"), 0o755)
        img = os.path.join(self.work, name)
        subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", top, img, "32M"], check=True)
        return img

    def raw_disk(self, name, mib=8):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.truncate(mib << 20)
        return path


def l1_script(p, w):
    deb_initrd = p.initrd("debian.cpio", DEBIAN_MODULES)
    deb_pci_initrd = p.initrd("debian-pci.cpio", DEBIAN_PCI_MODULES)
    small_initrd = p.initrd("small.cpio", [])
    root = p.ext4_root("root.ext4")
    disks = {n: p.raw_disk(n) for n in ("deb.disk", "small.disk", "reboot.disk", "pci.disk",
                                        "life-pci.disk")}
    q = shlex.quote

    def kargs(kernel, initrd, scn, extra=""):
        return (f"run --kernel {q(kernel)} --initrd {q(initrd)} --memory 512M "
                f"--cmdline {q('console=ttyS0 quiet panic=-1 scn=' + scn + extra)}")

    loc = "/tmp/kiln-arm64"  # L1's tmpfs (see L1_HEAD)
    lines = [L1_HEAD.replace("@KILN@", q(p.kiln)).replace("@WORK@", q(w))
             .replace("@LOCAL@", loc)]
    topo = [("topo-1", "1:1:1"), ("topo-2", "1:2:1"), ("topo-4-sockets", "2:2:1"),
            ("topo-4-smt", "1:2:2")]
    for name, t in topo:
        lines.append(f"scn2 {name} 240 {kargs(p.debian, deb_initrd, 'topo')} --topology {t} "
                     f"--serial2 file:{loc}/{name}.uart1")
    lines.append(f"scn2 small-topo 240 {kargs(p.small, small_initrd, 'topo')} --cpus 2 "
                 f"--serial2 file:{loc}/small-topo.uart1")
    for name, kernel, initrd, disk in (("deb-devices", p.debian, deb_initrd, disks["deb.disk"]),
                                       ("small-devices", p.small, small_initrd,
                                        disks["small.disk"])):
        lines.append(f"scn2 {name} 240 {kargs(kernel, initrd, 'devices')} --cpus 2 --rng "
                     f"--disk {q(disk)} --console-virtio file:{loc}/{name}.hvc")
    lines.append(f"scn root-ext4 240 run --kernel {q(p.small)} --memory 256M "
                 f"--disk {q(root)},root --cmdline {q('console=ttyS0 quiet panic=-1 init=/sbin/init')}")
    # virtio-net on a TAP L1 makes (mktap: busybox's ip cannot), with virtio-balloon beside it
    lines.append(f"{q(p.mktap)} kn0 && ip addr add 10.0.7.1/24 dev kn0 && ip link set kn0 up")
    lines.append(f"scn net 240 {kargs(p.small, small_initrd, 'net')} --net "
                 "tap=kn0,mac=52:54:00:a6:40:01 --balloon amount_mib=16")
    # every virtio kind as a PCI function (MSI-X through the ITS), on the same TAP
    lines.append(f"scn pci 240 {kargs(p.debian, deb_pci_initrd, 'pci')} --cpus 2 "
                 f"--virtio-transport pci --rng --disk {q(disks['pci.disk'])} "
                 f"--console-virtio file:{loc}/pci.hvc --net tap=kn0,mac=52:54:00:a6:40:02 "
                 "--balloon amount_mib=16")
    # guest RAM from L1's hugetlb pool, then a pool too small for it
    lines.append("echo 160 > /proc/sys/vm/nr_hugepages")
    lines.append(f"scn2 hugepages 240 {kargs(p.debian, deb_initrd, 'topo')} --hugepages "
                 f"--memory 256M --serial2 file:{loc}/hugepages.uart1")
    lines.append(f"scn hugepages-short 60 {kargs(p.debian, deb_initrd, 'topo')} --hugepages "
                 "--memory 1G")
    lines.append("echo 0 > /proc/sys/vm/nr_hugepages")
    lines.append(f"scn reboot 300 {kargs(p.small, small_initrd, 'reboot')} --on-reset restart "
                 f"--disk {q(disks['reboot.disk'])}")
    lines.append(PAUSE.replace("@P@", "").replace(
        "@ARGS@", kargs(p.debian, deb_initrd, "ticks")[4:] + " --cpus 2"))
    # again over PCI, the guest using its disk and rng (MSI-X through the ITS) at every tick
    lines.append(PAUSE.replace("@P@", "-pci").replace(
        "@ARGS@", kargs(p.debian, deb_pci_initrd, "ticks-io")[4:] + " --cpus 2 "
        f"--virtio-transport pci --rng --disk {q(disks['life-pci.disk'])}"))
    busybox_in_l1 = "/.kiln-arm64/bin/busybox"  # scripts/nested --arch arm64 puts it there
    lines.append(f"scn sandbox-uname 240 sandbox --kernel {q(p.small)} -- {busybox_in_l1} "
                 "uname -m")
    lines.append(f"scn sandbox-status 240 sandbox --kernel {q(p.small)} -- {busybox_in_l1} "
                 "sh -c 'echo out; exit 7'")
    x86 = os.path.join(w, "not-arm64.img")
    with open(x86, "wb") as f:
        f.write(b"\x7fELF" + b"\0" * 4092)
    lines.append(f"scn bad-image 60 run --kernel {q(x86)} --memory 128M")
    lines.append(f"scn bad-boot 60 run --kernel {q(p.debian)} --boot linux --memory 128M")
    lines.append(f"scn bad-memory 60 run --kernel {q(p.debian)} --memory 600G")
    lines.append(f"scn bad-pvpanic 60 run --kernel {q(p.debian)} --pvpanic")
    lines.append(f"scn bad-vfio 60 run --kernel {q(p.debian)} "
                 "--vfio /sys/bus/pci/devices/0000:00:01.0")
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def read(w, name):
    try:
        with open(os.path.join(w, name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def status(w, name):
    s = read(w, name + ".status").strip()
    return int(s) if s.lstrip("-").isdigit() else None


def check_topo(c, w, name, want_nproc, want):
    out = read(w, name + ".out")
    c.check(status(w, name) == 0, f"{name}: kiln exits 0 after the guest's poweroff")
    c.check("L2-DONE" in out, f"{name}: the guest reached userspace (console on the first UART)")
    c.check(f"NPROC {want_nproc}" in out, f"{name}: {want_nproc} CPUs online")
    got = re.findall(r"^TOPO (cpu\d+) (.*)$", out, re.M)
    c.check(sorted(got) == sorted(want), f"{name}: sysfs topology {want}, got {got}")
    m = re.search(r"^RTC (\d+) (\S+)", out, re.M)
    c.check(m is not None and int(m.group(1)) >= 2026 and "pl031" in m.group(2),
            f"{name}: the PL031 gives the wall-clock year ({m.group(0) if m else 'no RTC line'})")
    c.check("hello from the second UART" in read(w, name + ".uart1"),
            f"{name}: application output on the second UART")


def topo_want(spec):
    s, co, th = (int(x) for x in spec.split(":"))
    out = []
    for i in range(s * co * th):
        core_in_pkg = (i // th) % co
        sib = [i // th * th + t for t in range(th)]
        sibs = str(sib[0]) if th == 1 else f"{sib[0]}-{sib[-1]}"
        out.append((f"cpu{i}", f"pkg={i // (co * th)} core={core_in_pkg} sib={sibs}"))
    return out


def check_devices(c, w, name, disk):
    out = read(w, name + ".out")
    c.check(status(w, name) == 0 and "L2-DONE" in out, f"{name}: boots and powers off")
    c.check("to the virtio console" in read(w, name + ".hvc"),
            f"{name}: virtio-console output reaches its file")
    m = re.search(r"^RNG (\d+) (\S+)", out, re.M)
    c.check(m is not None and m.group(1) == "4096" and m.group(2).startswith("virtio_rng"),
            f"{name}: 4096 bytes from virtio-rng ({m.group(0) if m else 'no RNG line'})")
    c.check(re.search(r"^VDA 16384$", out, re.M) is not None,
            f"{name}: /dev/vda has the image's 16384 sectors")
    with open(disk, "rb") as f:
        f.seek(8 * 512)
        c.check(f.read(21) == b"kiln-arm64-disk-write",
                f"{name}: the guest's write is in the disk image")


def report_retries(w):
    """Say which scenarios ran twice (the L1 script's keep_first) and how the first run ended: its
    status, the end of kiln's stderr and its guest's console from the first kernel error on (a
    panic's reason); and give a backtrace of every kiln that left a core."""
    for st in sorted(f for f in os.listdir(w) if f.startswith("first-") and f.endswith(".status")):
        name = st[len("first-"):-len(".status")]
        lines = read(w, f"first-{name}.out").splitlines()
        at = next((i for i, l in enumerate(lines) if linuxguest.KERNEL_ERRORS.search(l)),
                  max(len(lines) - 8, 0))
        print(f"RETRY {name}: the first run ended with status {status(w, 'first-' + name)}; "
              f"kiln's stderr ends {read(w, f'first-{name}.err').splitlines()[-5:]}; "
              f"its guest's console from there: {lines[at:at + 40]}", flush=True)
    for core in sorted(f for f in os.listdir(w) if f.endswith(".core")):
        print(f"CORE {core}: kiln died of a signal; its threads' stacks:\n"
              f"{backtrace(os.path.join(w, 'kiln'), os.path.join(w, core))}", flush=True)


def backtrace(kiln, core):
    """Every thread's stack in kiln's core, by gdb-multiarch (scripts/install-deps --arm64)."""
    if not shutil.which("gdb-multiarch"):
        return "(no gdb-multiarch to read it)"
    r = subprocess.run(["gdb-multiarch", "-batch", "-nx", "-ex", "set pagination off",
                        "-ex", "thread apply all bt 20", kiln, core],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return r.stdout[-6000:]


def check_lifecycle(c, w, sfx):
    """pause, restore and migrate (sfx "" over virtio-mmio, "-pci" over PCI)."""
    counts = dict(kv.split("=") for kv in read(w, "pause" + sfx + ".counts").split())
    ctl = read(w, "pause" + sfx + ".ctl")
    c.check("pause=0" in ctl and "state: Paused" in ctl,
            f"pause{sfx}: the API pauses the VM ({ctl!r})")
    c.check(counts.get("before") == counts.get("paused") and int(counts.get("before", 0)) >= 4,
            f"pause{sfx}: no tick while paused ({counts})")
    c.check("resume=0" in ctl and int(counts.get("resumed", 0)) > int(counts.get("paused", 0)),
            f"pause{sfx}: ticks go on after resume ({counts})")
    c.check(status(w, "pause" + sfx) == 0 and "tick 30" in read(w, "pause" + sfx + ".out"),
            f"pause{sfx}: the guest finishes its 30 ticks and powers off (status 0)")
    c.check("snapshot=0" in ctl,
            f"pause{sfx}: a snapshot of the paused arm64 VM is written ({ctl!r})")
    out, snap_ticks = read(w, "restore" + sfx + ".out"), read(w, "snap" + sfx + ".ticks").strip()
    first = re.search(r"^tick (\d+)", out, re.M)
    c.check(status(w, "restore" + sfx) == 0 and "tick 30" in out and "L2-DONE" in out,
            f"restore{sfx}: the snapshot resumes in a new kiln and counts to its poweroff "
            "(status 0)")
    # the next line, or the one after when the snapshot cut a line in two
    c.check(first is not None and snap_ticks.isdigit() and
            int(first.group(1)) - int(snap_ticks) in (1, 2),
            f"restore{sfx}: it counts on from the snapshot (tick {snap_ticks} then "
            f"{first.group(1) if first else 'none'})")
    src, dst = read(w, "migrate" + sfx + "-src.out"), read(w, "migrate" + sfx + "-dst.out")
    ticks = [int(t) for t in re.findall(r"^tick (\d+)", src + dst, re.M)]
    c.check(status(w, "migrate" + sfx + "-send") == 0,
            f"migrate{sfx}: kiln migrate send succeeds "
            f"({read(w, 'migrate' + sfx + '-send.out')[-300:]!r})")
    c.check(status(w, "migrate" + sfx + "-dst") == 0 and "tick 30" in dst and "L2-DONE" in dst,
            f"migrate{sfx}: the destination runs the guest to its poweroff (status 0; it was "
            f"{status(w, 'migrate' + sfx + '-dst')}, "
            f"stderr {read(w, 'migrate' + sfx + '-dst.err')[-400:]!r}, stdout {dst[-200:]!r}, "
            f"source stderr {read(w, 'migrate' + sfx + '-src.err')[-300:]!r})")
    c.check(sorted(set(ticks)) == list(range(1, 31)) and
            re.search(r"^tick 1\b", dst, re.M) is None,
            f"migrate{sfx}: ticks 1-30 between source and destination, none lost ({ticks})")
    if sfx == "-pci":
        out = "".join(read(w, n + ".out") for n in ("pause-pci", "restore-pci",
                                                     "migrate-pci-src", "migrate-pci-dst"))
        rng = re.findall(r"^tick \d+ rng=(\d+)", out, re.M)
        c.check(rng and all(r == "64" for r in rng),
                f"lifecycle-pci: every tick read 64 bytes from virtio-rng ({len(rng)} ticks)")
        with open(os.path.join(w, "life-pci.disk"), "rb") as f:
            data = f.read(31 * 512)
        want = all(data[i * 512:].startswith(f"tick-{i}\n".encode()) for i in range(1, 31))
        c.check(want, "lifecycle-pci: the disk holds every tick's block (tick-1 .. tick-30)")


def check_pci(c, w):
    """The pci scenario: every virtio kind a PCI function, MSI-X through the ITS."""
    check_devices(c, w, "pci", os.path.join(w, "pci.disk"))
    out = read(w, "pci.out")
    devs = dict((m[0], m[1:]) for m in re.findall(
        r"^PCIDEV (\S+) 0x([0-9a-f]{4}):0x([0-9a-f]{4}) msi=(\d+) drv=(\S*)", out, re.M))
    c.check(devs.get("0000:00:00.0", ("",))[0:2] == ("1b36", "0008"),
            f"pci: the host bridge is 00:00.0 ({devs.get('0000:00:00.0')})")
    fns = {v[1]: (k, v) for k, v in devs.items() if v[0] == "1af4"}
    c.check(sorted(fns) == ["1041", "1042", "1043", "1044", "1045"],
            f"pci: net, blk, console, rng and balloon are virtio-pci functions ({devs})")
    c.check(fns and all(v[3] == "virtio-pci" and int(v[2]) >= 2 for _, v in fns.values()),
            f"pci: each bound to virtio-pci with MSI-X vectors (msi_irqs) ({devs})")
    c.check("MAC 52:54:00:a6:40:02" in out and "PING-OK" in out,
            "pci: virtio-net over PCI is eth0 with its MAC and pings L1")
    drivers = re.search(r"^DRIVERS (.*)$", out, re.M)
    c.check(drivers is not None and all(d in drivers.group(1) for d in (
        "virtio_blk", "virtio_net", "virtio_rng", "virtio_console", "virtio_balloon")),
            f"pci: every virtio driver bound ({drivers.group(1) if drivers else None})")
    irqs = re.findall(r"^IRQ (.*)$", out, re.M)
    its = [l for l in irqs if "ITS" in l and "virtio" in l]
    c.check(len(its) >= 5 and any(sum(int(x) for x in l.split()[1:3] if x.isdigit()) > 0
                                  for l in its),
            f"pci: /proc/interrupts has ITS MSI lines for virtio that fired ({irqs})")


def check(w, p):
    report_retries(w)
    c = kilntest.Checks("linux-arm64")
    for name, spec in (("topo-1", "1:1:1"), ("topo-2", "1:2:1"), ("topo-4-sockets", "2:2:1"),
                       ("topo-4-smt", "1:2:2")):
        s, co, th = (int(x) for x in spec.split(":"))
        check_topo(c, w, name, s * co * th, topo_want(spec))
        c.check("BUG:" not in read(w, name + ".out"), f"{name}: no kernel BUG (arch topology)")
    check_topo(c, w, "small-topo", 2, topo_want("1:2:1"))
    check_devices(c, w, "deb-devices", os.path.join(w, "deb.disk"))
    check_devices(c, w, "small-devices", os.path.join(w, "small.disk"))
    out = read(w, "root-ext4.out")
    c.check(status(w, "root-ext4") == 0 and "ROOT-WROTE" in out,
            "root-ext4: the guest runs /sbin/init from the ext4 root on virtio-blk and writes")
    c.check(re.search(r"ROOT-UP /dev/root / ext4 rw", out) is not None,
            "root-ext4: / is the ext4 disk, read-write")
    got = subprocess.run(["debugfs", "-R", "cat /written.txt", os.path.join(w, "root.ext4")],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    c.check(got == "written by an arm64 guest on kiln\n",
            f"root-ext4: the file is in the image after poweroff ({got!r})")
    out = read(w, "net.out")
    c.check(status(w, "net") == 0 and "MAC 52:54:00:a6:40:01" in out,
            "net: virtio-net is eth0 with the configured MAC")
    c.check("PING-OK" in out, "net: the guest pings L1 through the TAP")
    drivers = re.search(r"^DRIVERS (.*)$", out, re.M)
    c.check(drivers is not None and "virtio_net" in drivers.group(1) and
            "virtio_balloon" in drivers.group(1),
            f"net: virtio-net and virtio-balloon bound ({drivers.group(1) if drivers else None})")
    out = read(w, "hugepages.out")
    c.check(status(w, "hugepages") == 0 and "L2-DONE" in out,
            "hugepages: a guest in hugetlb memory boots and powers off")
    err = read(w, "hugepages-short.err").strip().splitlines()
    c.check(status(w, "hugepages-short") != 0 and len(err) == 1 and "--hugepages: need" in err[0],
            f"hugepages-short: a pool too small is refused with one line ({err})")
    out = read(w, "reboot.out")
    c.check(out.count("L2-UP scn=reboot") == 2 and "BOOT byte=1" in out and
            "REBOOTING" in out and status(w, "reboot") == 0,
            "reboot: PSCI SYSTEM_RESET boots the VM again (--on-reset restart), then poweroff")
    check_lifecycle(c, w, "")
    check_pci(c, w)
    check_lifecycle(c, w, "-pci")
    c.check(status(w, "sandbox-uname") == 0 and read(w, "sandbox-uname.out") == "aarch64\n",
            f"sandbox: CMD's stdout ({read(w, 'sandbox-uname.out')!r}) and status 0")
    c.check(status(w, "sandbox-status") == 7 and read(w, "sandbox-status.out") == "out\n",
            f"sandbox: CMD's exit status 7 is kiln's ({status(w, 'sandbox-status')})")
    for name, want in (("bad-image", "not an arm64 Image"), ("bad-boot", "x86 boot protocol"),
                       ("bad-memory", "at most 512 GiB"),
                       ("bad-pvpanic", "--pvpanic: the arm64 board has no such device"),
                       ("bad-vfio", "--vfio: PCI passthrough is on the x86 board only")):
        err = read(w, name + ".err").strip().splitlines()
        c.check(status(w, name) == 2 and len(err) == 1 and want in err[0],
                f"{name}: exit 2 with one line naming the problem ({err})")
    return c.exit_code()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", default=os.environ.get("KILN_ARM64"),
                    help="the arm64 kiln (default: $KILN_ARM64)")
    ap.add_argument("--keep", help="use this work directory and keep it")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    if not args.kiln or not os.path.exists(args.kiln):
        cannot_run("no arm64 kiln (make build-arm64; pass --kiln or set KILN_ARM64)")
    if not shutil.which("qemu-system-aarch64"):
        cannot_run("qemu-system-aarch64 is missing (scripts/install-deps --arm64)")
    w = os.path.realpath(args.keep or tempfile.mkdtemp(prefix="kiln-arm64-"))
    os.makedirs(w, exist_ok=True)
    kiln = os.path.join(w, "kiln")
    shutil.copy(args.kiln, kiln)  # the work directory is shared into L1 at the same path
    p = Prep(w, kiln)
    script = os.path.join(w, "l1.sh")
    with open(script, "w") as f:
        f.write(l1_script(p, w))
    os.chmod(script, 0o755)
    start = time.monotonic()
    rig = subprocess.run([os.path.join(ROOT, "scripts", "nested"), "--arch", "arm64",
                          "--workdir", w, "--timeout", str(args.timeout), "--module", "tun",
                          "--", script])
    print(f"linux-arm64: the rig ran {time.monotonic() - start:.0f} s, status {rig.returncode}")
    rc = check(w, p)
    if rig.returncode != 0:
        rc = 1
    if not args.keep:
        shutil.rmtree(w, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""linux-boot.py — the full-Linux suite's boot batch, run inside the nested rig's L1
(scripts/nested): real Linux guests booted by kiln to a busybox userspace, asserting what each
guest itself reports.

    linux-boot.py --kiln PATH [--only NAME[,NAME...]] [--list]

Scenarios (docs/testing.md has the table):
- boot-*: the project's kernel as PVH vmlinux, Linux-protocol vmlinux and bzImage, and Debian's
  stock kernel, with 1, 2 and 4 vCPUs and a 2:2:1 topology. Each guest reports its command line
  (which must arrive whole), CPUs and topology (/proc/cpuinfo, /sys/.../topology), memory map
  and MemTotal, ACPI state and kernel errors, its virtio devices and drivers, virtio-rng
  (rng_current, /dev/hwrng), its RTC against L1's clock, and powers off (kiln exits 0).
- console-hvc0, console-socket: virtio-console as the kernel console; a shell on hvc0 reached
  through kiln's socket backend.
- serial-input: a shell on ttyS0 runs a command typed into kiln's stdin.
- reboot-stop, reboot-restart, ctrl-alt-del: `reboot -f` stops kiln (status 0) or, with
  --on-reset restart, boots again; the API's SendCtrlAltDel reaches init, which powers off.
- early-*: tests/linux/run-linux-boot's checks of the kernel's early log (command line, exact
  e820 map, initrd range, CPUs from the MADT or the MP table, ACPI tables, kvm-clock) for the
  variants that PVM makes slow or impossible: PVH without ACPI, the bzImage (its decompressor
  runs at emulated-ring-0 speed on PVM), and virtio devices found through ACPI or, without it,
  kiln's command-line tokens (their probe comes long after PVM stops the kernel).
"""
import argparse
import hashlib
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

GUEST_TIMEOUT = 90  # seconds for one boot to power-off inside L1 (typical: 5-40 s)
EBDA, HIMEM, LOW_MAX = 0x9FC00, 0x100000, 3 << 30

# What every boot-* guest reports about itself.
FACTS = r"""
kt cmdline "$(cat /proc/cmdline)"
kt online "$(cat /sys/devices/system/cpu/online)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
	t=$c/topology
	kt cpu "${c##*cpu}" "$(cat $t/physical_package_id)" "$(cat $t/core_id)" \
		"$(cat $t/thread_siblings_list)" "$(cat $t/core_siblings_list)"
done
awk -F'\t*: *' '/^processor/{p=$2} /^physical id/{ph=$2} /^core id/{co=$2} /^siblings/{si=$2}
	/^cpu cores/{cc=$2} /^apicid/{ap=$2} /^initial apicid/{print "KT cpuinfo", p, ph, co, ap, si, cc}
	' /proc/cpuinfo
kt timer "$(grep -c '^flags.* tsc_deadline_timer' /proc/cpuinfo)" \
	"$(cat /sys/devices/system/clockevents/clockevent0/current_device)"
dmesg | grep 'BIOS-e820:' | while read -r l; do kt e820 "$l"; done
kt memtotal "$(awk '/^MemTotal:/{print $2}' /proc/meminfo)"
kt acpi "$(dmesg | grep -c 'ACPI: Interpreter enabled')"
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d" ] && kt virtio "$(cat $d/device)" "$(basename "$(readlink $d/driver)")"
done
if [ -e /sys/class/misc/hw_random/rng_current ]; then
	kt rng "$(cat /sys/class/misc/hw_random/rng_current)" \
		"$(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \n')" \
		"$(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
fi
[ -b /dev/vda ] && kt vda "$(head -c 65536 /dev/vda | sha256sum | cut -d' ' -f1)"
kt rtc "$(cat /sys/class/rtc/rtc0/name)" "$(cat /sys/class/rtc/rtc0/since_epoch)" "$(date +%s)"
""" + lg.REPORT_KERNEL_ERRORS


def parse_size(s):
    return int(s[:-1]) << {"M": 20, "G": 30}[s[-1]]


def expected_e820(mem):
    low = min(mem, LOW_MAX)
    ents = [(0, EBDA, "usable"), (EBDA, HIMEM, "reserved"), (HIMEM, low, "usable")]
    if mem > low:
        ents.append((4 << 30, (4 << 30) + mem - low, "usable"))
    return [f"BIOS-e820: [mem {a:#018x}-{b - 1:#018x}] {t}" for a, b, t in ents]


def expected_cpus(sockets, cores, threads):
    """Per vCPU index: (package, core, thread siblings list, core siblings list) as Linux
    prints them, for kiln's APIC ID layout (index = socket, core, thread from the top)."""
    def span(a, b):
        return f"{a}-{b}" if b > a else f"{a}"

    out = []
    for i in range(sockets * cores * threads):
        t0 = i - i % threads
        s0 = i - i % (cores * threads)
        out.append((i // (cores * threads), (i // threads) % cores,
                    span(t0, t0 + threads - 1), span(s0, s0 + cores * threads - 1)))
    return out


class Batch:
    def __init__(self, args):
        self.kiln = args.kiln
        self.tmp = tempfile.mkdtemp(prefix="kiln-linux-boot-")
        self.s = lg.Suite("linux-boot")
        self.progs = {}

    def run(self, name, argv, timeout=GUEST_TIMEOUT, stdin=False):
        return lg.Guest(name, [self.kiln, "run"] + argv, self.tmp, stdin=stdin)

    def finished(self, g, name, timeout=GUEST_TIMEOUT):
        status = g.wait_exit(timeout)
        self.s.check(status == 0, f"{name}: kiln exits 0 after the guest powers off",
                     f"status {status}; stderr: {g.stderr()[-400:]}")
        return status

    # --- boot-* ---

    def boot(self, name, kernel, mem="512M", cpus=None, topology=None, rng=True, debian=False,
             boot=None):
        token = secrets.token_hex(8)
        # Long enough to show the whole command line arrives (Linux keeps up to 2047 bytes).
        pad = "kiln.pad=" + "x" * 1200
        cmdline = f"console=ttyS0 loglevel=4 panic=-1 kiln.token={token} {pad} kiln.end=1"
        files, moddir, mods = {}, None, ()
        if debian:
            kernel, moddir = lg.debian_kernel()
            mods = lg.DEBIAN_MODULES
        disk = os.path.join(self.tmp, name + ".img")
        with open(disk, "wb") as f:
            f.write(os.urandom(1 << 20))
        initrd = lg.initrd(self.tmp, name, FACTS, files=files, moddir=moddir, modules=mods)
        argv = ["--kernel", kernel, "--initrd", initrd, "--memory", mem, "--cmdline", cmdline,
                "--disk", f"{disk},ro"]
        argv += ["--topology", topology] if topology else ["--cpus", str(cpus)]
        argv += ["--rng"] if rng else []
        argv += ["--boot", boot] if boot else []
        g = self.run(name, argv)
        self.finished(g, name)
        self.check_facts(g, name, cmdline, parse_size(mem), topology or f"1:{cpus}:1", rng, disk)

    def check_facts(self, g, name, cmdline, mem, topo, rng, disk):
        s = self.s
        s.equal(g.report("cmdline"), cmdline, f"{name}: /proc/cmdline is the whole command line")
        sockets, cores, threads = map(int, topo.split(":"))
        n = sockets * cores * threads
        s.equal(g.report("online"), f"0-{n - 1}" if n > 1 else "0", f"{name}: {n} CPUs online")
        want = expected_cpus(sockets, cores, threads)
        got = sorted(tuple(r.split()) for r in g.reports("cpu"))
        s.equal(got, sorted((str(i),) + tuple(str(x) for x in w) for i, w in enumerate(want)),
                f"{name}: sysfs topology of {topo}")
        info = sorted(tuple(r.split()) for r in g.reports("cpuinfo"))
        want_info = sorted((str(i), str(w[0]), str(w[1]), str(apic_id(i, sockets, cores, threads)),
                            str(cores * threads), str(cores)) for i, w in enumerate(want))
        s.equal(info, want_info, f"{name}: /proc/cpuinfo package, core, APIC ID, siblings, cores")
        # L1's KVM has the TSC-deadline timer; its supported CPUID does not say so (kvm_x86.c)
        s.equal(g.report("timer"), f"{n} lapic-deadline",
                f"{name}: every CPU has the TSC-deadline timer, the local timer uses it")
        e820 = [r.split("] ", 1)[1] if r.startswith("[") else r for r in g.reports("e820")]
        s.equal(e820, expected_e820(mem), f"{name}: the memory map is kiln's for {mem >> 20} MiB")
        total = int(g.report("memtotal") or 0) << 10
        s.check(mem - (96 << 20) < total <= mem, f"{name}: MemTotal within 96 MiB below --memory",
                f"MemTotal {total >> 10} kB for {mem >> 20} MiB")
        s.equal(g.report("acpi"), "1", f"{name}: ACPI interpreter enabled")
        s.equal(lg.kernel_errors(g), [], f"{name}: no kernel errors")
        devs = sorted(g.reports("virtio"))
        want_devs = sorted(["0x0002 virtio_blk"] + (["0x0004 virtio_rng"] if rng else []))
        s.equal(devs, want_devs, f"{name}: virtio devices bound to their drivers")
        with open(disk, "rb") as f:
            s.equal(g.report("vda"), hashlib.sha256(f.read(65536)).hexdigest(),
                    f"{name}: /dev/vda reads the disk's bytes")
        if rng:
            r = (g.report("rng") or "").split()
            ok = len(r) == 3 and r[0] == "virtio_rng.0" and len(r[1]) == 64 and r[1] != r[2] \
                and r[1] != "0" * 64
            s.check(ok, f"{name}: virtio-rng is the hwrng and gives fresh bytes", f"got {r}")
        self.check_rtc(g, name)

    def check_rtc(self, g, name):
        i, m = g.wait_for(r"^KT rtc (.+) (\d+) (\d+)$", 0)
        if not self.s.check(m is not None, f"{name}: RTC rtc0 reported", g.report("rtc") or ""):
            return
        when = g.arrival(i)
        self.s.check(m.group(1).split()[0] == "rtc_cmos", f"{name}: rtc0 is the CMOS RTC",
                     m.group(1))
        for what, v in (("RTC", int(m.group(2))), ("system clock", int(m.group(3)))):
            self.s.check(abs(v - when) <= 2, f"{name}: guest {what} within 2 s of the host's",
                         f"guest {v}, host {when:.1f}")

    # --- consoles, input, power ---

    def console_hvc0(self, kernel):
        token = secrets.token_hex(6)
        scen = f'kt console "$(cat /sys/class/tty/console/active)" {token}\n'
        initrd = lg.initrd(self.tmp, "hvc0", scen)
        g = self.run("console-hvc0", ["--kernel", kernel, "--initrd", initrd, "--serial", "none",
                                      "--console-virtio", "stdio",
                                      "--cmdline", "console=hvc0 panic=-1"])
        self.finished(g, "console-hvc0")
        self.s.equal(g.report("console"), f"hvc0 {token}",
                     "console-hvc0: hvc0 is the console; its output is kiln's stdout")
        # hvc0 exists once virtio-console probed; what the kernel logs from then on arrives
        # (Linux does not replay the earlier log to an hvc console).
        self.s.check(g.wait_for(r"Run /init as init process", 0)[1] is not None,
                     "console-hvc0: the kernel's log arrives on hvc0")

    def console_socket(self, kernel):
        path = os.path.join(self.tmp, "vcon.sock")
        scen = "kt ready\nsh </dev/hvc0 >/dev/hvc0 2>&1\nkt shell-done\n"
        initrd = lg.initrd(self.tmp, "vcon", scen)
        g = self.run("console-socket", ["--kernel", kernel, "--initrd", initrd,
                                        "--console-virtio", f"socket:{path}",
                                        "--cmdline", "console=ttyS0 panic=-1"])
        if not self.s.check(g.wait_for(r"^KT ready", GUEST_TIMEOUT)[1] is not None,
                            "console-socket: the guest is up"):
            g.wait_exit(1)
            return
        got = b""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(30)
            c.connect(path)
            c.sendall(b'echo "sum=$((6*7)) vcon"\n')
            deadline = time.monotonic() + 30
            while b"sum=42 vcon" not in got and time.monotonic() < deadline:
                try:
                    chunk = c.recv(4096)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
            c.sendall(b"exit\n")
            time.sleep(0.5)
        self.s.check(b"sum=42 vcon" in got,
                     "console-socket: a shell on hvc0 runs a command sent through the socket",
                     repr(got[-200:]))
        self.finished(g, "console-socket")
        self.s.check(g.report("shell-done") is not None, "console-socket: the shell ended")

    def serial_input(self, kernel):
        scen = "kt ready\nsh\nkt shell-done\n"  # the shell reads the console: ttyS0
        initrd = lg.initrd(self.tmp, "serial", scen)
        g = self.run("serial-input", ["--kernel", kernel, "--initrd", initrd,
                                      "--cmdline", "console=ttyS0 panic=-1"], stdin=True)
        if self.s.check(g.wait_for(r"^KT ready", GUEST_TIMEOUT)[1] is not None,
                        "serial-input: the guest is up"):
            time.sleep(0.5)
            g.send('echo "prod=$((7*6)) serial"\n')
            ok = g.wait_for(r"^prod=42 serial", 30)[1] is not None
            self.s.check(ok, "serial-input: a command typed into ttyS0 runs in the guest's shell")
            g.send("exit\n")
        self.finished(g, "serial-input")

    def reboot_stop(self, kernel):
        initrd = lg.initrd(self.tmp, "reboot", "kt booted\nreboot -f\n")
        g = self.run("reboot-stop", ["--kernel", kernel, "--initrd", initrd,
                                     "--cmdline", "console=ttyS0 panic=-1"])
        self.finished(g, "reboot-stop")
        self.s.equal(len(g.reports("booted")), 1, "reboot-stop: reboot -f stops kiln, no 2nd boot")

    def reboot_restart(self, kernel):
        disk = os.path.join(self.tmp, "boots.img")
        with open(disk, "wb") as f:
            f.write(b"0" * 4096)
        scen = """n=$(head -c 1 /dev/vda)
kt booted $n
if [ "$n" = 0 ]; then printf 1 | dd of=/dev/vda conv=notrunc,fsync 2>/dev/null; reboot -f; fi
printf 2 | dd of=/dev/vda conv=notrunc,fsync 2>/dev/null
"""
        initrd = lg.initrd(self.tmp, "restart", scen)
        g = self.run("reboot-restart", ["--kernel", kernel, "--initrd", initrd, "--disk", disk,
                                        "--on-reset", "restart",
                                        "--cmdline", "console=ttyS0 panic=-1"])
        self.finished(g, "reboot-restart", timeout=2 * GUEST_TIMEOUT)
        self.s.equal(g.reports("booted"), ["0", "1"],
                     "reboot-restart: the guest booted twice, the second time seeing the disk "
                     "the first one wrote")
        with open(disk, "rb") as f:
            self.s.equal(f.read(1), b"2",
                         "reboot-restart: the second boot's write reached the disk")

    def early(self, name, *flags):
        """tests/linux/run-linux-boot with these flags (its own PASS/FAIL lines)."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "linux",
                              "run-linux-boot")
        p = subprocess.run([script, "--kiln", self.kiln, "--timeout", "120"] + list(flags),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        print(p.stdout, flush=True)
        self.s.check(p.returncode == 0, f"{name}: run-linux-boot {' '.join(flags)}",
                     f"status {p.returncode}")

    def ctrl_alt_del(self, kernel):
        sock = os.path.join(self.tmp, "cad.sock")
        scen = """echo 0 > /proc/sys/kernel/ctrl-alt-del
trap 'kt cad; sync; poweroff -f' INT
# The keyboard takes keys once atkbd has finished connecting: its driver link shows then (the
# input device appears earlier, while the driver still talks to the keyboard). Right after,
# atkbd's event work sets the LEDs (SETLEDS, 50 ms after the VT keyboard handler connects), and
# a key that reaches the driver while it waits for that command's ACK is dropped as noise (a
# real keyboard's race too): give it a second.
n=0
while [ ! -e /sys/bus/serio/devices/serio0/driver ] && [ $n -lt 100 ]; do
	sleep 0.1; n=$((n + 1))
done
sleep 1
kt ready $(grep -c 'AT Translated Set 2 keyboard' /proc/bus/input/devices)
while :; do sleep 1; done
"""
        initrd = lg.initrd(self.tmp, "cad", scen)
        g = self.run("ctrl-alt-del", ["--kernel", kernel, "--initrd", initrd,
                                      "--cmdline", "console=ttyS0 panic=-1", "--api-sock", sock])
        if self.s.check(g.wait_for(r"^KT ready", GUEST_TIMEOUT)[1] is not None,
                        "ctrl-alt-del: the guest is up"):
            self.s.equal(g.report("ready"), "1", "ctrl-alt-del: the guest found kiln's keyboard")
            status, _ = kilntest.call(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})
            self.s.equal(status, 204, "ctrl-alt-del: PUT /actions SendCtrlAltDel answers 204")
            self.s.check(g.wait_for(r"^KT cad", 30)[1] is not None,
                         "ctrl-alt-del: init got the Ctrl+Alt+Del signal")
        self.finished(g, "ctrl-alt-del")


def apic_id(i, sockets, cores, threads):
    """kiln's APIC ID of vCPU i (src/arch/x86/cpuid.c: x86_apic_id)."""
    def bits(n):
        return (n - 1).bit_length()

    thread, core, socket_ = i % threads, (i // threads) % cores, i // (threads * cores)
    tb = bits(threads)
    return (socket_ << (tb + bits(cores))) | (core << tb) | thread


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    b = Batch(args)
    vmlinux, bzimage = lg.kiln_kernel("vmlinux"), lg.kiln_kernel("bzimage")
    scenarios = {
        "boot-pvh-1cpu": lambda: b.boot("boot-pvh-1cpu", vmlinux, mem="256M", cpus=1),
        "boot-bzimage-2cpu": lambda: b.boot("boot-bzimage-2cpu", bzimage, cpus=2),
        "boot-linux-4cpu": lambda: b.boot("boot-linux-4cpu", vmlinux, mem="1G", cpus=4,
                                          boot="linux"),
        "boot-topology-2:2:1": lambda: b.boot("boot-topology-2:2:1", bzimage, mem="768M",
                                              topology="2:2:1"),
        "boot-debian-2cpu": lambda: b.boot("boot-debian-2cpu", None, cpus=2, debian=True),
        "console-hvc0": lambda: b.console_hvc0(bzimage),
        "console-socket": lambda: b.console_socket(bzimage),
        "serial-input": lambda: b.serial_input(bzimage),
        "reboot-stop": lambda: b.reboot_stop(bzimage),
        "reboot-restart": lambda: b.reboot_restart(bzimage),
        "ctrl-alt-del": lambda: b.ctrl_alt_del(bzimage),
        "early-pvh-noacpi": lambda: b.early("early-pvh-noacpi", "--boot", "pvh", "--no-acpi"),
        "early-bzimage": lambda: b.early("early-bzimage", "--boot", "linux", "--image", "bzimage"),
        "early-virtio-acpi": lambda: b.early("early-virtio-acpi", "--boot", "linux", "--virtio"),
        "early-virtio-noacpi": lambda: b.early("early-virtio-noacpi", "--boot", "pvh", "--virtio",
                                               "--no-acpi"),
    }
    if args.list:
        print("\n".join(scenarios))
        return
    only = args.only.split(",") if args.only else list(scenarios)
    for name in only:
        if name not in scenarios:
            sys.exit(f"unknown scenario {name} (--list)")
        b.s.scenario(name, scenarios[name])
    b.s.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""linux-vfio.py — PCI passthrough with VFIO, end to end: run inside the nested rig's L1 started
with --edu (scripts/nested: an emulated Intel IOMMU with interrupt remapping and QEMU's edu PCI
device, 1234:11e8), where L1's Debian kernel binds edu to vfio-pci and kiln passes it through to
Debian's stock kernel in L2.

    linux-vfio.py --kiln PATH [--only NAME[,NAME...]]

In L2, tests/nested/guest/edutest.c drives edu from userspace (sysfs), one "KT edu" line per
check. Scenarios:
- passthrough: kiln built from a JSON configuration file (kiln_vfio) with its API. Linux takes
  the bus's ECAM window from the MCFG table (reserved by a PNP0C02 device); the guest sees the
  device at its PCI address with interrupt pin INTA; the identification and liveness
  registers and the factorial unit answer through the BAR (mapped in a KVM memory slot: kiln's
  counters show no trapped BAR access); edu's DMA engine copies 1024 and 3072 bytes from a guest
  page into edu and back byte-exact (all guest RAM is mapped for DMA at IOVA = guest-physical);
  uio_pci_generic gets the IRQ the DSDT's _PRT gives the slot and three INTx interrupts reach it
  (irqfd with resample, VFIO's unmask); edutest then programs edu's MSI capability itself
  (Debian's kernel has no driver for edu and no VFIO no-IOMMU mode) towards CPU 0 with a vector
  no handler owns, and all three MSIs arrive there (the kernel's "No irq handler for vector"
  lines: kiln's emulated MSI capability, the MSI route and irqfd). Snapshot and migration are refused with a 400 naming the device, and the
  VM goes on; the guest powers off, kiln exits 0.
- msix: L1's modern virtio-rng (behind the IOMMU) passed through: Debian's virtio_pci and
  virtio_rng drive it in L2, 4096 bytes come from /dev/hwrng and its request queue interrupts
  through a PCI-MSIX vector (kiln's MSI-X emulation over the device's own table and BARs: a
  32-bit one holding the table, a 64-bit one mapped in a memory slot).
- busy: while one kiln holds the device (a guest reading it), a second kiln asking for it exits
  non-zero with one line naming it, and the first guest still reads the device afterwards; the
  device then works again in a third kiln once the first has exited (released and reset).
- bad-input: a path that is no PCI device, a device of L1 bound to another driver (a virtio-9p
  device, its group not given to VFIO), a relative path, --vfio with a balloon, a kiln_vfio
  entry with an unknown field: each a non-zero exit with one line naming what was wrong, and the
  9p device L1 runs on keeps working.

Exit status: 0 if every check passed, 1 otherwise, 77 if L1 has no edu device and CI is not set.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

BOOT_TIMEOUT = 120
EDU = ("0x1234", "0x11e8")
RNG = ("0x1af4", "0x1044")  # L1's virtio-rng (modern), for MSI-X passthrough
GUEST_MODULES = ["uio_pci_generic", "virtio_pci", "virtio_rng"]

# The guest's scenario (sourced by linuxguest's init): find edu, then the checks scn= names.
SCENARIO = r"""
scn=$(sed -n 's/.*scn=\([^ ]*\).*/\1/p' /proc/cmdline)
bdf=
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && bdf=${d##*/}
done
kt mmcfg "$(dmesg | grep -i mmconfig | tr -s ' ' | tr '\n' '|')"
kt pci "$bdf" pin=$(od -An -tu1 -j61 -N1 /sys/bus/pci/devices/$bdf/config 2>/dev/null | tr -d ' ')
if [ -n "$bdf" ]; then
	case "$scn" in
	full)
		/bin/edutest regs $bdf
		/bin/edutest dma $bdf 1024
		/bin/edutest dma $bdf 3072
		echo "1234 11e8" > /sys/bus/pci/drivers/uio_pci_generic/new_id
		kt irq "$(cat /sys/bus/pci/devices/$bdf/irq)"
		/bin/edutest intx $bdf
		kt intx-line "$(grep uio /proc/interrupts | tr -s ' ')"
		echo $bdf > /sys/bus/pci/drivers/uio_pci_generic/unbind
		/bin/edutest msi $bdf
		sleep 0.5
		kt msi-arrived "$(dmesg | grep -c '0\.159 No irq handler for vector')"
		kt waiting
		read -t 120 line < /dev/ttyS0
		;;
	hold)
		/bin/edutest regs $bdf
		kt holding
		read -t 120 line < /dev/ttyS0
		/bin/edutest regs $bdf
		;;
	regs)
		/bin/edutest regs $bdf
		;;
	esac
fi
if [ "$scn" = msix ]; then
	kt rng "$(cat /sys/class/misc/hw_random/rng_current)"
	kt rng-bytes $(dd if=/dev/hwrng bs=512 count=8 2>/dev/null | wc -c)
	kt msix "$(grep -i virtio /proc/interrupts | tr -s ' ' | tr '\n' '|')"
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat $d/vendor)" = 0x1af4 ] && [ "$(cat $d/device)" = 0x1044 ] &&
			kt msi-mode "$(cat $d/msi_irqs/* | sort -u | tr '\n' ' ')"
	done
fi
""" + lg.REPORT_KERNEL_ERRORS


def find_key(obj, key):
    """The value of the first `key` in nested dicts obj, or None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = find_key(v, key)
            if found is not None:
                return found
    return None


def find_dev(want):
    """The BDF of L1's PCI device with IDs want (vendor, device), or None."""
    for d in sorted(glob.glob("/sys/bus/pci/devices/*")):
        try:
            ids = tuple(open(os.path.join(d, f)).read().strip() for f in ("vendor", "device"))
        except OSError:
            continue
        if ids == want:
            return os.path.basename(d)
    return None


def bind_vfio(bdf):
    """Give L1's device bdf to vfio-pci; its IOMMU group's number."""
    d = f"/sys/bus/pci/devices/{bdf}"
    drv = os.path.join(d, "driver")
    if os.path.exists(drv) and os.path.basename(os.readlink(drv)) != "vfio-pci":
        with open(os.path.join(drv, "unbind"), "w") as f:
            f.write(bdf)
    with open(os.path.join(d, "driver_override"), "w") as f:
        f.write("vfio-pci")
    if not os.path.exists(drv):
        with open("/sys/bus/pci/drivers_probe", "w") as f:
            f.write(bdf)
    group = os.path.basename(os.readlink(os.path.join(d, "iommu_group")))
    for _ in range(50):
        if os.path.exists(f"/dev/vfio/{group}"):
            break
        time.sleep(0.1)
    return group


def other_device():
    """A PCI device of L1 bound to some other driver (virtio-pci: the rig's 9p shares)."""
    for d in sorted(glob.glob("/sys/bus/pci/devices/*")):
        drv = os.path.join(d, "driver")
        if os.path.exists(drv) and os.path.basename(os.readlink(drv)) == "virtio-pci":
            return d
    return None


class Batch:
    def __init__(self, args, bdf):
        self.kiln = args.kiln
        self.bdf = bdf
        self.path = f"/sys/bus/pci/devices/{bdf}"
        self.tmp = tempfile.mkdtemp(prefix="kiln-vfio-")
        self.s = lg.Suite("linux-vfio")
        self.kernel, moddir = lg.debian_kernel()
        edutest = os.path.join(os.path.dirname(os.path.abspath(args.kiln)), "tests", "nested",
                               "edutest")
        self.initrd = lg.initrd(self.tmp, "vfio", SCENARIO, files={"bin/edutest": edutest},
                                moddir=moddir, modules=GUEST_MODULES)

    def cmdline(self, scn):
        return f"console=ttyS0 loglevel=4 panic=-1 scn={scn}"

    def run_cli(self, name, scn, stdin=False):
        return lg.Guest(name, [self.kiln, "run", "--kernel", self.kernel, "--initrd",
                               self.initrd, "--memory", "256M", "--cmdline", self.cmdline(scn),
                               "--vfio", self.path], self.tmp, stdin=stdin)

    def guest_saw_device(self, g, name):
        """The guest's "KT pci BDF pin=P" report: edu at a PCI address, with INTA."""
        words = (g.report("pci") or "").split()
        self.s.check(len(words) == 2 and words[1] == "pin=1",
                     f"{name}: the guest sees edu at a PCI address, interrupt pin INTA", str(words))
        return words[0] if words else ""

    def regs_ok(self, g, name, since=0):
        ident = g.wait_for(r"^KT edu ident (\S+)", 60, since=since)[1]
        live = g.wait_for(r"^KT edu liveness (\S+)", 10, since=since)[1]
        fact = g.wait_for(r"^KT edu factorial (\d+) (\S+)", 10, since=since)[1]
        self.s.equal(ident and ident.group(1), "0x010000ed",
                     f"{name}: identification register through the BAR")
        self.s.equal(live and live.group(1), "0xedcba987",
                     f"{name}: liveness register reads back the complement")
        self.s.equal(fact and fact.group(2), "ok", f"{name}: factorial unit (10! = 3628800)")

    def counters(self, sock):
        """kiln's counters of device edu0 (FlushMetrics), or {}."""
        st, body = kilntest.call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})
        try:
            with open(sock + ".metrics", encoding="utf-8") as f:
                last = json.loads(f.read().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            return {}
        c = find_key(last, "edu0") or {}
        print(f"  counters of edu0: {c} (FlushMetrics {st} {body})", flush=True)
        return c

    # --- scenarios ---

    def passthrough(self):
        name = "passthrough"
        doc = {"boot-source": {"kernel_image_path": self.kernel, "initrd_path": self.initrd,
                               "boot_args": self.cmdline("full")},
               "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
               "kiln_vfio": [{"id": "edu0", "path": self.path}]}
        cfg = os.path.join(self.tmp, "vfio.json")
        with open(cfg, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        sock = os.path.join(self.tmp, "vfio.sock")
        g = lg.Guest(name, [self.kiln, "--config-file", cfg, "--api-sock", sock,
                            "--metrics-path", sock + ".metrics"], self.tmp, stdin=True)
        up = g.wait_for(r"^KT pci", BOOT_TIMEOUT)[1] is not None
        if not self.s.check(up, f"{name}: the guest boots and looks for edu",
                            g.text()[-600:] + "\nkiln's stderr: " + g.stderr()[-600:]):
            g.proc.kill()
            return g.wait_exit(30)
        bdf = self.guest_saw_device(g, name)
        mm = g.report("mmcfg") or ""
        self.s.check("at [mem 0xf0000000-0xf00fffff]" in mm and "reserved" in mm
                     and "not reserved" not in mm,
                     f"{name}: Linux takes the ECAM window from MCFG, reserved by \\_SB.MRES", mm)
        self.regs_ok(g, name)
        c = self.counters(sock)
        self.s.equal(c.get("bar_reads", -1) + c.get("bar_writes", -1), 0,
                     f"{name}: register accesses went through the memory slot, none trapped")
        for n in (1024, 3072):
            m = g.wait_for(rf"^KT edu dma {n} bytes (\S+)", 60)[1]
            self.s.equal(m and m.group(1), "ok", f"{name}: DMA round trip of {n} bytes")
        irq = g.wait_for(r"^KT irq (\d+)", 60)[1]
        self.s.check(irq is not None and int(irq.group(1)) > 0,
                     f"{name}: uio_pci_generic gets an IRQ for edu (the DSDT's _PRT)",
                     str(irq and irq.group(0)))
        m = g.wait_for(r"^KT edu intx ok (\d+)", 60)[1]
        self.s.check(m is not None, f"{name}: three INTx interrupts reach uio_pci_generic",
                     "\n".join(g.reports("edu")[-4:]) if m is None else "")
        slot = int(bdf.split(":")[-1].split(".")[0], 16) if bdf else 0
        m = g.wait_for(r"^KT intx-line (.*)$", 30)[1]
        line = m.group(1) if m else ""
        self.s.check(f"IO-APIC {20 + slot % 4}-fasteoi" in line,
                     f"{name}: INTA of slot {slot} is IOAPIC pin {20 + slot % 4}, level", line)
        m = g.wait_for(r"^KT msi-arrived (\d+)", 60)[1]
        self.s.equal(m and int(m.group(1)), 3,
                     f"{name}: three MSIs the guest programmed arrive at CPU 0 with its vector")
        if not self.s.check(g.wait_for(r"^KT waiting", 30)[1] is not None,
                            f"{name}: the guest waits for the API checks"):
            return g.wait_exit(5)
        st, body = kilntest.call(sock, "PATCH", "/vm", {"state": "Paused"})
        self.s.equal(st, 204, f"{name}: pause ({body})")
        st, body = kilntest.call(sock, "PUT", "/snapshot/create",
                                 {"snapshot_path": os.path.join(self.tmp, "s"),
                                  "mem_file_path": os.path.join(self.tmp, "m")})
        self.s.check(st == 400 and "passthrough" in str(body),
                     f"{name}: snapshot refused with a 400 naming the passthrough device",
                     f"{st} {body}")
        st, body = kilntest.call(sock, "PUT", "/migrate", {"destination": "127.0.0.1:1"})
        self.s.check(st == 400 and "passthrough" in str(body),
                     f"{name}: migration refused with a 400 naming the passthrough device",
                     f"{st} {body}")
        st, body = kilntest.call(sock, "PATCH", "/vm", {"state": "Resumed"})
        self.s.equal(st, 204, f"{name}: resume after the refusals ({body})")
        g.send("go\n")
        self.s.equal(g.wait_exit(120), 0, f"{name}: the guest powers off, kiln exits 0")
        errs = lg.kernel_errors(g)
        self.s.check(not errs, f"{name}: no kernel errors in the guest", "\n".join(errs[:5]))

    def msix(self):
        """L1's virtio-rng passed through: Debian's virtio_pci and virtio_rng drive it with
        MSI-X (kiln's msix.c over the device's own table, one irqfd per vector)."""
        name = "msix"
        rng = find_dev(RNG)
        if not self.s.check(rng is not None, f"{name}: L1 has its virtio-rng"):
            return
        bind_vfio(rng)
        g = lg.Guest(name, [self.kiln, "run", "--kernel", self.kernel, "--initrd", self.initrd,
                            "--memory", "256M", "--cmdline", self.cmdline("msix"), "--vfio",
                            f"/sys/bus/pci/devices/{rng}"], self.tmp)
        m = g.wait_for(r"^KT msix (.*)$", BOOT_TIMEOUT)[1]
        if not self.s.check(m is not None, f"{name}: the guest reads its passed-through rng",
                            g.text()[-600:] + "\nkiln's stderr: " + g.stderr()[-600:]):
            g.proc.kill()
            return g.wait_exit(30)
        self.s.equal(g.report("rng"), "virtio_rng.0", f"{name}: virtio_rng drives the device")
        self.s.equal(g.report("rng-bytes"), "4096", f"{name}: 4096 bytes from /dev/hwrng")
        req = [l for l in m.group(1).split("|") if "virtio0-input" in l]
        counts = [int(w) for w in (req[0].split()[1:2] if req else []) if w.isdigit()]
        self.s.check(bool(counts) and counts[0] > 0 and "PCI-MSI" in req[0],
                     f"{name}: its queue interrupts through a vector of its own", m.group(1))
        mode = g.wait_for(r"^KT msi-mode (.*)$", 30)[1]
        self.s.equal(mode and mode.group(1).strip(), "msix",
                     f"{name}: the guest's vectors are MSI-X (sysfs msi_irqs)")
        self.s.equal(g.wait_exit(60), 0, f"{name}: the guest powers off, kiln exits 0")

    def busy(self):
        name = "busy"
        a = self.run_cli(name + "-a", "hold", stdin=True)
        ok = a.wait_for(r"^KT holding", BOOT_TIMEOUT)[1] is not None
        if not self.s.check(ok, f"{name}: the first kiln's guest holds edu",
                            a.text()[-600:] + "\nkiln's stderr: " + a.stderr()[-600:]):
            a.proc.kill()
            return a.wait_exit(30)
        b = subprocess.run([self.kiln, "run", "--memory", "64M", "--vfio", self.path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
        lines = b.stderr.strip().splitlines()
        self.s.check(b.returncode != 0 and len(lines) == 1 and self.path in lines[0],
                     f"{name}: a second kiln for the same device exits with one line naming it",
                     f"status {b.returncode}: {b.stderr.strip()}")
        since = a.count()
        a.send("go\n")
        self.regs_ok(a, name + " (first kiln afterwards)", since=since)
        self.s.equal(a.wait_exit(60), 0, f"{name}: the first kiln exits 0")
        c = self.run_cli(name + "-c", "regs")
        self.regs_ok(c, name + " (a third kiln after the first exited)")
        self.s.equal(c.wait_exit(120), 0, f"{name}: the third kiln exits 0")

    def bad_input(self):
        name = "bad-input"
        other = other_device()
        cfg = os.path.join(self.tmp, "bad.json")
        with open(cfg, "w", encoding="utf-8") as f:
            json.dump({"machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
                       "kiln_vfio": [{"id": "x", "path": self.path, "rom": True}]}, f)
        cases = [
            ("no such device", ["run", "--vfio", "/sys/bus/pci/devices/0000:00:1f.7"],
             "0000:00:1f.7"),
            ("a relative path", ["run", "--vfio", "devices/0000:00:03.0"], "--vfio"),
            ("--vfio with a balloon", ["run", "--vfio", self.path, "--balloon",
                                       "amount_mib=0"], "balloon"),
            ("a kiln_vfio entry with an unknown field", ["--config-file", cfg], "rom"),
        ]
        if other:
            cases.append(("a device bound to another driver", ["run", "--vfio", other], other))
        for what, argv, needle in cases:
            p = subprocess.run([self.kiln, *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=60)
            lines = p.stderr.strip().splitlines()
            self.s.check(p.returncode != 0 and len(lines) == 1 and needle in lines[0],
                         f"{name}: {what}: non-zero exit, one line naming it",
                         f"status {p.returncode}: {p.stderr.strip()}")
        self.s.check(os.path.isdir("/usr/bin") and len(os.listdir("/usr/bin")) > 10,
                     f"{name}: L1's 9p root still answers afterwards")

    def run(self, only):
        for n, fn in (("passthrough", self.passthrough), ("msix", self.msix),
                      ("busy", self.busy), ("bad-input", self.bad_input)):
            if not only or n in only:
                self.s.scenario(n, fn)
        return self.s.finish()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    bdf = find_dev(EDU)
    if not bdf:
        print("linux-vfio: no edu device in this machine (run under scripts/nested --edu)")
        return 1 if os.environ.get("CI") else lg.SKIP
    group = bind_vfio(bdf)
    print(f"linux-vfio: edu at {bdf}, IOMMU group {group}, bound to vfio-pci", flush=True)
    return Batch(args, bdf).run([o for o in args.only.split(",") if o])


if __name__ == "__main__":
    sys.exit(main())

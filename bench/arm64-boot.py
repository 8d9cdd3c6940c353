#!/usr/bin/env python3
"""bench/arm64-boot.py --kiln ARM64_KILN — arm64 Linux boot time and memory, kiln's arm64 board
against QEMU's virt board, both on the same KVM inside the arm64 nested rig's L1 (a benchmark,
not a test).

What is measured. Each run starts a VMM with 256 MiB and a kernel with the same initramfs, whose
/init mounts /proc and prints `BOOT-DONE <uptime>` at once, then `poweroff -f` (PSCI SYSTEM_OFF:
both VMMs exit). bench/arm64/boottime.c (static, arm64) forks the VMM and reports CLOCK_MONOTONIC
milliseconds from the fork to the marker line on the VMM's stdout and to the VMM's exit, the
VMM's VmRSS (/proc/PID/status) when the marker came, and the guest's /proc/uptime printed with
the marker. Configurations, BENCH_RUNS runs each (default 5), alternating kiln and QEMU run by
run (kiln, QEMU, kiln, QEMU, ... across the configurations of one round, then the next round):
- Debian's stock arm64 kernel (scripts/fetch-debian-kernel --arch arm64), 1 vCPU and 2 vCPUs,
  console on each board's UART: kiln `console=ttyS0` (its 16550), QEMU `console=ttyAMA0` (the
  virt board's PL011); both drivers are built into Debian's kernel;
- the project's small arm64 kernel (scripts/build-linux --arch arm64), 1 vCPU, console on a
  virtio console (`console=hvc0`) with both VMMs: the small kernel has the 8250 driver but no
  PL011 driver, so on QEMU's board its only console is virtio. kiln `--serial none
  --console-virtio stdio`; QEMU `-device virtio-serial-device,max_ports=1 -device virtconsole`
  (one port: no MULTIPORT feature, like kiln's device, so the console port comes up in the
  driver's probe without a control queue exchange);
- the small kernel on kiln's 16550 (`console=ttyS0`), kiln only: QEMU's board has no UART that
  kernel drives. It shows what the console choice costs kiln.
All with `quiet panic=-1`. kiln: `kiln run --kernel K --initrd I --memory 256M --cpus N --cmdline
"console=ttyS0 quiet panic=-1"`. QEMU 7.2 (Debian 12's arm64 qemu-system-arm, run chrooted in an
arm64 root file system made once on the host with mmdebstrap and cached under ~/.cache/kiln):
`qemu-system-aarch64 -enable-kvm -M virt,gic-version=3 -cpu host -smp N -m 256M -nodefaults
-no-user-config -display none -serial stdio -kernel K -initrd I -append "console=ttyAMA0 quiet
panic=-1" -no-reboot`.

What is comparable and what is not. The guests are the same files (kernel and initramfs copied
into one tmpfs in L1, bind-mounted at the same path into QEMU's chroot), the same command line but
for console=, the same memory, vCPUs and KVM. The boards differ: QEMU's virt board has a PCIe host
bridge (Debian's kernel probes and scans it; the small kernel has no PCI), a GICv3 ITS, 32
virtio-mmio transports in its device tree (probed by both kernels), fw_cfg, a PL061 GPIO and a
PL031 RTC; kiln's board has its 16550s, a PL031 and only the devices asked for. QEMU keeps a copy
of -kernel and -initrd in its own memory for reset (its VmRSS holds the 32 MB Debian Image twice);
both VMMs' VmRSS also counts the guest memory the boot touched and the VMM's own mapped code
(QEMU's is a 23 MB binary and 50 shared libraries; kiln's 1.1 MB of text and libc). The
UART consoles differ in cost per byte (a vCPU exit per register access for both, PL011 and
16550 drivers behave differently); with `quiet` the consoles carry a few lines. The VMMs' own
start-up (process exec, dynamic linking: QEMU through busybox chroot) is part of both figures.

L1 is emulated (TCG, qemu-system-aarch64 on this x86 host): the absolute milliseconds are the
emulator's, many times those of real hardware; the ratio kiln/QEMU is the comparison, both VMMs
paying the same emulation. Figures whose kiln and QEMU ranges (min..max) overlap are marked as
within noise. One untimed boot per VMM comes first (it pages the VMMs' code in through L1's
read-only 9p view of the host and checks that QEMU runs); consoles go to L1's tmpfs, never into
the 9p-shared work directory (a console written byte by byte into 9p costs ~40 s a boot).

Everything is prepared on the host in a work directory: the initramfs (Debian's arm64
busybox-static), boottime cross-compiled with aarch64-linux-gnu-gcc -static, a busybox shell
script for L1; scripts/nested --arch arm64 runs that script in one L1; the host then reads the
results and prints per configuration: time to the marker and to exit (median [min..max] ms),
kiln/QEMU, VmRSS at the marker (MiB), the guest's uptime at the marker (s), and the time to the
marker minus that uptime (ms: the VMM's start-up, loading the kernel and the guest's boot before
its clock started), each marked "noise" when kiln's and QEMU's ranges overlap, "apart" when they
do not ("n/a" with a single run). If QEMU cannot run in L1 (no root file system,
`qemu-system-aarch64 --version` fails in the chroot, its first boot fails) kiln's figures are
printed alone with the reason.

Needs (scripts/install-deps --bench-arm64): the arm64 rig's packages, mmdebstrap,
qemu-user-static, binfmt-support and arch-test. Exit status 0 when every kiln run counted, 1
otherwise.
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

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import initramfs  # noqa: E402

import bootfig  # noqa: E402  (bench/, this script's directory)

MARKER = "BOOT-DONE"
MEM = "256M"
CACHE = os.environ.get("KILN_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kiln")
RUN_LIMIT_S = 300  # boottime kills a VMM whose guest has not powered off by then
LOCAL = "/tmp/kiln-bench-arm64"  # a tmpfs the L1 script mounts: kernels, VMMs, consoles

# The guest's /init: the marker with the guest's uptime as early as userspace can print it, then
# PSCI SYSTEM_OFF. No `busybox --install`: each applet is called through busybox.
INIT = r"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle < /proc/uptime
echo "BOOT-DONE $up"
/bin/busybox poweroff -f
"""

# (key, label, kernel: "debian" or "small", vCPUs, console: "uart" or "virtio", VMMs)
CONFIGS = [
    ("deb-1", "Debian kernel, 1 vCPU, UART console", "debian", 1, "uart", ("kiln", "qemu")),
    ("deb-2", "Debian kernel, 2 vCPUs, UART console", "debian", 2, "uart", ("kiln", "qemu")),
    ("small-1", "small kernel, 1 vCPU, virtio console", "small", 1, "virtio", ("kiln", "qemu")),
    ("small-1-uart", "small kernel, 1 vCPU, kiln's 16550", "small", 1, "uart", ("kiln",)),
]

L1_HEAD = r"""#!/bin/sh
# written by bench/arm64-boot.py: runs in the arm64 L1 with busybox's sh
W=@WORK@
R=@QEMU_ROOT@
T=@LOCAL@
say() { echo "arm64-boot: $*"; }
: > "$W/results"
mkdir -p "$T" "$W/consoles"
mount -t tmpfs -o size=1G kiln-bench "$T" || { say "cannot mount a tmpfs at $T"; exit 1; }
mkdir -p "$T/log"
cp @FILES@ "$T/" || { say "cannot copy the VMM, kernels and initramfs into $T"; exit 1; }
say "L1: $(uname -m), $(nproc) CPUs, $(ls -l /dev/kvm)"

# QEMU runs chrooted in R; the guest's files are bind-mounted at the same path there.
qemu_ok=0
why=""
if [ -z "$R" ]; then
	why="no arm64 root file system with QEMU"
elif mkdir -p "$R/dev" "$R/proc" "$R/sys" "$R$T" && mount --bind /dev "$R/dev" &&
	mount --bind /proc "$R/proc" && mount --bind /sys "$R/sys" && mount --bind "$T" "$R$T"; then
	if chroot "$R" qemu-system-aarch64 --version > "$T/qemu-version" 2>&1; then
		qemu_ok=1
		say "$(head -n 1 "$T/qemu-version")"
	else
		why="chroot $R qemu-system-aarch64 --version failed: $(tail -n 3 "$T/qemu-version" | tr '\n' ' ')"
	fi
else
	why="cannot bind /dev, /proc, /sys and $T into $R"
fi

# one CONFIG VMM RUN CMD...: one boot through boottime; its result line goes to $W/results, its
# console and stderr to $T/log (copied to $W/consoles after the boot, outside the timing).
one() {
	c=$1; v=$2; i=$3; shift 3
	tag=$c.$v.$i
	"$T/boottime" -t @LIMIT@ -m @MARKER@ -o "$T/log/$tag.console" -- "$@" \
		> "$T/log/$tag.result" 2> "$T/log/$tag.err"
	r=$(cat "$T/log/$tag.result")
	echo "$c $v $i $r" >> "$W/results"
	cp "$T/log/$tag.console" "$T/log/$tag.err" "$W/consoles/"
	say "$c $v run $i: $r"
}
"""

L1_QEMU_CHECK = r"""
# The first QEMU boot, untimed, decides whether QEMU is compared.
if [ $qemu_ok = 1 ]; then
	one @CFG@ qemu warmup @QEMU_CMD@
	case "$r" in
	*"status=0 "*) case "$r" in marker_ms=-1*) qemu_ok=0 ;; esac ;;
	*) qemu_ok=0 ;;
	esac
	[ $qemu_ok = 1 ] || why="its first boot failed: $r; stderr: $(tail -c 400 "$T/log/@CFG@.qemu.warmup.err" | tr '\n' ' ')"
fi
if [ $qemu_ok = 0 ]; then
	say "QEMU not compared: $why"
	echo "$why" > "$W/qemu-why"
fi
cp "$T/qemu-version" "$W/" 2>/dev/null
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def say(msg):
    print(f"arm64-boot: {msg}", flush=True)


def candidate(pkg):
    """apt's candidate version of pkg, or None."""
    p = subprocess.run(["apt-cache", "policy", pkg], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"^\s*Candidate:\s*(\S+)", p.stdout, re.M)
    return m.group(1) if m and m.group(1) != "(none)" else None


def ensure_deps():
    """scripts/install-deps --bench-arm64 when something it installs is missing here."""
    tools = ["mmdebstrap", "qemu-system-aarch64", "aarch64-linux-gnu-gcc", "arch-test"]
    if all(shutil.which(t) for t in tools):
        return
    say("installing the arm64 benchmark's packages (scripts/install-deps --bench-arm64)")
    subprocess.run([os.path.join(ROOT, "scripts", "install-deps"), "--bench-arm64"],
                   stdout=subprocess.DEVNULL, check=False)


def qemu_root():
    """(path, None) of the cached arm64 root file system with QEMU and busybox, made with
    mmdebstrap when the cache has none for apt's current qemu-system-arm:arm64; (None, why) when
    it cannot be made. Made in DIR.tmp and renamed, so an existing DIR is complete."""
    ver = candidate("qemu-system-arm:arm64")
    if ver is None:  # no arm64 package lists (offline, or no arm64 architecture): reuse one
        have = sorted(d for d in os.listdir(CACHE) if d.startswith("qemu-arm64-root-")
                      and not d.endswith(".tmp")) if os.path.isdir(CACHE) else []
        if have:
            return os.path.join(CACHE, have[-1]), None
        return None, "apt knows no qemu-system-arm:arm64 (scripts/install-deps --bench-arm64)"
    d = os.path.join(CACHE, "qemu-arm64-root-" + ver.replace(":", "_"))
    if os.path.isfile(os.path.join(d, "usr", "bin", "qemu-system-aarch64")):
        return d, None
    if not shutil.which("mmdebstrap"):
        return None, "no mmdebstrap (scripts/install-deps --bench-arm64)"
    tmp = d + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(CACHE, exist_ok=True)
    say(f"making the arm64 root file system with QEMU {ver} (mmdebstrap, once): {d}")
    t0 = time.monotonic()
    p = subprocess.run(["mmdebstrap", "--arch=arm64", "--variant=essential",
                        "--include=qemu-system-arm,busybox", "bookworm", tmp],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0 or not os.path.isfile(os.path.join(tmp, "usr", "bin",
                                                            "qemu-system-aarch64")):
        shutil.rmtree(tmp, ignore_errors=True)
        return None, f"mmdebstrap failed ({p.returncode}): {p.stdout[-400:]}"
    os.rename(tmp, d)
    say(f"mmdebstrap took {time.monotonic() - t0:.0f} s")
    return d, None


class Prep:
    """What the host puts in the work directory W before L1 boots, and where the guests are."""

    def __init__(self, work, kiln):
        self.work = work
        self.kiln = kiln
        busybox = run([os.path.join(ROOT, "scripts", "fetch-arm64-busybox")]).strip()
        tree = run([os.path.join(ROOT, "scripts", "fetch-debian-kernel"), "--arch", "arm64",
                    "--tree"]).strip()
        boot = os.path.join(tree, "boot")
        self.debian = os.path.join(boot, next(f for f in sorted(os.listdir(boot))
                                              if f.startswith("vmlinuz-")))
        p = subprocess.run([os.path.join(ROOT, "scripts", "build-linux"), "--arch", "arm64"],
                           stdout=subprocess.PIPE, text=True)
        m = re.search(r"^image=(.*)$", p.stdout, re.M)
        if p.returncode != 0 or not m:
            raise RuntimeError("scripts/build-linux --arch arm64 failed")
        self.small = m.group(1)
        t = initramfs.Tree()
        initramfs.busybox(t, busybox)
        for d in ("proc", "dev"):
            t.dir(d)
        t.file("init", INIT, 0o755)
        self.initrd = t.write(os.path.join(work, "boot.cpio"))
        self.boottime = os.path.join(work, "boottime")
        subprocess.run(["aarch64-linux-gnu-gcc", "-static", "-O2", "-Wall", "-o", self.boottime,
                        os.path.join(ROOT, "bench", "arm64", "boottime.c")], check=True)


def vmm_argv(vmm, kernel, cpus, console):
    """The VMM's command line in L1 for kernel ("debian.Image" or "small.Image" in LOCAL)."""
    k, i = f"{LOCAL}/{kernel}.Image", f"{LOCAL}/boot.cpio"
    tail = "quiet panic=-1"
    if vmm == "kiln":
        a = [f"{LOCAL}/kiln", "run", "--kernel", k, "--initrd", i, "--memory", MEM, "--cpus",
             str(cpus)]
        if console == "virtio":
            return a + ["--serial", "none", "--console-virtio", "stdio", "--cmdline",
                        f"console=hvc0 {tail}"]
        return a + ["--cmdline", f"console=ttyS0 {tail}"]
    a = ["chroot", "@ROOT@", "qemu-system-aarch64", "-enable-kvm", "-M", "virt,gic-version=3",
         "-cpu", "host", "-smp", str(cpus), "-m", MEM, "-nodefaults", "-no-user-config",
         "-display", "none"]
    if console == "virtio":
        a += ["-chardev", "stdio,id=con", "-device", "virtio-serial-device,max_ports=1",
              "-device", "virtconsole,chardev=con"]
        cmdline = f"console=hvc0 {tail}"
    else:
        a += ["-serial", "stdio"]
        cmdline = f"console=ttyAMA0 {tail}"
    return a + ["-kernel", k, "-initrd", i, "-append", cmdline, "-no-reboot"]


def shell(argv):
    """argv as a shell command line; @ROOT@ becomes the QEMU root's variable."""
    return " ".join('"$R"' if a == "@ROOT@" else shlex.quote(a) for a in argv)


def l1_script(p, root, runs):
    q = shlex.quote
    # the VMM and the kernels under fixed names, copied into LOCAL by the script
    for name, target in (("debian.Image", p.debian), ("small.Image", p.small), ("kiln", p.kiln)):
        link = os.path.join(p.work, name)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(target, link)
    files = " ".join(q(os.path.join(p.work, f)) for f in ("debian.Image", "small.Image", "kiln",
                                                          "boot.cpio", "boottime"))
    head = (L1_HEAD.replace("@WORK@", q(p.work)).replace("@QEMU_ROOT@", q(root or ""))
            .replace("@LOCAL@", LOCAL).replace("@FILES@", files)
            .replace("@LIMIT@", str(RUN_LIMIT_S)).replace("@MARKER@", MARKER))
    lines = [head]
    first = CONFIGS[0]
    lines.append(f"one {first[0]} kiln warmup " + shell(vmm_argv("kiln", *first[2:5])))
    lines.append(L1_QEMU_CHECK.replace("@CFG@", first[0])
                 .replace("@QEMU_CMD@", shell(vmm_argv("qemu", *first[2:5]))))
    for i in range(1, runs + 1):
        for key, _, kernel, cpus, console, vmms in CONFIGS:
            for v in vmms:
                cmd = f"one {key} {v} {i} " + shell(vmm_argv(v, kernel, cpus, console))
                lines.append(f"[ $qemu_ok = 1 ] && {cmd}" if v == "qemu" else cmd)
    lines.append('say "done"')
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def parse(work):
    """{(config, vmm): [dict per counted run]}, [lines of runs that failed]."""
    got, failed = {}, []
    try:
        with open(os.path.join(work, "results")) as f:
            lines = f.read().splitlines()
    except OSError:
        return got, ["no results file: L1 did not run the script"]
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[2] == "warmup":
            continue
        kv = dict(x.split("=", 1) for x in parts[3:] if "=" in x)
        try:
            r = {"marker": float(kv["marker_ms"]), "exit": float(kv["exit_ms"]),
                 "rss": int(kv["rss_kib"]) / 1024, "status": int(kv["status"]),
                 "uptime": kv.get("uptime", "-")}
        except (KeyError, ValueError):
            failed.append(line)
            continue
        if r["marker"] < 0 or r["status"] != 0:
            failed.append(line)
            continue
        r["uptime"] = float(r["uptime"]) if re.match(r"^[0-9.]+$", r["uptime"]) else None
        # the VMM's start-up and the guest's time before its clock started counting
        r["before"] = r["marker"] - r["uptime"] * 1e3 if r["uptime"] is not None else None
        got.setdefault((parts[0], parts[1]), []).append(r)
    return got, failed


def report(got, failed, runs, qemu_version, why_not_qemu):
    qemu = any(v == "qemu" for _, v in got)
    print(f"\narm64 boot inside the emulated arm64 L1 (TCG): {runs} runs each, alternating "
          f"kiln and QEMU; 256 MiB; median [min..max]")
    if qemu_version:
        print(f"QEMU: {qemu_version}")
    print("Times are TCG's, not real hardware's: the ratio is the comparison. 'noise': the two "
          "VMMs' ranges overlap;\n'apart': they do not. 'marker - guest uptime': the VMM's "
          "start-up and the guest's boot before its clock\nstarted (kernel load, early boot).\n")
    figures = bootfig.FIGURES
    print(f"{'configuration':40}{'figure':24}{'unit':5}{'kiln':>24}" +
          (f"{'QEMU':>24}{'kiln/QEMU':>11}  apart?" if qemu else ""))
    for key, label, *_ in CONFIGS:
        k = got.get((key, "kiln"), [])
        qx = got.get((key, "qemu"), [])
        for fi, (f, flabel, unit, digits) in enumerate(figures):
            kv = [r[f] for r in k if r[f] is not None]
            qv = [r[f] for r in qx if r[f] is not None]
            line = f"{label if fi == 0 else '':40}{flabel:24}{unit:5}"
            line += f"{bootfig.fmt(kv, digits) if kv else 'no run counted':>24}"
            if qemu and qv:
                line += f"{bootfig.fmt(qv, digits):>24}"
                if kv:
                    line += bootfig.compare(kv, qv)
            elif qemu and key != "small-1-uart":
                line += f"{'no run counted':>24}"
            print(line)
    if not qemu:
        print(f"(QEMU not compared: {why_not_qemu or 'none of its runs counted'})")
    for line in failed:
        print(f"not counted (no marker or a non-zero status): {line}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True, help="the arm64 kiln (make build-arm64)")
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")))
    ap.add_argument("--keep", help="use this work directory and keep it")
    args = ap.parse_args()
    if not os.path.exists(args.kiln):
        say(f"no arm64 kiln at {args.kiln} (make build-arm64)")
        return 1
    ensure_deps()
    if not shutil.which("qemu-system-aarch64"):
        say("qemu-system-aarch64 is missing (scripts/install-deps --arm64): the rig cannot run")
        return 1
    root, why_not_qemu = qemu_root()
    if why_not_qemu:
        say(f"QEMU will not be compared: {why_not_qemu}")
    work = os.path.realpath(args.keep or tempfile.mkdtemp(prefix="kiln-bench-arm64-"))
    os.makedirs(work, exist_ok=True)
    p = Prep(work, os.path.realpath(args.kiln))
    script = os.path.join(work, "l1.sh")
    with open(script, "w") as f:
        f.write(l1_script(p, root, args.runs))
    os.chmod(script, 0o755)
    boots = 2 + args.runs * sum(len(c[5]) for c in CONFIGS)
    timeout = 600 + boots * 60
    start = time.monotonic()
    rig = subprocess.Popen([os.path.join(ROOT, "scripts", "nested"), "--arch", "arm64",
                            "--workdir", work, "--timeout", str(timeout), "--", script],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(work, "rig.log"), "w") as log:
        for line in rig.stdout:  # the rig's log in the work directory; progress lines shown
            log.write(line)
            if "arm64-boot:" in line or "nested: L1 attempt" in line:
                print(line.rstrip(), flush=True)
    rc = rig.wait()
    say(f"the rig ran {time.monotonic() - start:.0f} s, status {rc}")
    got, failed = parse(work)
    if not why_not_qemu:  # the host's reason (no root file system) over L1's
        try:
            with open(os.path.join(work, "qemu-why")) as f:
                why_not_qemu = f.read().strip()
        except OSError:
            pass
    qemu_version = None
    try:
        with open(os.path.join(work, "qemu-version")) as f:
            qemu_version = f.readline().strip()
    except OSError:
        pass
    report(got, failed, args.runs, qemu_version, why_not_qemu)
    counted = all(len(got.get((c[0], "kiln"), [])) == args.runs for c in CONFIGS)
    if args.keep or failed or rc != 0 or not counted:
        print(f"(work directory kept: {work}: rig.log, results, consoles/)")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if counted and rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

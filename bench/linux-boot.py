#!/usr/bin/env python3
"""bench/linux-boot.py --kiln KILN [--json PATH] — x86 Linux boot time and memory, kiln against QEMU microvm on the
same KVM, measured in the same run (a benchmark, not a test).

Runs inside the nested rig's L1 (bench/run starts it with scripts/nested, part `boot`): a Linux
guest cannot boot on the development machines' PVM /dev/kvm, so both VMMs run on L1's KVM, and L1
itself is emulated (TCG). The absolute figures are the emulator's; the ratio kiln/QEMU is the
comparison, both VMMs paying the same emulation.

Each run boots the project's kernel (configs/linux-kiln.config, bzImage) with the same busybox
initramfs, 256 MiB, with `console=ttyS0 quiet panic=-1`: its /init mounts /proc, prints
`BOOT-DONE <uptime>` at once and powers off (`poweroff -f`: ACPI S5, both VMMs exit). Measured
from the spawn: the marker line on the VMM's stdout and the VMM's exit; the VMM's VmRSS when the
marker came; the guest's uptime at the marker, and the marker minus that uptime (the VMM's
start-up, loading the kernel and the guest's boot before its clock started). 1 and 2 vCPUs,
BENCH_RUNS runs each (default 5), kiln and QEMU alternating run by run after one untimed boot of
each.

- kiln: `kiln run --kernel bzImage --initrd I --memory 256M --cpus N --cmdline ...`.
- QEMU: `qemu-system-x86_64 -M microvm -accel kvm -cpu host -m 256M -smp N -nodefaults
  -no-user-config -display none -no-reboot -serial stdio -kernel bzImage -initrd I -append ...`
  (microvm's defaults: ISA serial, ACPI with its GED for the poweroff, PIC, PIT, RTC).
Prints median [min..max] and kiln/QEMU, each figure marked "apart" when the two VMMs' ranges do
not overlap and "noise" when they do; --json writes the samples for the report (bench/report.py).
Exit status 0 when every run counted.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import initramfs  # noqa: E402
import linuxguest as lg  # noqa: E402

import bootfig  # noqa: E402  (bench/, this script's directory)

MARKER = "BOOT-DONE"
CMDLINE = "console=ttyS0 quiet panic=-1"
TIMEOUT = 300
INIT = r"""#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read up idle < /proc/uptime
echo "BOOT-DONE $up"
/bin/busybox poweroff -f
"""


def initrd(tmp):
    t = initramfs.Tree()
    initramfs.busybox(t)
    for d in ("proc", "dev"):
        t.dir(d)
    t.file("init", INIT, 0o755)
    return t.write(os.path.join(tmp, "boot.cpio"))


def argv(vmm, kiln, kernel, rd, cpus):
    if vmm == "kiln":
        return [kiln, "run", "--kernel", kernel, "--initrd", rd, "--memory", "256M", "--cpus",
                str(cpus), "--cmdline", CMDLINE]
    return ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", "256M",
            "-smp", str(cpus), "-nodefaults", "-no-user-config", "-display", "none",
            "-no-reboot", "-serial", "stdio", "-kernel", kernel, "-initrd", rd,
            "-append", CMDLINE]


def vm_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def one(name, cmd, tmp):
    """One boot: a dict of figures, or None (said why)."""
    g = lg.Guest(name, cmd, tmp, echo=False)
    i, m = g.wait_for(MARKER + r" ([0-9.]+)", TIMEOUT)
    rss = vm_rss_mib(g.proc.pid) if m else None
    with g.cond:  # the console's end: the VMM has exited (kiln's reaper holds no stdout)
        g.cond.wait_for(lambda: g.eof, timeout=TIMEOUT)
    exit_ms = (time.monotonic() - g.start) * 1e3
    status = g.wait_exit(TIMEOUT)
    if m is None or status != 0:
        print(f"linux-boot: {name} not counted (status {status}, marker "
              f"{'seen' if m else 'missing'}): {g.text()[-300:]} {g.stderr()[-300:]}",
              flush=True)
        return None
    with g.cond:
        marker_ms = g.lines[i][0] * 1e3  # seconds from the spawn to the line's arrival
    up_ms = float(m.group(1)) * 1e3
    return {"marker": marker_ms, "exit": exit_ms, "rss": rss, "uptime": up_ms / 1e3,
            "before": marker_ms - up_ms}


def report(got, runs):
    print(f"\nx86 Linux boot inside the emulated L1 (TCG): {runs} runs each, kiln and QEMU "
          "microvm alternating; 256 MiB; median [min..max]")
    print(f"{'configuration':16}{'figure':24}{'unit':5}{'kiln':>26}{'QEMU':>26}"
          f"{'kiln/QEMU':>11}  apart?")
    for cpus in (1, 2):
        k, q = got[("kiln", cpus)], got[("qemu", cpus)]
        for n, (f, label, unit, d) in enumerate(bootfig.FIGURES):
            kv = [r[f] for r in k if r[f] is not None]
            qv = [r[f] for r in q if r[f] is not None]
            line = f"{f'{cpus} vCPU' if n == 0 else '':16}{label:24}{unit:5}"
            line += f"{bootfig.fmt(kv, d) if kv else 'no run':>26}"
            line += f"{bootfig.fmt(qv, d) if qv else 'no run':>26}"
            if kv and qv:
                line += bootfig.compare(kv, qv)
            print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")))
    ap.add_argument("--json", help="write the samples here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kiln-bench-boot-")
    kernel, rd = lg.kiln_kernel("bzimage"), initrd(tmp)
    for vmm in ("kiln", "qemu"):  # untimed: pages each VMM's code in, checks that it runs
        if one(f"{vmm}-warmup", argv(vmm, args.kiln, kernel, rd, 1), tmp) is None:
            print(f"linux-boot: the {vmm} warm-up boot failed", flush=True)
    got = {(v, c): [] for v in ("kiln", "qemu") for c in (1, 2)}
    for i in range(args.runs):
        for cpus in (1, 2):
            for vmm in ("kiln", "qemu"):
                r = one(f"{vmm}-{cpus}-{i + 1}", argv(vmm, args.kiln, kernel, rd, cpus), tmp)
                if r:
                    got[(vmm, cpus)].append(r)
                    print(f"linux-boot: {vmm} {cpus} vCPU run {i + 1}: marker "
                          f"{r['marker']:.0f} ms, uptime {r['uptime']:.2f} s", flush=True)
    report(got, args.runs)
    if args.json:
        figs = [{"key": f"{f}_{c}", "label": f"{c} vCPU: {label}", "unit": unit,
                 "samples": {v: [r[f] for r in got[(v, c)] if r[f] is not None]
                             for v in ("kiln", "qemu")}}
                for c in (1, 2) for f, label, unit, _ in bootfig.FIGURES]
        with open(args.json, "w") as f:
            json.dump(figs, f)
    return 0 if all(len(v) == args.runs for v in got.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

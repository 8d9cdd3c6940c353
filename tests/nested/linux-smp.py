#!/usr/bin/env python3
"""linux-smp.py — the full-Linux suite's SMP soak, run inside the nested rig's L1
(scripts/nested): Linux on 4 vCPUs runs CPU-bound threads pinned to every CPU plus IPI-heavy
work (cross-CPU futex wake-ups, membarrier, a migrating thread) for --seconds (60), checked by
tests/nested/guest/smpsoak.c every 5 s: every thread progressed, stayed on its CPU, and every
CPU took reschedule and function-call IPIs. Then the guest reports its online CPUs and powers
off: no hang, no lost vCPU.

    linux-smp.py --kiln PATH [--seconds 60]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import linuxguest as lg  # noqa: E402

SCENARIO = """kt start $(cut -d' ' -f1 /proc/uptime)
/bin/smpsoak {seconds} 5
kt stop $(cut -d' ' -f1 /proc/uptime)
kt online "$(cat /sys/devices/system/cpu/online)"
""" + lg.REPORT_KERNEL_ERRORS


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("--seconds", type=int, default=60)
    args = ap.parse_args()
    s = lg.Suite("linux-smp")
    tmp = tempfile.mkdtemp(prefix="kiln-smp-")
    soak = os.path.join(os.path.dirname(os.path.abspath(args.kiln)), "tests", "nested",
                        "smpsoak")
    initrd = lg.initrd(tmp, "smp", SCENARIO.format(seconds=args.seconds),
                       files={"bin/smpsoak": soak})

    def soak():
        # -v: kiln logs why the VM stopped (a guest reset, a signal), which the soak's
        # checks show when it ends early
        g = lg.Guest("smp-soak", [args.kiln, "run", "-v", "--kernel", lg.kiln_kernel("bzimage"),
                                  "--initrd", initrd, "--cpus", "4", "--memory", "1G",
                                  "--cmdline", "console=ttyS0 loglevel=4 panic=-1"], tmp)
        status = g.wait_exit(args.seconds + 60)
        s.check(status == 0, "smp-soak: kiln exits 0 after the guest powers off",
                f"status {status}; {g.stderr()[-400:]}")
        s.equal((g.reports("smp") or [""])[-1], "ok 4",
                "smp-soak: smpsoak found every thread progressing on its CPU and IPIs on all 4 "
                f"(kiln's log: {g.stderr()[-300:]!r})")
        ticks = [r for r in g.reports("smp") if r.startswith("tick ")]
        s.equal(len(ticks), args.seconds // 5, f"smp-soak: {args.seconds // 5} progress checks")
        irqs = [r.split() for r in g.reports("smp") if r.startswith("irqs ")]
        s.equal(len(irqs), 4, "smp-soak: IPI counts from all 4 CPUs")
        start, stop = (float((g.report(k) or "0").split()[0]) for k in ("start", "stop"))
        s.check(stop - start >= args.seconds,
                f"smp-soak: ran at least {args.seconds} s of guest time", f"{stop - start:.1f} s")
        s.equal(g.report("online"), "0-3", "smp-soak: all 4 vCPUs still online")
        s.equal(lg.kernel_errors(g), [], "smp-soak: no kernel errors (no stall or soft lockup)")

    s.scenario("smp-soak", soak)
    s.finish()


if __name__ == "__main__":
    main()

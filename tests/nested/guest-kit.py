#!/usr/bin/env python3
"""guest-kit.py --kiln KILN — the guest suite (tests/guest: the freestanding guest programs) run
inside the nested rig's L1, on a hardware-style KVM instead of the development machines' PVM:
every case must pass there too, except the ones marked PVM-only (run-guest --pvm-only), which
skip with their reason; any other skip fails the case.

Each case is one scenario of linuxguest.Suite, run from the build directory KILN lives in with
the arguments and time limit meson recorded for it (meson-info/intro-tests.json), and
without a process of meson or of Python per case: under L1's emulation meson takes about 8 s to
start and Python 1.3 s, against 0.3 s for kiln booting a freestanding guest, so the cases'
tests/guest/run-guest runs in this process (its main(argv)), in a thread bounded by the case's
time limit. So a case that fails runs once more, one that fails twice gets a fresh L1
(docs/testing.md), and when L1 itself fails mid-kit the fresh L1 runs only the cases no earlier
L1 finished (tests/lib/rigstate.py): an L1 failure costs one case, not the whole kit.
"""
import argparse
import contextlib
import importlib.machinery
import importlib.util
import io
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import linuxguest as lg  # noqa: E402

TAIL = 3000  # characters of a failed case's output printed with its FAIL line


def guest_cases(build):
    """The tests of suite 'guest' (kiln:guest) meson recorded in build, in meson's order."""
    with open(os.path.join(build, "meson-info", "intro-tests.json")) as f:
        tests = json.load(f)
    return [t for t in tests if any(s.split(":")[-1] == "guest" for s in t["suite"])]


def load_run_guest():
    """tests/guest/run-guest as a module (its file name has no .py)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "guest", "run-guest")
    loader = importlib.machinery.SourceFileLoader("run_guest", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def in_process(run_guest, case):
    """(status, output) of run_guest.main(case's arguments) in a thread, or (None, output) if it
    ran past the case's time limit (the thread is left behind, a daemon). Output is what it
    printed, stdout and stderr together."""
    out = io.StringIO()
    result = {}

    def body():
        try:
            result["status"] = run_guest.main(case["cmd"][1:])
        except SystemExit as e:  # argparse's usage errors
            result["status"] = e.code if isinstance(e.code, int) else 1
        except Exception as e:
            result["status"], result["error"] = 1, f"run-guest raised {e!r}"

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        t = threading.Thread(target=body, daemon=True)
        t.start()
        t.join(case["timeout"])
    return result.get("status"), out.getvalue() + result.get("error", "")


def run_case(s, build, run_guest, case):
    """Run one case in-process: PASS on status 0, a skip (printed with its reason) on 77 for a
    PVM-only case, FAIL with the output's tail otherwise. Every case of the suite is a
    run-guest command without an environment or directory of its own (tests/guest/meson.build);
    one that is not fails, naming what the kit cannot run."""
    name = case["name"]
    if (os.path.basename(case["cmd"][0]) != "run-guest" or case["env"]
            or case["workdir"] not in (None, build)):
        s.check(False, f"{name}: a run-guest command without env or workdir of its own",
                f"cmd {case['cmd'][:1]}, env {case['env']}, workdir {case['workdir']}")
        return
    start = time.monotonic()
    status, text = in_process(run_guest, case)
    took = time.monotonic() - start
    text = text.strip()
    if status == lg.SKIP and "--pvm-only" in case["cmd"]:
        reason = text.splitlines()[-1] if text else "no reason given"
        print(f"SKIP {name} ({took:.1f} s): {reason}", flush=True)
        return
    # L1 can run every other case (root, tun, a hardware-style KVM): a skip there fails.
    detail = (f"timed out after {case['timeout']} s" if status is None else
              f"status {status}" + (" (a skip)" if status == lg.SKIP else ""))
    s.check(status == 0, f"{name} ({took:.1f} s)", f"{detail}\n{text[-TAIL:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True, help="kiln in the build directory to test")
    ap.add_argument("--only", help="comma-separated case names (default: every case)")
    args = ap.parse_args()
    build = os.path.dirname(os.path.abspath(args.kiln))
    os.chdir(build)  # the cases' paths are relative to it, as under meson
    run_guest = load_run_guest()
    cases = guest_cases(build)
    if args.only:
        cases = [c for c in cases if c["name"] in args.only.split(",")]
    s = lg.Suite("guest-kit")
    s.check(len(cases) > 0, f"guest-kit: {len(cases)} cases of suite 'guest' to run")
    for case in cases:
        s.scenario(case["name"], lambda c=case: run_case(s, build, run_guest, c))
    s.finish()


if __name__ == "__main__":
    main()

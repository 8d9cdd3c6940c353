#!/usr/bin/env python3
"""run-batches.py --kiln KILN BATCH [BATCH...] — several batches of the full-Linux suite in one
L1 of the nested rig, one after the other: each L1 boot costs 12-15 s of wall time, so the
batches share one (tests/nested/meson.build groups them).

Each BATCH is a script of tests/nested, run as `BATCH --kiln KILN` with its output passed
through. A batch that ends (with any status but rigstate.FRESH_L1) is recorded in the rig's
state directory (KILN_NESTED_STATE, tests/lib/rigstate.py), so a fresh L1 after an L1 failure
skips the batches an earlier L1 finished and resumes the interrupted one, which itself skips
the scenarios it finished. A batch asking for a fresh L1 (status 75) makes this script exit 75
at once: the rig boots a fresh L1 and this script goes on from that batch.

Exit status: 0 if every batch passed, 75 as above, 1 otherwise (the closing lines name each
batch's status and time).
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rigstate  # noqa: E402


def run_batch(script, kiln):
    """Run one batch to its end: (exit status, seconds)."""
    start = time.monotonic()
    print(f"##### batch {os.path.basename(script)}", flush=True)
    status = subprocess.run([script, "--kiln", kiln]).returncode
    return status, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", required=True)
    ap.add_argument("batches", nargs="+", help="scripts of tests/nested")
    args = ap.parse_args()
    done = rigstate.Done("run-batches")
    for script in args.batches:
        name = os.path.basename(script)
        r = done.get(name)
        if r is not None:
            print(f"##### batch {name}: finished in an earlier L1 (status {r['status']})",
                  flush=True)
            continue
        status, took = run_batch(script, args.kiln)
        if status == rigstate.FRESH_L1:
            sys.exit(rigstate.FRESH_L1)
        done.put(name, {"status": status, "seconds": round(took, 1)})
    failed = 0
    for script in args.batches:
        r = done.get(os.path.basename(script))
        failed += r["status"] != 0
        print(f"##### {os.path.basename(script)}: "
              f"{'passed' if r['status'] == 0 else 'FAILED (status %d)' % r['status']} "
              f"in {r['seconds']} s", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

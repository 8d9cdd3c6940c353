#!/usr/bin/env python3
"""test-guest-ram.py KILN COUNT_ELF — how kiln maps guest RAM, seen in /proc/PID/smaps:

- without --thp the RAM mapping carries MADV_NOHUGEPAGE (VmFlags "nh"), so a host whose THP
  policy is "always" (Debian's kernels, the nested rig's L1) still backs it with 4 KiB pages;
- with --thp it carries MADV_HUGEPAGE ("hg") and not "nh";
- the same through the config file's machine-config huge_pages "None" and "Transparent";
- always MADV_DONTDUMP ("dd"): guest RAM stays out of kiln's core dumps.

Why it matters (docs/testing.md, "When the emulated machine fails"): on the arm64 rig, dirty
logging over THP-backed guest RAM lost guest writes in live migrations.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402

KILN, COUNT = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="kiln-guest-ram-")
CHECKS = kilntest.Checks("guest-ram")
check = CHECKS.check
MIB = 72  # an uncommon size: the guest RAM mapping is the only one of exactly this length


def ram_flags(pid):
    """VmFlags of the mapping of exactly MIB MiB in pid's smaps, or None."""
    size, want = None, MIB * 1024
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("VmFlags:") and size == want:
                return set(line.split()[1:])
    return None


def flags_of(argv):
    """Start kiln with argv (a count guest), read the RAM mapping's flags, stop it."""
    p = subprocess.Popen([KILN] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    kilntest.reap_at_exit(p)
    flags, deadline = None, time.monotonic() + 20
    while flags is None and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        flags = ram_flags(p.pid)
    p.terminate()
    p.wait(timeout=20)
    return flags, p.stderr.read().strip()


def run_args(extra):
    return ["run", "--kernel", COUNT, "--memory", f"{MIB}M"] + extra


def main():
    flags, err = flags_of(run_args([]))
    check(flags is not None and "nh" in flags and "hg" not in flags,
          f"without --thp the guest RAM is advised MADV_NOHUGEPAGE (VmFlags {flags}, {err!r})")
    check(flags is not None and "dd" in flags,
          f"the guest RAM is advised MADV_DONTDUMP (VmFlags {flags})")
    flags, err = flags_of(run_args(["--thp"]))
    check(flags is not None and "hg" in flags and "nh" not in flags,
          f"--thp advises MADV_HUGEPAGE (VmFlags {flags}, {err!r})")
    check(flags is not None and "dd" in flags,
          f"with --thp the guest RAM is advised MADV_DONTDUMP too (VmFlags {flags})")
    cfg = os.path.join(TMP, "vm.json")
    for huge, want, not_want in (("None", "nh", "hg"), ("Transparent", "hg", "nh")):
        with open(cfg, "w") as f:
            json.dump({"boot-source": {"kernel_image_path": COUNT},
                       "machine-config": {"vcpu_count": 1, "mem_size_mib": MIB,
                                          "huge_pages": huge}}, f)
        flags, err = flags_of(["--config-file", cfg])
        check(flags is not None and want in flags and not_want not in flags,
              f"config file huge_pages {huge}: VmFlags has {want!r}, not {not_want!r} "
              f"({flags}, {err!r})")
    shutil.rmtree(TMP, ignore_errors=True)
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""test-privilege.py KILN JAILER — kiln and kiln-jailer refuse to run set-user-ID or
set-group-ID (a copy of each, made set-ID root in a temporary directory, started as nobody by
setpriv): status 2 and one line naming the IDs; the same copies without the bits run for nobody.
Needs root (to make set-ID root files and switch users): otherwise the skip rule
(tests/lib/skiprule.py)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402  (tests/lib)
import skiprule  # noqa: E402  (tests/lib)

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def run_as_nobody(exe, *args):
    return subprocess.run(NOBODY + [exe, *args], capture_output=True, text=True, timeout=30)


def main():
    kiln, jailer = sys.argv[1:3]
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return skiprule.cannot_run("needs root and setpriv to make set-ID files and switch users")
    checks = kilntest.Checks("privilege")
    tmp = tempfile.mkdtemp(prefix="kiln-privilege-")
    os.chmod(tmp, 0o755)
    try:
        for name, src, version_arg in (("kiln", kiln, "--version"), ("kiln-jailer", jailer,
                                                                      "--version")):
            exe = os.path.join(tmp, name)
            shutil.copy(src, exe)
            os.chmod(exe, 0o755)
            p = run_as_nobody(exe, version_arg)
            checks.check(p.returncode == 0 and p.stdout.startswith(name),
                         f"{name} without set-ID bits runs for nobody ({p.returncode}, "
                         f"{p.stderr.strip()!r})")
            for bits, what in ((0o4755, "set-user-ID"), (0o2755, "set-group-ID")):
                os.chmod(exe, bits)
                p = run_as_nobody(exe, version_arg)
                err = p.stderr.strip().splitlines()
                checks.check(p.returncode == 2 and len(err) == 1 and
                             "refusing to run set-user-ID or set-group-ID" in err[0] and
                             "real uid 65534" in err[0] and p.stdout == "",
                             f"{name} {what} root, started by nobody: status 2, one line "
                             f"({p.returncode}, {err})")
                os.chmod(exe, 0o755)
    finally:
        shutil.rmtree(tmp)
    return checks.exit_code()


if __name__ == "__main__":
    sys.exit(main())

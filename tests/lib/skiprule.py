"""skiprule.py — the one skip rule of the script tests (the C tests' is tests/kvm/kvm_check.h).

A test that cannot run here (no usable /dev/kvm, a missing tool or input) is skipped: exit 77,
which meson counts as SKIP. Under CI=true it fails instead (exit 1): CI machines have
everything, so a skip there hides a broken machine. Either way one line says why."""
import os

SKIP = 77


def in_ci():
    """Whether the environment variable CI is "true"."""
    return os.environ.get("CI") == "true"


def cannot_run(reason):
    """Print the one line for `reason` and return the exit status: 77, or 1 under CI=true."""
    if in_ci():
        print(f"FAIL: {reason} (CI=true: a test that cannot run fails)", flush=True)
        return 1
    print(f"SKIP: {reason}", flush=True)
    return SKIP


def kvm_unusable(dev="/dev/kvm"):
    """Why dev cannot be opened read-write, or None if it can."""
    try:
        os.close(os.open(dev, os.O_RDWR | os.O_CLOEXEC))
    except OSError as e:
        return f"{dev} is not usable: {e.strerror}"
    return None


def require_kvm(dev="/dev/kvm"):
    """None if dev is usable, else cannot_run's exit status (print it, then return it)."""
    why = kvm_unusable(dev)
    return cannot_run(why) if why else None

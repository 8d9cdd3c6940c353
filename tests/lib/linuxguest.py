"""linuxguest.py — real Linux guests for the full-Linux suite (tests/nested), run inside the
nested rig's outer machine (scripts/nested): the guest kernels, busybox initramfs images built
per scenario, a running kiln with its console read line by line, and the suite's pass/fail
bookkeeping.

A guest reports what it finds as console lines "KT <key> <words...>" (its init writes them to
/dev/console); the tests assert on those, on kiln's exit status, and on files kiln left behind.
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import initramfs  # noqa: E402
import kilntest  # noqa: E402
import rigstate  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SKIP = 77

# The guests' init: a busybox shell that mounts the usual file systems, loads the modules packed
# with it (Debian's kernel), runs the scenario and powers off. `kt` writes a report line.
INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /tmp
mount -t tmpfs tmp /tmp
kt() { echo "KT $*"; }
{LOAD_MODULES}
kt init $(cut -d' ' -f1 /proc/uptime)
. /scenario.sh
kt end
sync
poweroff -f
"""

# Modules Debian's kernel needs to see kiln's devices (its virtio drivers are modules).
DEBIAN_MODULES = ["virtio_mmio", "virtio_pci", "virtio_blk", "virtio_console", "virtio_rng",
                  "ext4"]

# What a healthy boot never prints: the checks look for these in the guest's kernel log.
KERNEL_ERRORS = re.compile(r"ACPI Error|ACPI BIOS Error|Unable to load the System Description|"
                           r"probe of \S+ failed|BUG:|WARNING:|Call Trace|Oops|segfault|"
                           r"Kernel panic|rtc_cmos.*error|soft lockup|hard LOCKUP|"
                           r"rcu.*stall|Unable to handle kernel")


def kiln_kernel(image):
    """The project's kernel (configs/linux-kiln.config): image 'vmlinux' or 'bzimage'."""
    env = {"vmlinux": "KILN_LINUX_VMLINUX", "bzimage": "KILN_LINUX_BZIMAGE"}[image]
    if os.environ.get(env):
        return os.environ[env]
    p = subprocess.run([os.path.join(ROOT, "scripts", "build-linux"), "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    paths = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    if p.returncode != 0 or image not in paths:
        print(f"no {image}: run scripts/build-linux on the host first", flush=True)
        sys.exit(1 if os.environ.get("CI") == "true" else SKIP)
    return paths[image]


def debian_tree():
    """The unpacked Debian kernel package (scripts/fetch-debian-kernel --tree)."""
    tree = os.environ.get("KILN_DEBIAN_KERNEL_TREE")
    if not tree:
        p = subprocess.run([os.path.join(ROOT, "scripts", "fetch-debian-kernel"), "--tree"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        tree = p.stdout.strip()
    if not tree or not os.path.isdir(os.path.join(tree, "lib", "modules")):
        print("no Debian kernel: run scripts/fetch-debian-kernel on the host first", flush=True)
        sys.exit(1 if os.environ.get("CI") == "true" else SKIP)
    return tree


def debian_kernel():
    """(vmlinuz, modules directory) of Debian's stock kernel."""
    tree = debian_tree()
    boot = os.path.join(tree, "boot")
    vmlinuz = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")][0]
    release = os.listdir(os.path.join(tree, "lib", "modules"))[0]
    return os.path.join(boot, vmlinuz), os.path.join(tree, "lib", "modules", release)


def guest_tree(scenario, files=None, moddir=None, modules=()):
    """A busybox userspace running `scenario` (shell) as its init's body. files: {guest path:
    host path} to add (static test programs); moddir/modules: kernel modules to load first."""
    tree = initramfs.Tree()
    initramfs.busybox(tree)
    for d in ("proc", "sys", "dev", "tmp", "root", "mnt"):
        tree.dir(d)
    load = ""
    if moddir:
        initramfs.Modules(moddir).add(tree, list(modules))
        load = initramfs.LOAD_MODULES
    tree.file("init", INIT.replace("{LOAD_MODULES}", load), 0o755)
    tree.file("scenario.sh", scenario, 0o644)
    for guest_path, host_path in (files or {}).items():
        tree.host_file(host_path, guest_path, 0o755)
    return tree


def initrd(tmp, name, scenario, **kw):
    """Write guest_tree(...) as a cpio file in tmp; returns its path."""
    return guest_tree(scenario, **kw).write(os.path.join(tmp, name + ".cpio"))


def ext4_image(path, tree, size_mib=64):
    """An ext4 file system image of tree's files (mke2fs -d), for root=/dev/vda."""
    with tempfile.TemporaryDirectory(prefix="kiln-rootfs-") as d:
        for p, (mode, data) in sorted(tree.entries.items()):
            full = os.path.join(d, p)
            if data is None:
                os.makedirs(full, exist_ok=True)
                os.chmod(full, mode)
            elif isinstance(data, str):
                os.symlink(data, full)
            else:
                with open(full, "wb") as f:
                    f.write(data)
                os.chmod(full, mode)
        subprocess.run(["mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-d", d, path,
                        f"{size_mib}M"], check=True)
    return path


def with_transport(argv):
    """argv with `--virtio-transport T` added to a `kiln run` when KILN_TEST_VIRTIO_TRANSPORT=T is
    set (the full-Linux suite run once over virtio-pci: docs/testing.md); other commands as
    they are (a restored or migrated VM takes its transport from the snapshot)."""
    t = os.environ.get("KILN_TEST_VIRTIO_TRANSPORT")
    if not t or len(argv) < 2 or argv[1] != "run" or "--virtio-transport" in argv:
        return argv
    return argv[:2] + ["--virtio-transport", t] + argv[2:]


def _read_or(path, default):
    """The text of path, or default where it cannot be read (not root, no such kernel option)."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def _task_sample(pid):
    """{tid: (state, CPU ticks, syscall line, kernel stack's first frames)} of process pid."""
    out = {}
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        d = f"/proc/{pid}/task/{tid}"
        stat = _read_or(f"{d}/stat", "").rsplit(") ", 1)[-1].split()
        if len(stat) < 13:
            continue  # the thread ended
        call, stack = _read_or(f"{d}/syscall", "?").split(), _read_or(f"{d}/stack", "")
        stack = [l.split()[-1].split("+")[0] for l in stack.splitlines()]
        # /proc/TID/syscall: the call's number and its first two arguments (an ioctl's fd and
        # request: 0xae80 is KVM_RUN), or "running" in user space
        out[tid] = (stat[0], int(stat[11]) + int(stat[12]), " ".join(call[:3]), stack[:3])
    return out


def threads_report(pid, gap=2.0):
    """One line per thread of a kiln that does not end when it should: its state, the CPU it
    used over `gap` seconds, the system call it is in and the top of its kernel stack. It tells
    a vCPU that spins (CPU grows, vcpu_enter_guest) from one halted waiting for an interrupt
    (no CPU, kvm_vcpu_block) and a VMM thread stuck in a call. "" if the process is gone."""
    try:
        a = _task_sample(pid)
        time.sleep(gap)
        b = _task_sample(pid)
    except OSError:
        return ""
    hz = os.sysconf("SC_CLK_TCK")
    return "\n".join(f"  tid {tid} {st} cpu {(cpu - a.get(tid, (st, cpu))[1]) / hz / gap:.0%} "
                     f"syscall {call} stack {' < '.join(stack) or '-'}"
                     for tid, (st, cpu, call, stack) in b.items())


class Guest:
    """A kiln process running a guest. Its stdout (the guest's console) is read line by line in a
    thread; wait_for() and reports() look at what has arrived. Killed at exit if still running."""

    def __init__(self, name, argv, tmp, stdin=False, echo=True):
        self.name = name
        self.lines = []  # (seconds since start, wall-clock time, text)
        self.cond = threading.Condition()
        self.eof = False
        self.partial = ""
        self.echo = echo
        self.start = time.monotonic()
        self.errpath = os.path.join(tmp, name + ".stderr")
        argv = with_transport(argv)
        print(f"[{name}] " + " ".join(shlex.quote(a) for a in argv), flush=True)
        with open(self.errpath, "wb") as err:
            self.proc = kilntest.reap_at_exit(subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=err))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        fd = self.proc.stdout.fileno()
        buf = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            *done, buf = (buf + chunk).split(b"\n")
            with self.cond:
                self.partial = buf.decode("utf-8", "replace")
            for raw in done:
                self._line(raw)
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _line(self, raw):
        line = raw.decode("utf-8", "replace").rstrip("\r")
        now = time.monotonic() - self.start
        if self.echo:
            print(f"  {self.name} {now:6.1f}s | {line}", flush=True)
        with self.cond:
            self.lines.append((now, time.time(), line))
            self.cond.notify_all()

    def count(self):
        """How many whole console lines have arrived (a wait_for `since` for what comes next)."""
        with self.cond:
            return len(self.lines)

    def unfinished(self):
        """What the guest has printed after its last newline (a line cut by a pause, a snapshot or
        a migration): the next kiln that runs this guest prints the rest of it."""
        with self.cond:
            return self.partial

    def wait_for(self, pattern, timeout, since=0):
        """The first console line at index >= since matching the regex, as (index, match), or
        (None, None) after timeout seconds or when kiln's output ends."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = since
        with self.cond:
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i][2])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None, None
                self.cond.wait(left)

    def reports(self, key):
        """The words after "KT <key> " of every report line with that key, in order."""
        prefix, out = f"KT {key} ", []
        with self.cond:
            for _, _, l in self.lines:
                if l == prefix[:-1]:
                    out.append("")
                elif l.startswith(prefix):
                    out.append(l[len(prefix):])
        return out

    def report(self, key):
        """The last report with this key, or None."""
        r = self.reports(key)
        return r[-1] if r else None

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_exit(self, timeout):
        """kiln's exit status, or None if it still ran after timeout seconds (then killed)."""
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"[{self.name}] still running after {timeout} s; its threads:\n"
                  + threads_report(self.proc.pid), flush=True)
            self.proc.kill()
            self.proc.wait()
            status = None
        self.reader.join(timeout=10)
        return status

    def stderr(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace").strip()

    def text(self):
        with self.cond:
            return "\n".join(l for _, _, l in self.lines)

    def arrival(self, index):
        """Wall-clock time (time.time()) at which console line `index` arrived."""
        with self.cond:
            return self.lines[index][1]


class Suite:
    """PASS/FAIL lines and a count; scenario() runs one scenario, once more if it failed;
    finish() exits with the batch's status."""

    def __init__(self, name):
        self.name = name
        self.failed = []
        self.passed = 0
        self.retried = []  # (scenario, the checks that failed the first time)
        self.done = rigstate.Done(name)
        self.start = time.monotonic()

    def _attempt(self, name, fn):
        try:
            fn()
        except Exception:  # a scenario's own error fails it, not the whole batch
            self.check(False, f"{name}: the scenario ran to its end", traceback.format_exc())
        kilntest.kill_leftovers()

    def scenario(self, name, fn):
        """Run scenario `name` (fn()); if any check failed, run it once more and count only the
        second run. The rig's emulated machine now and then loses a guest of its KVM (a triple
        fault, a stalled vCPU: measured rates in docs/testing.md), so one failure is logged as a
        RETRY with its checks. A scenario that fails twice in one L1 gets a fresh L1 from the rig
        once (the batch exits with rigstate.FRESH_L1 and resumes there), and fails the batch if
        it fails twice there too. A scenario an earlier L1 of the rig finished is not run again:
        its result is taken from there (tests/lib/rigstate.py)."""
        done = self.done.get(name)
        if done is not None:
            print(f"=== {name}: finished in an earlier L1 ({done['passed']} passed, "
                  f"{len(done['failed'])} failed)", flush=True)
            self.passed += done["passed"]
            self.failed += done["failed"]
            self.retried += [tuple(r) for r in done["retried"]]
            return
        print(f"=== {name}", flush=True)
        failed, passed, retried = len(self.failed), self.passed, len(self.retried)
        self._attempt(name, fn)
        first = self.failed[failed:]
        if first:
            del self.failed[failed:]
            self.passed = passed
            print(f"RETRY {name}: the first run failed {first}; running it once more",
                  flush=True)
            self._attempt(name, fn)
            if len(self.failed) == failed:
                self.retried.append((name, first))
            elif self.done.can_ask_fresh_l1(name):
                print(f"FRESH-L1 {name}: failed twice in this L1 ({self.failed[failed:]}); "
                      "asking the rig for a fresh L1 to run it again", flush=True)
                self.done.ask_fresh_l1(name)
                sys.exit(rigstate.FRESH_L1)
        elif name in self.done.fresh:
            self.retried.append((name, ["failed twice in an earlier L1"]))
        self.done.put(name, {"passed": self.passed - passed, "failed": self.failed[failed:],
                             "retried": self.retried[retried:]})

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {what}", flush=True)
        else:
            self.failed.append(what)
            print(f"FAIL {what}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def equal(self, got, want, what):
        return self.check(got == want, what, f"got {got!r}, want {want!r}")

    def finish(self):
        took = time.monotonic() - self.start
        print(f"{self.name}: {self.passed} passed, {len(self.failed)} failed in {took:.1f} s",
              flush=True)
        for f in self.failed:
            print(f"  failed: {f}", flush=True)
        for name, first in self.retried:
            print(f"  passed on its second run: {name} (first run: {'; '.join(first)})",
                  flush=True)
        sys.exit(1 if self.failed else 0)


def pause(s, sock, name):
    """PATCH /vm Paused through kiln's API at sock, checked (Suite s): whether it answered 204."""
    st, body = kilntest.call(sock, "PATCH", "/vm", {"state": "Paused"})
    return s.equal(st, 204, f"{name}: PATCH /vm Paused answers 204 ({body})")


def snapshot(s, sock, name, snap, mem, kind="Full"):
    """PUT /snapshot/create (kind Full or Diff) to snap and mem, checked: whether it was 204."""
    st, body = kilntest.call(sock, "PUT", "/snapshot/create",
                             {"snapshot_type": kind, "snapshot_path": snap,
                              "mem_file_path": mem}, timeout=120)
    return s.equal(st, 204, f"{name}: {kind} snapshot created ({body})")


def kernel_errors(guest):
    """Kernel log lines (reported as "KT kerr ...") that a healthy boot does not print."""
    return [l for l in guest.reports("kerr") if KERNEL_ERRORS.search(l)]


# Shell for a scenario: report the kernel log's error lines, so checks can assert there are none.
REPORT_KERNEL_ERRORS = r"""
dmesg | grep -E '""" + KERNEL_ERRORS.pattern.replace("\\S", "[^ ]") + r"""' |
	while read -r l; do kt kerr "$l"; done
"""

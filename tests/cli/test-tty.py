#!/usr/bin/env python3
"""test-tty.py KILN — kiln on a real terminal (a pty): raw mode while the VM runs, the terminal
restored on every exit path (guest reset, SIGTERM, SIGHUP, Ctrl-A x), keys reach the guest."""
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time

KILN = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def spawn(args):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen([KILN, "run"] + args, stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True, start_new_session=True)
    return proc, master, slave, before


def read_until(master, text, timeout=10.0):
    buf = b""
    end = time.time() + timeout
    while time.time() < end and text not in buf:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                buf += os.read(master, 4096)
            except OSError:
                break
    return buf


def is_raw(slave):
    lflag = termios.tcgetattr(slave)[3]
    return not (lflag & (termios.ICANON | termios.ECHO | termios.ISIG))


def finish(name, proc, master, slave, before, want_status=0):
    try:
        status = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        status = proc.wait()
    check(status == want_status, f"{name}: exit status {status}, want {want_status}")
    check(termios.tcgetattr(slave) == before, f"{name}: terminal settings not restored")
    os.close(master)
    os.close(slave)


# 1. The demo guest resets the machine: normal exit path.
proc, master, slave, before = spawn([])
out = read_until(master, b"Boot your own kernel")
check(b"Hello from the kiln demo guest" in out, "demo: greeting not seen on the terminal")
finish("demo", proc, master, slave, before)

# 2-3. Signals while a guest runs (--on-reset restart keeps it running): raw mode on, then
# restored after SIGTERM and SIGHUP.
for sig in (signal.SIGTERM, signal.SIGHUP):
    proc, master, slave, before = spawn(["--on-reset", "restart"])
    read_until(master, b"Hello from the kiln demo guest")
    check(is_raw(slave), f"{sig.name}: terminal not in raw mode while the VM runs")
    proc.send_signal(sig)
    finish(sig.name, proc, master, slave, before)

# 4. Ctrl-A x typed on the terminal quits kiln.
proc, master, slave, before = spawn(["--on-reset", "restart"])
read_until(master, b"Hello from the kiln demo guest")
os.write(master, b"\x01x")
finish("ctrl-a x", proc, master, slave, before)

print(f"tty: {len(failures)} failures")
sys.exit(1 if failures else 0)

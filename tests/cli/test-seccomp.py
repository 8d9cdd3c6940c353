#!/usr/bin/env python3
"""test-seccomp.py KILN COUNT_ELF HELLO_ELF — kiln's per-thread seccomp filters from outside:

- every thread of a running VM (2 vCPUs, the API) has a filter, none with --no-seccomp;
- a call a thread's filter forbids ends kiln (status 4) with one line naming the call and the
  thread: filters compiled by `kiln seccomp compile` from `kiln seccomp print`'s description with
  one call taken out of one thread's list (write from the vCPU threads, KVM_RUN's ioctl from
  them, epoll_wait from the VMM thread);
- an unchanged compiled description runs the guest as the built-in filters do (kiln and
  Firecracker's flags);
- bad flags, files and descriptions: one line, status 2;
- docs/seccomp.md's per-thread counts of calls and ioctls are the filters' (on x86).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402

KILN, COUNT, HELLO = sys.argv[1], sys.argv[2], sys.argv[3]
TMP = tempfile.mkdtemp(prefix="kiln-seccomp-")
CHECKS = kilntest.Checks("seccomp")
check = CHECKS.check
KVM_RUN = 0xAE80


def run(argv, timeout=30):
    return subprocess.run([KILN] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def thread_filters(pid):
    """{tid: (comm, filters)} of the process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        out[tid] = (st["Name"].strip(), int(st.get("Seccomp_filters", "0").strip() or 0),
                    int(st["Seccomp"].strip()))
    return out


def test_threads(extra, want_filtered):
    sock = os.path.join(TMP, "api.sock")
    p = subprocess.Popen([KILN, "run", "--kernel", COUNT, "--cpus", "2", "--api-sock", sock] +
                         extra, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    kilntest.reap_at_exit(p)
    deadline = time.monotonic() + 20
    threads = {}
    while time.monotonic() < deadline:  # the VMM thread and two vCPU threads
        threads = {t: v for t, v in thread_filters(p.pid).items() if v[0] == "kiln"}
        if len(threads) >= 3 and os.path.exists(sock) and \
                all((v[2] == 2) == want_filtered for v in threads.values()):
            break
        time.sleep(0.1)
    status, _ = kilntest.call(sock, "GET", "/")
    p.terminate()
    _, err = p.communicate(timeout=20)
    what = "with filters" if want_filtered else "with --no-seccomp"
    check(len(threads) >= 3 and all((v[2] == 2 and v[1] >= 1) == want_filtered
                                    for v in threads.values()),
          f"{what}: every kiln thread is {'filtered' if want_filtered else 'unfiltered'} "
          f"({sorted(threads.values())})")
    check(status == 200 and p.returncode == 0,
          f"{what}: the API answers and SIGTERM ends kiln with 0 ({status}, {p.returncode}, "
          f"{err.strip()[-200:]!r})")


def description():
    p = run(["seccomp", "print"])
    check(p.returncode == 0, "kiln seccomp print exits 0")
    return json.loads(p.stdout)


def compile_desc(desc, name):
    src, out = os.path.join(TMP, name + ".json"), os.path.join(TMP, name + ".bpf")
    with open(src, "w") as f:
        json.dump(desc, f)
    p = run(["seccomp", "compile", src, "--output", out])
    check(p.returncode == 0 and p.stderr == "" and os.path.getsize(out) > 100,
          f"{name}: kiln seccomp compile writes the filter file ({p.stderr.strip()!r})")
    return out


def without(desc, thread, pred):
    d = json.loads(json.dumps(desc))
    before = len(d[thread]["filter"])
    d[thread]["filter"] = [r for r in d[thread]["filter"] if not pred(r)]
    assert len(d[thread]["filter"]) < before, (thread, before)
    return d


def is_ioctl(r, req):
    return r["syscall"] == "ioctl" and r.get("args", [{}])[0].get("val") == req


def paused_run(path):
    """The count guest under the filter file, paused through the API: kiln's result."""
    sock = os.path.join(TMP, "pause.sock")
    p = subprocess.Popen([KILN, "run", "--kernel", COUNT, "--api-sock", sock,
                          "--seccomp-filter", path], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    kilntest.reap_at_exit(p)
    deadline = time.monotonic() + 20
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        kilntest.call(sock, "PATCH", "/vm", {"state": "Paused"}, timeout=10)
    except OSError:
        pass  # kiln may be gone before it answers
    try:
        _, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    return subprocess.CompletedProcess(p.args, p.returncode, "", err)


def test_forbidden(desc):
    cases = [
        # a paused vCPU waits on a futex (the report itself needs write)
        ("vcpu-futex", without(desc, "vcpu", lambda r: r["syscall"] == "futex"), COUNT,
         "the vcpu 0 thread made a system call its filter forbids: futex ("),
        ("vcpu-kvm-run", without(desc, "vcpu", lambda r: is_ioctl(r, KVM_RUN)), HELLO,
         f"the vcpu 0 thread made a system call its filter forbids: ioctl (16, request "
         f"{KVM_RUN:#x})"),
        ("vmm-epoll", without(desc, "vmm", lambda r: r["syscall"] in ("epoll_wait",
                                                                       "epoll_pwait")),
         COUNT, "the vmm thread made a system call its filter forbids: epoll_"),
    ]
    for name, d, guest, want in cases:
        path = compile_desc(d, name)
        t0 = time.monotonic()
        if name == "vcpu-futex":
            p = paused_run(path)
        else:
            p = run(["run", "--kernel", guest, "--seccomp-filter", path], timeout=30)
        err = p.stderr.strip().splitlines()
        check(p.returncode == 4 and len(err) == 1 and want in err[0],
              f"{name}: kiln stops with status 4 and one line naming the call and thread "
              f"({p.returncode}, {err}, {time.monotonic() - t0:.1f} s)")


def test_same_as_builtin(desc):
    path = compile_desc(desc, "builtin")
    base = run(["run", "--kernel", HELLO, "--no-seccomp"])
    p = run(["run", "--kernel", HELLO, "--seccomp-filter", path])
    check(p.returncode == base.returncode and p.stdout == base.stdout and "PASS" in p.stdout,
          f"kiln run --seccomp-filter with kiln's own filters runs the guest as without "
          f"filters ({p.returncode}, {p.stderr.strip()[-200:]!r})")
    cfg = os.path.join(TMP, "vm.json")
    with open(cfg, "w") as f:
        json.dump({"boot-source": {"kernel_image_path": HELLO},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}, f)
    p = run(["--config-file", cfg, "--no-api", "--seccomp-filter", path])
    check(p.returncode == base.returncode and "PASS" in p.stdout,
          f"Firecracker's --seccomp-filter takes the file too ({p.returncode}, "
          f"{p.stderr.strip()[-200:]!r})")
    p = run(["restore", os.path.join(TMP, "missing.snap"), "--mem-file", "x", "--no-seccomp"])
    check(p.returncode == 2 and "--no-seccomp" not in p.stderr,
          f"kiln restore takes --no-seccomp ({p.stderr.strip()!r})")


def one_line(what, argv, want, status=2):
    p = run(argv)
    err = p.stderr.strip().splitlines()
    check(p.returncode == status and len(err) == 1 and want in err[0],
          f"{what}: status {status} and one line with {want!r} ({p.returncode}, {err})")


def test_bad_inputs():
    notfilter = os.path.join(TMP, "not-a-filter")
    with open(notfilter, "w") as f:
        f.write("hello\n")
    bad_json = os.path.join(TMP, "bad.json")
    with open(bad_json, "w") as f:
        f.write('{"vmm": ')
    unknown = os.path.join(TMP, "unknown.json")
    with open(unknown, "w") as f:
        json.dump({"vmm": {"default_action": "trap", "filter_action": "allow",
                           "filter": [{"syscall": "no_such_call"}]}}, f)
    out = os.path.join(TMP, "out.bpf")
    one_line("both flags", ["run", "--kernel", HELLO, "--no-seccomp", "--seccomp-filter",
                            notfilter], "cannot be used together")
    one_line("no file named", ["run", "--kernel", HELLO, "--seccomp-filter"], "needs a file")
    one_line("a missing file", ["run", "--kernel", HELLO, "--seccomp-filter",
                                os.path.join(TMP, "nope")], "cannot open")
    one_line("not a filter file", ["run", "--kernel", HELLO, "--seccomp-filter", notfilter],
             "not a kiln seccomp filter file")
    one_line("Firecracker's flag, not a filter file", ["--api-sock", os.path.join(TMP, "s"),
                                                       "--seccomp-filter", notfilter],
             "not a kiln seccomp filter file")
    one_line("a directory", ["run", "--kernel", HELLO, "--seccomp-filter", TMP],
             "not a regular file")
    one_line("compile: bad JSON", ["seccomp", "compile", bad_json, "--output", out], "line 1")
    one_line("compile: unknown call", ["seccomp", "compile", unknown, "--output", out],
             "unknown system call 'no_such_call'")
    one_line("compile: no --output", ["seccomp", "compile"], "--output FILE is required")
    one_line("seccomp: unknown subcommand", ["seccomp", "frob"], "unknown subcommand")
    fsdir = os.path.join(TMP, "share")
    os.makedirs(fsdir, exist_ok=True)
    one_line("restart with virtiofsd", ["run", "--kernel", HELLO, "--on-reset", "restart",
                                        "--fs", f"tag=t,dir={fsdir}"], "needs --no-seccomp")


def counts(desc):
    """{thread: (system calls other than ioctl, ioctl requests)} of a description."""
    return {t: (len({r["syscall"] for r in v["filter"]} - {"ioctl"}),
                sum(1 for r in v["filter"] if r["syscall"] == "ioctl"))
            for t, v in desc.items()}


def test_docs_counts(desc):
    """docs/seccomp.md's per-thread figures are the filters' (x86: the page describes it)."""
    if os.uname().machine != "x86_64":
        return
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                           "seccomp.md"), encoding="utf-8") as f:
        text = f.read()
    got = counts(desc)
    for thread, label in (("vcpu", "vCPU threads"), ("vmm", "VMM thread"),
                          ("migration", "Migration thread")):
        want = f"**{label}** ({got[thread][0]} calls, {got[thread][1]} ioctls)"
        check(want in text, f"docs/seccomp.md says {want}")
    p = run(["seccomp", "print", "--restart"])
    n = counts(json.loads(p.stdout))["vmm"][1] if p.returncode == 0 else None
    check(f"(`kiln seccomp print --restart`: {n} ioctls)" in text,
          f"docs/seccomp.md gives the restart list's {n} ioctls")


def main():
    test_threads([], True)
    test_threads(["--no-seccomp"], False)
    desc = description()
    check(set(desc) == {"vmm", "vcpu", "migration"}, f"three filters ({sorted(desc)})")
    vcpu_ioctls = {a["comment"] for r in desc["vcpu"]["filter"] if r["syscall"] == "ioctl"
                   for a in r["args"]}
    check("KVM_RUN" in vcpu_ioctls and "KVM_CREATE_VM" not in vcpu_ioctls and
          not any(r["syscall"] in ("openat", "socket", "execve", "clone")
                  for r in desc["vcpu"]["filter"]),
          "the vCPU threads may run KVM_RUN, not create a VM, open, connect or clone")
    test_docs_counts(desc)
    test_same_as_builtin(desc)
    test_forbidden(desc)
    test_bad_inputs()
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

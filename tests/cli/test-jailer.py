#!/usr/bin/env python3
"""test-jailer.py JAILER KILN COUNT_ELF HELLO_ELF — kiln-jailer as Firecracker's users run it
(as root, which CI is):

- a config-file VM jailed and run to its end (kiln and its libraries copied in, the kernel
  linked into the root beforehand, as Firecracker's docs ask);
- an API VM jailed with every option: --daemonize, --new-pid-ns (the PID in <name>.pid),
  --netns, --resource-limit, v1 cgroups (cpuset, pids) and a v2 cgroup on a cgroup2 file system
  the test mounts; then, from outside, the process's user, group, root, namespaces, cgroups,
  limits, session, environment and descriptors, and the VM started and run through the API
  socket inside the jail, its threads under seccomp;
- bad command lines and failing steps: one line, status 2 or 4.
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

JAILER, KILN, COUNT, HELLO = sys.argv[1:5]
UID = GID = 4321
TMP = tempfile.mkdtemp(prefix="kiln-jailer-")
BASE = os.path.join(TMP, "jails")
CHECKS = kilntest.Checks("jailer")
check = CHECKS.check
SKIP = 77


def root_of(jid):
    return os.path.join(BASE, "kiln", jid, "root")


def prepare(jid, files):
    """The jail's root made beforehand with the guest's files, owned by the jailed user."""
    root = root_of(jid)
    os.makedirs(root)
    for name, src in files.items():
        dst = os.path.join(root, name)
        if isinstance(src, str) and os.path.exists(src):
            shutil.copy(src, dst)
        else:
            with open(dst, "w") as f:
                f.write(src)
        os.chown(dst, UID, GID)
    return root


def jailer(argv, timeout=30, **kw):
    return subprocess.run([JAILER] + argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def base_args(jid):
    return ["--id", jid, "--exec-file", KILN, "--uid", str(UID), "--gid", str(GID),
            "--chroot-base-dir", BASE]


def test_config_file():
    cfg = {"boot-source": {"kernel_image_path": "/hello.elf"},
           "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}
    root = prepare("cfg", {"hello.elf": HELLO, "vm.json": json.dumps(cfg)})
    want = subprocess.run([KILN, "run", "--kernel", HELLO], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, text=True, timeout=30)
    p = jailer(base_args("cfg") + ["--", "--config-file", "/vm.json", "--no-api"])
    check(p.returncode == want.returncode and "PASS" in p.stdout,
          f"a config-file VM runs jailed to its end as unjailed ({p.returncode}, "
          f"{p.stderr.strip()[-300:]!r})")
    check(os.path.isfile(os.path.join(root, "kiln")) and
          os.path.exists(os.path.join(root, "lib64", "ld-linux-x86-64.so.2")
                         if os.uname().machine == "x86_64" else root),
          "kiln, its loader and libraries are copied into the root")


def read(path):
    with open(path) as f:
        return f.read()


def status_of(pid):
    return dict(line.split(":", 1) for line in read(f"/proc/{pid}/status").splitlines()
                if ":" in line)


def wait_for(path, secs=20):
    deadline = time.monotonic() + secs
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


def v1_mounted(ctrl):
    return any(l.split()[2] == "cgroup" and ctrl in l.split()[3].split(",")
               for l in read("/proc/mounts").splitlines())


def cgroup_args(cg2):
    args, want = [], []
    if v1_mounted("pids") and v1_mounted("cpuset"):
        args += ["--cgroup", "pids.max=300", "--cgroup", "cpuset.cpus=0"]
        want += ["pids:/kiln/api", "cpuset:/kiln/api"]
    return args, want


def test_api_jail(netns, cg2):
    root = prepare("api", {"count.elf": COUNT})
    cg_args, cg_want = cgroup_args(cg2)
    p = jailer(base_args("api") + ["--daemonize", "--new-pid-ns", "--netns", netns,
                                   "--resource-limit", "no-file=512",
                                   "--resource-limit", "fsize=1000000000"] + cg_args +
               ["--", "--api-sock", "/api.sock"])
    check(p.returncode == 0 and p.stderr == "",
          f"--daemonize --new-pid-ns: the jailer returns at once with 0 ({p.returncode}, "
          f"{p.stderr.strip()!r})")
    pidfile, sock = os.path.join(root, "kiln.pid"), os.path.join(root, "api.sock")
    if not check(wait_for(pidfile) and wait_for(sock), "kiln.pid and the API socket appear "
                 "in the jail"):
        return
    pid = int(read(pidfile))
    st = status_of(pid)
    check(st["Uid"].split()[:2] == [str(UID)] * 2 and st["Gid"].split()[:2] == [str(GID)] * 2,
          f"kiln runs as {UID}:{GID} ({st['Uid'].split()}, {st['Gid'].split()})")
    check(st["NSpid"].split() == [str(pid), "1"], f"PID 1 of a new PID namespace "
          f"({st['NSpid'].split()})")
    check(os.path.exists(f"/proc/{pid}/root/kiln") and
          not os.path.exists(f"/proc/{pid}/root/etc/passwd") and
          not os.path.exists(f"/proc/{pid}/root/old_root"),
          "its root is the jail (pivot_root, the old root gone)")
    check(os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(netns).st_ino,
          "it is in the --netns network namespace")
    check(os.stat(f"/proc/{pid}/ns/mnt").st_ino != os.stat("/proc/self/ns/mnt").st_ino,
          "it has its own mount namespace")
    limits = read(f"/proc/{pid}/limits")
    check(any(l.startswith("Max open files") and l.split()[3:5] == ["512", "512"]
              for l in limits.splitlines()), "--resource-limit no-file=512")
    check(any(l.startswith("Max file size") and l.split()[3] == "1000000000"
              for l in limits.splitlines()), "--resource-limit fsize")
    stat = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
    check(stat[3] != str(os.getsid(0)) and stat[4] == "0",
          f"--daemonize: a session of its own, no terminal (session {stat[3]}, tty {stat[4]})")
    check(read(f"/proc/{pid}/environ") == "", "the environment is empty")
    argv = read(f"/proc/{pid}/cmdline").split("\0")
    t = dict(zip(argv[1::2], argv[2::2]))
    check(t.get("--id") == "api" and abs(int(t["--start-time-us"]) - time.time() * 1e6) < 60e6
          and 0 <= int(t["--start-time-cpu-us"]) < 10e6 and argv[-3:-1] == ["--api-sock",
                                                                           "/api.sock"],
          f"kiln gets --id, the start times and the arguments after -- ({argv})")
    fds = sorted(os.listdir(f"/proc/{pid}/fd"), key=int)
    check(os.readlink(f"/proc/{pid}/fd/0") == "/dev/null",
          f"--daemonize: stdin is /dev/null ({os.readlink(f'/proc/{pid}/fd/0')})")
    cg = read(f"/proc/{pid}/cgroup")
    check(all(w in cg for w in cg_want), f"v1 cgroups {cg_want} ({cg.split()})")
    for dev in ("dev/kvm", "dev/net/tun", "dev/urandom"):
        s = os.stat(os.path.join(root, dev))
        check(s.st_uid == UID and (s.st_mode & 0o777) == 0o600,
              f"/{dev} is in the jail, {UID}'s, 0600")
    run_vm(sock, pid, len(fds))
    os.kill(pid, 15)
    deadline = time.monotonic() + 20
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def run_vm(sock, pid, nfds):
    calls = [("PUT", "/boot-source", {"kernel_image_path": "/count.elf"}),
             ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64}),
             ("PUT", "/actions", {"action_type": "InstanceStart"})]
    results = [kilntest.call(sock, m, p, b, timeout=20)[0] for m, p, b in calls]
    check(results == [204, 204, 204], f"the API in the jail boots the VM ({results})")
    status, body = kilntest.call(sock, "GET", "/", timeout=20)
    check(status == 200 and body.get("state") == "Running",
          f"the jailed VM runs ({status}, {body})")
    # kiln's own threads (KVM adds a kernel worker, kvm-nx-lpage-recovery, to the process)
    tasks = [t for t in os.listdir(f"/proc/{pid}/task")
             if status_of(f"{pid}/task/{t}")["Name"].strip() == "kiln"]
    seccomp = [status_of(f"{pid}/task/{t}")["Seccomp"].strip() for t in tasks]
    check(len(tasks) >= 3 and all(s == "2" for s in seccomp),
          f"its threads run under seccomp ({seccomp})")


def test_cgroup_v2(cg2):
    root = prepare("v2", {"hello.elf": HELLO, "vm.json": json.dumps(
        {"boot-source": {"kernel_image_path": "/hello.elf"},
         "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}})})
    ctrls = read(os.path.join(cg2, "cgroup.controllers")).split()
    if not ctrls:
        print("SKIP cgroup v2: no controller is free for a cgroup2 mount here")
        return
    c = ctrls[0]
    setting = {"hugetlb": "hugetlb.2MB.max=0", "pids": "pids.max=100",
               "memory": "memory.max=268435456", "cpu": "cpu.weight=50",
               "cpuset": "cpuset.cpus=0", "io": "io.weight=50", "misc": None,
               "rdma": None}.get(c)
    if not setting:
        print(f"SKIP cgroup v2: only {ctrls} free")
        return
    p = jailer(base_args("v2") + ["--cgroup-version", "2", "--cgroup", setting,
                                  "--parent-cgroup", "vms/kiln", "--", "--config-file",
                                  "/vm.json", "--no-api"])
    leaf = os.path.join(cg2, "vms", "kiln", "v2")
    file, value = setting.split("=")
    check(p.returncode in (0, 1) and "PASS" in p.stdout and os.path.isdir(leaf),
          f"--cgroup-version 2 --parent-cgroup vms/kiln: the cgroup is made and the VM runs "
          f"({p.returncode}, {p.stderr.strip()[-200:]!r})")
    check(c in read(os.path.join(cg2, "vms", "kiln", "cgroup.subtree_control")).split(),
          f"the '{c}' controller is enabled down to the VM's cgroup")
    got = read(os.path.join(leaf, file)).strip() if os.path.exists(os.path.join(leaf, file)) \
        else None
    check(got == value, f"{setting} is written ({got})")
    os.rmdir(leaf)
    os.rmdir(os.path.join(cg2, "vms", "kiln"))
    os.rmdir(os.path.join(cg2, "vms"))


def one_line(what, argv, want, status):
    p = jailer(argv)
    err = p.stderr.strip().splitlines()
    check(p.returncode == status and len(err) == 1 and want in err[0],
          f"{what}: status {status} and one line with {want!r} ({p.returncode}, {err})")


def test_bad_inputs():
    ok = base_args("bad")
    one_line("nothing", [], "are required", 2)
    one_line("a bad id", ["--id", "a_b"] + ok[2:], "--id: 'a_b'", 2)
    one_line("an id of 65", ["--id", "a" * 65] + ok[2:], "1-64 letters", 2)
    one_line("a bad uid", ok[:4] + ["--uid", "-1"] + ok[6:], "--uid: '-1' is not a number", 2)
    one_line("uid 0", ok[:4] + ["--uid", "0"] + ok[6:], "--uid 0: kiln would run as root", 2)
    one_line("gid 0", ok[:6] + ["--gid", "0"] + ok[8:], "--gid 0: kiln would run as root", 2)
    one_line("a bad cgroup", ok + ["--cgroup", "pids"], "is not <controller>.<file>=<value>", 2)
    one_line("a cgroup path", ok + ["--cgroup", "../x.y=1"], "is not <controller>", 2)
    one_line("a bad limit", ok + ["--resource-limit", "core=1"], "fsize=<bytes>", 2)
    one_line("a bad limit value", ok + ["--resource-limit", "no-file=x"], "whole number", 2)
    one_line("cgroup version 3", ok + ["--cgroup-version", "3"], "is not 1 or 2", 2)
    one_line("a relative base", ok[:8] + ["--chroot-base-dir", "jails"], "absolute path", 2)
    one_line("an escaping parent cgroup", ok + ["--parent-cgroup", "../x"], "relative path", 2)
    one_line("an unknown flag", ok + ["--node", "0"], "unknown option '--node'", 2)
    one_line("a missing exec file", ["--exec-file", os.path.join(TMP, "nope")] + ok[:2] +
             ok[4:], "not an executable regular file", 4)
    one_line("a missing netns", ok + ["--netns", os.path.join(TMP, "nope")], "--netns", 4)
    one_line("a cgroup controller nobody has", ok + ["--cgroup", "frob.max=1"],
             "no cgroup v1 hierarchy has the 'frob' controller", 4)
    if v1_mounted("pids"):
        one_line("a cgroup file that does not exist", ok + ["--cgroup", "pids.frob=1"],
                 "pids.frob", 4)


def main():
    if os.geteuid() != 0:
        print("jailer: needs root (CI runs as root)")
        return SKIP
    netns = os.path.join(TMP, "netns")
    open(netns, "w").close()
    cg2 = os.path.join(TMP, "cg2")
    os.makedirs(cg2)
    subprocess.run(["mount", "--bind", TMP, TMP], check=True)
    subprocess.run(["mount", "--make-private", TMP], check=True)
    try:
        subprocess.run(["unshare", f"--net={netns}", "true"], check=True)
        subprocess.run(["mount", "-t", "cgroup2", "none", cg2], check=True)
        test_config_file()
        test_api_jail(netns, cg2)
        test_cgroup_v2(cg2)
        test_bad_inputs()
    finally:
        time.sleep(0.5)
        for ctrl in ("pids", "cpuset"):  # the v1 cgroups the jailer made
            top = f"/sys/fs/cgroup/{ctrl}/kiln"
            for d in (os.listdir(top) if os.path.isdir(top) else []):
                if os.path.isdir(os.path.join(top, d)):
                    try:
                        os.rmdir(os.path.join(top, d))
                    except OSError:
                        pass
            try:
                os.rmdir(top)
            except OSError:
                pass
        subprocess.run(["umount", "-l", cg2])
        subprocess.run(["umount", "-l", netns])
        subprocess.run(["umount", "-l", TMP])
    return CHECKS.exit_code()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""linux-disk.py — the full-Linux suite's disk batch, run inside the nested rig's L1
(scripts/nested): Linux with its root file system on kiln's virtio-blk.

    linux-disk.py --kiln PATH

root-ext4 (and root-ext4-mixed, the second disk alone on PCI with `--virtio-transport block1=pci`;
and root-ext4-pci, the same over `--virtio-transport pci`: the disks are functions
00:01.0 and 00:02.0 of kiln's PCI bus, each queue with its MSI-X vector): an ext4 image made with `mke2fs -d` (busybox and the scenario as /init) is the root
disk (`--disk IMG,root,id=rootdisk`, so kiln appends `root=/dev/vda rw`); a second disk is
read-only (`,ro,id=ro-data`). The guest writes 1 MiB derived from a random token to
/data/file.txt, syncs and powers off; the host then reads the file out of the image with
debugfs and compares every byte. The guest also reports both disks' serials
(/sys/block/vdX/serial = the id=), that the read-only disk is read-only and refuses a write, and
the read-only disk's contents; the host checks that disk is unchanged.

drive-patch: Firecracker's post-boot drive update, as Kata Containers attaches a container's disk:
a guest (initramfs) has a 4 MiB drive `scratch`; while it runs, `PATCH /drives/scratch` with a
path that does not exist is a 400 and changes nothing, then one naming a 6 MiB file swaps the
backing file: the guest's kernel sees the new size (a config-change interrupt) and reads the new
file's bytes.
"""
import argparse
import hashlib
import os
import secrets
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kilntest  # noqa: E402
import linuxguest as lg  # noqa: E402

SCENARIO = r"""
tok=$(sed 's/.*kiln.token=\([^ ]*\).*/\1/' /proc/cmdline)
kt root "$(awk '$2 == "/" {print $3, substr($4, 1, 2)}' /proc/mounts)"
mkdir -p /data
yes "$tok" | head -c 1048576 > /data/file.txt
sync
kt wrote "$(sha256sum < /data/file.txt | cut -d' ' -f1)"
for d in vda vdb; do kt serial $d "$(cat /sys/block/$d/serial)"; done
kt ro "$(cat /sys/block/vda/ro)" "$(cat /sys/block/vdb/ro)"
if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync 2>/dev/null; then
	kt rowrite allowed
else
	kt rowrite refused
fi
kt vdb "$(sha256sum < /dev/vdb | cut -d' ' -f1)"
pci=/sys/bus/pci/devices
kt pci "$(echo $(cat $pci/0000:00:01.0/vendor $pci/0000:00:01.0/device 2>/dev/null))"
kt msix "$(grep -c 'PCI-MSI.*virtio' /proc/interrupts)"
for d in vda vdb; do
	case "$(readlink -f /sys/block/$d/device)" in */pci0000*) kt bus $d pci ;; *) kt bus $d mmio ;; esac
done
""" + lg.REPORT_KERNEL_ERRORS

# The drive-patch guest: vda's size and hash, then wait (up to 120 s) for the size to change, drop
# the old blocks from the page cache, and report the new size and hash.
PATCH_SCENARIO = r"""
size() { cat /sys/block/vda/size; }
kt before "$(size) $(sha256sum < /dev/vda | cut -d' ' -f1)"
old=$(size)
i=0
while [ "$(size)" = "$old" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
blockdev --flushbufs /dev/vda
kt after "$(size) $(sha256sum < /dev/vda | cut -d' ' -f1)"
""" + lg.REPORT_KERNEL_ERRORS


def random_file(path, size):
    """A file of `size` random bytes; returns its sha256."""
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def drive_patch(s, kiln, kernel, tmp):
    old, new = os.path.join(tmp, "old.img"), os.path.join(tmp, "new.img")
    old_sum, new_sum = random_file(old, 4 << 20), random_file(new, 6 << 20)
    sock = os.path.join(tmp, "patch.sock")
    g = lg.Guest("drive-patch", [kiln, "run", "--kernel", kernel, "--memory", "256M",
                                 "--initrd", lg.initrd(tmp, "patch", PATCH_SCENARIO),
                                 "--disk", f"{old},id=scratch", "--api-sock", sock,
                                 "--cmdline", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init"],
                 tmp)
    g.wait_for(r"^KT before ", 120)
    s.equal(g.report("before"), f"{(4 << 20) // 512} {old_sum}",
            "drive-patch: the guest reads the first file (size in sectors, sha256)")
    st, body = kilntest.call(sock, "PATCH", "/drives/scratch",
                             {"drive_id": "scratch", "path_on_host": old + ".missing"})
    s.check(st == 400 and "missing" in str(body),
            "drive-patch: a PATCH naming a missing file is a 400 that names it", f"{st} {body}")
    st, body = kilntest.call(sock, "PATCH", "/drives/scratch",
                             {"drive_id": "scratch", "path_on_host": new})
    s.equal(st, 204, f"drive-patch: PATCH /drives/scratch with the new file ({body})")
    status = g.wait_exit(180)
    s.check(status == 0, "drive-patch: kiln exits 0 after the guest powers off",
            f"status {status}; {g.stderr()[-400:]}")
    s.equal(g.report("after"), f"{(6 << 20) // 512} {new_sum}",
            "drive-patch: the guest sees the new size and reads the new file")
    s.equal(lg.kernel_errors(g), [], "drive-patch: no kernel errors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kiln", required=True)
    args = ap.parse_args()
    s = lg.Suite("linux-disk")
    tmp = tempfile.mkdtemp(prefix="kiln-linux-disk-")
    kernel = lg.kiln_kernel("bzimage")
    token = secrets.token_hex(8)
    want = (token.encode() + b"\n") * (1048576 // (len(token) + 1) + 1)
    want = want[:1048576]

    def root_ext4(transport):
        """transport: mmio, pci, or mixed (virtio-mmio by default, the second disk on PCI)."""
        name = {"mmio": "root-ext4", "pci": "root-ext4-pci", "mixed": "root-ext4-mixed"}[transport]
        flags = (["--virtio-transport", "block1=pci"] if transport == "mixed"
                 else ["--virtio-transport", transport])
        root = lg.ext4_image(os.path.join(tmp, "root.img"), lg.guest_tree(SCENARIO), 64)
        data = os.path.join(tmp, "data.img")
        with open(data, "wb") as f:
            f.write(os.urandom(4 << 20))
        with open(data, "rb") as f:
            data_sum = hashlib.sha256(f.read()).hexdigest()

        g = lg.Guest(name, [args.kiln, "run", "--kernel", kernel, "--cpus", "2",
                            *flags,
                            "--memory", "512M", "--disk", f"{root},root,id=rootdisk",
                            "--disk", f"{data},ro,id=ro-data",
                            "--cmdline", f"console=ttyS0 loglevel=4 panic=-1 init=/init "
                                         f"kiln.token={token}"], tmp)
        status = g.wait_exit(180)
        s.check(status == 0, f"{name}: kiln exits 0 after the guest powers off",
                f"status {status}; {g.stderr()[-400:]}")
        s.equal(g.report("root"), "ext4 rw", f"{name}: / is the ext4 disk, read-write")
        s.equal(g.report("wrote"), hashlib.sha256(want).hexdigest(),
                f"{name}: the guest wrote the file")
        p = subprocess.run(["debugfs", "-R", "cat /data/file.txt", root], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        s.check(p.returncode == 0 and p.stdout == want,
                f"{name}: the host finds the file's exact 1 MiB in the image (debugfs)",
                f"debugfs status {p.returncode}, {len(p.stdout)} bytes; {p.stderr[-200:]!r}")
        s.equal(g.reports("serial"), ["vda rootdisk", "vdb ro-data"],
                f"{name}: each disk's id= is its /sys/block/vdX/serial")
        s.equal(g.report("ro"), "0 1", f"{name}: only the ro disk is read-only")
        s.equal(g.report("rowrite"), "refused", f"{name}: a write to the read-only disk fails")
        s.equal(g.report("vdb"), data_sum, f"{name}: the read-only disk reads its image's bytes")
        with open(data, "rb") as f:
            s.equal(hashlib.sha256(f.read()).hexdigest(), data_sum,
                    f"{name}: the read-only image is unchanged")
        if transport == "pci":  # both disks are functions 1 and 2 of bus 0, with MSI-X
            s.equal(g.report("pci"), "0x1af4 0x1042", f"{name}: 00:01.0 is virtio-pci's block")
            s.check(int(g.report("msix") or 0) >= 2,
                    f"{name}: the disks' queues interrupt through PCI-MSI vectors",
                    f"{g.report('msix')} PCI-MSI lines in /proc/interrupts")
            s.equal(g.reports("bus"), ["vda pci", "vdb pci"], f"{name}: both on PCI")
        elif transport == "mixed":  # the second disk is the bus's only function: 00:01.0
            s.equal(g.reports("bus"), ["vda mmio", "vdb pci"],
                    f"{name}: vda on a virtio-mmio slot, vdb (block1=pci) on the PCI bus")
            s.equal(g.report("pci"), "0x1af4 0x1042", f"{name}: 00:01.0 is virtio-pci's block")
        else:
            s.equal(g.report("pci"), "", f"{name}: no PCI device")
            s.equal(g.reports("bus"), ["vda mmio", "vdb mmio"],
                    f"{name}: both on virtio-mmio slots")
        s.equal(lg.kernel_errors(g), [], f"{name}: no kernel errors")

    s.scenario("root-ext4", lambda: root_ext4("mmio"))
    s.scenario("root-ext4-pci", lambda: root_ext4("pci"))
    s.scenario("root-ext4-mixed", lambda: root_ext4("mixed"))
    s.scenario("drive-patch", lambda: drive_patch(s, args.kiln, kernel, tmp))
    s.finish()


if __name__ == "__main__":
    main()

"""initramfs.py — build initramfs images: newc cpio archives of a file tree, Linux kernel modules
with their dependencies, and a busybox userspace. Used by the nested rig (scripts/nested: the
outer machine's initramfs) and the full-Linux suite (tests/nested: the guests' initramfs).

Written here rather than by calling cpio(1) and modprobe: the rig builds trees that exist only in
memory (files from several places, scripts generated per test), and Debian's kernel package ships
no modules.dep (depmod runs at install time), so dependencies come from each module's .modinfo.
"""
import gzip
import io
import os
import re
import stat

BUSYBOX = "/bin/busybox"  # Debian's busybox-static: a static binary with every applet


class Tree:
    """A file tree to pack: paths without a leading '/', parents created as needed."""

    def __init__(self):
        self.entries = {}  # path -> (mode, data): data bytes, str (symlink target) or None (dir)

    def _parents(self, path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            self.entries.setdefault(d, (0o755, None))

    def dir(self, path, mode=0o755):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (mode, None)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        if isinstance(data, str):
            data = data.encode()
        self._parents(path)
        self.entries[path] = (mode, bytes(data))

    def symlink(self, path, target):
        path = path.strip("/")
        self._parents(path)
        self.entries[path] = (0o777, target)

    def host_file(self, host_path, path=None, mode=None):
        """Copy a host file (its content, and its mode unless given) to path (default: the
        same path)."""
        with open(host_path, "rb") as f:
            data = f.read()
        self.file(path or host_path, data,
                  mode if mode is not None else stat.S_IMODE(os.stat(host_path).st_mode))

    def cpio(self):
        """The tree as a newc archive, parents before children, with the trailer."""
        entries = [(p,) + self.entries[p] for p in sorted(self.entries)]
        return cpio_newc(entries)

    def write(self, out_path, compress=False):
        data = self.cpio()
        if compress:
            data = gzip.compress(data, compresslevel=1)
        with open(out_path, "wb") as f:
            f.write(data)
        return out_path


def cpio_newc(entries):
    """A newc ("070701") cpio archive of (name, mode, data) entries: data bytes for a regular
    file, a str for a symlink's target, None for a directory."""
    out = io.BytesIO()

    def put(name, mode, data, ino):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.write(hdr.encode() + nb)
        out.write(b"\0" * (-out.tell() % 4))
        out.write(data)
        out.write(b"\0" * (-out.tell() % 4))

    for ino, (name, mode, data) in enumerate(entries, start=1):
        if data is None:
            put(name, stat.S_IFDIR | mode, b"", ino)
        elif isinstance(data, str):
            put(name, stat.S_IFLNK | 0o777, data.encode(), ino)
        else:
            put(name, stat.S_IFREG | mode, data, ino)
    put("TRAILER!!!", 0, b"", 0)
    return out.getvalue()


def busybox(tree, path=BUSYBOX):
    """Add Debian's static busybox (the host's, or another architecture's at path) as
    /bin/busybox and /bin/sh (an init runs `busybox --install -s /bin` for the other applets)."""
    tree.host_file(path, "bin/busybox", 0o755)
    tree.symlink("bin/sh", "busybox")


class Modules:
    """The modules of an unpacked kernel package (lib/modules/<release>)."""

    def __init__(self, moddir):
        self.moddir = moddir
        self.index = {}  # name (with '_' for '-') -> path
        for rel in self._paths():
            name = os.path.basename(rel)[:-3].replace("-", "_")
            self.index[name] = os.path.join(moddir, rel)

    def _paths(self):
        """Every module's path relative to moddir: from modules.order (one read; walking the
        tree's thousands of files is slow over the rig's 9p share), else by walking."""
        order = os.path.join(self.moddir, "modules.order")
        if os.path.exists(order):
            with open(order) as f:
                return [l.strip() for l in f if l.strip().endswith(".ko")]
        return [os.path.relpath(os.path.join(d, f), self.moddir)
                for d, _, files in os.walk(os.path.join(self.moddir, "kernel"))
                for f in files if f.endswith(".ko")]

    def depends(self, name):
        with open(self.index[name], "rb") as f:
            m = re.search(rb"\0depends=([^\0]*)\0", f.read())
        return [n.decode().replace("-", "_") for n in m.group(1).split(b",") if n] if m else []

    def resolve(self, wanted):
        """wanted and what they depend on, each after its dependencies. ValueError for a module
        the package does not have, or a dependency loop."""
        order, seen = [], set()

        def visit(name, chain):
            name = name.replace("-", "_")
            if name in seen:
                return
            if name in chain:
                raise ValueError("module dependency loop: " + " -> ".join(chain + [name]))
            if name not in self.index:
                raise ValueError(f"module {name} is not in {self.moddir}")
            for dep in self.depends(name):
                visit(dep, chain + [name])
            seen.add(name)
            order.append(name)

        for w in wanted:
            visit(w, [])
        return order

    def add(self, tree, wanted, params=None, where="modules"):
        """Put wanted (and dependencies) into tree as <where>/<name>.ko, and <where>/order: one
        line per module, in load order, with its parameters from params {name: "a=1 b=2"}."""
        params = params or {}
        lines = []
        for name in self.resolve(wanted):
            tree.host_file(self.index[name], f"{where}/{name}.ko", 0o644)
            lines.append(f"{name} {params.get(name, '')}".rstrip())
        tree.file(f"{where}/order", "\n".join(lines) + "\n")


# The shell lines an init runs to load what Modules.add packed (busybox insmod).
LOAD_MODULES = """\
if [ -f /modules/order ]; then
	while read -r mod args; do
		insmod "/modules/$mod.ko" $args || echo "init: insmod $mod failed"
	done < /modules/order
fi
"""

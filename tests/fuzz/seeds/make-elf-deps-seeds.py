#!/usr/bin/env python3
"""make-elf-deps-seeds.py — write seed inputs for fuzz_elf_deps: small x86-64 ELF files with a
PT_INTERP and a dynamic section (DT_NEEDED, DT_RPATH, DT_RUNPATH), a static one, a 32-bit one."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "elf_deps")
os.makedirs(out, exist_ok=True)
VADDR = 0x400000
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_RPATH, DT_RUNPATH = 1, 5, 10, 15, 29


def elf(interp=None, needed=(), rpath=None, runpath=None, cls=2, machine=62):
    phnum = 1 + (interp is not None) + 1
    body = 64 + 56 * phnum
    interp_b = (interp.encode() + b"\0") if interp else b""
    strtab = b"\0"
    dyn = []
    for n in needed:
        dyn.append((DT_NEEDED, len(strtab)))
        strtab += n.encode() + b"\0"
    for tag, s in ((DT_RPATH, rpath), (DT_RUNPATH, runpath)):
        if s:
            dyn.append((tag, len(strtab)))
            strtab += s.encode() + b"\0"
    interp_off = body
    strtab_off = interp_off + len(interp_b)
    dyn_off = (strtab_off + len(strtab) + 7) & ~7
    dyn += [(DT_STRTAB, VADDR + strtab_off), (DT_STRSZ, len(strtab)), (0, 0)]
    dyn_b = b"".join(struct.pack("<QQ", t, v) for t, v in dyn)
    total = dyn_off + len(dyn_b)

    def ph(t, off, size):
        return struct.pack("<IIQQQQQQ", t, 4, off, VADDR + off, VADDR + off, size, size, 8)

    phs = ph(PT_LOAD, 0, total)
    if interp:
        phs += ph(PT_INTERP, interp_off, len(interp_b))
    phs += ph(PT_DYNAMIC, dyn_off, len(dyn_b))
    ident = b"\x7fELF" + bytes([cls, 1, 1]) + bytes(9)
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    b = eh + phs + interp_b + strtab
    b += bytes(dyn_off - len(b)) + dyn_b
    return b


def seed(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


seed("dynamic", elf("/lib64/ld-linux-x86-64.so.2", ["libc.so.6", "libm.so.6"],
                    rpath="$ORIGIN/../lib", runpath="/opt/lib"))
seed("no-interp", elf(None, ["libc.so.6"]))
seed("static", elf(None))
seed("class32", elf("/lib/ld-linux.so.2", ["libc.so.6"], cls=1))
seed("aarch64", elf("/lib/ld-linux-aarch64.so.1", ["libc.so.6"], machine=183))

#!/usr/bin/env python3
"""mkbzimage.py ELF OUT — wrap a kit guest's Linux 64-bit entry into a bzImage.

The output is a Linux boot protocol 2.15 image: a one-sector setup part (boot sector plus
setup header, no real-mode code: only the 64-bit entry is usable) followed by the
protected-mode part, which is the guest's PT_LOAD segments flattened from their lowest
physical address (KIT_LOAD_GPA, 1 MiB). The guest is linked so that its 64-bit entry is
0x200 bytes into that part, which is where the boot protocol puts startup_64. pref_address
is the link address, so a loader that honours it (kiln: page-aligned and >= 1 MiB) loads the
part exactly where it was linked; init_size covers .bss and the stacks.
"""
import struct
import sys

SECTOR = 512
SETUP_SECTS = 1
ENTRY64_OFFSET = 0x200
PAGE = 4096


def load_segments(elf):
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        sys.exit("mkbzimage: not a little-endian ELF64 file")
    entry, phoff = struct.unpack_from("<QQ", elf, 0x18)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    segs = []
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz, p_memsz = struct.unpack_from(
            "<IIQQQQQ", elf, phoff + i * phentsize)
        if p_type == 1 and p_memsz:  # PT_LOAD
            segs.append((p_paddr, elf[p_offset:p_offset + p_filesz], p_memsz))
    if not segs:
        sys.exit("mkbzimage: no PT_LOAD segments")
    return entry, segs


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkbzimage.py ELF OUT")
    with open(sys.argv[1], "rb") as f:
        entry, segs = load_segments(f.read())
    base = min(s[0] for s in segs)
    if base < 0x100000 or base % PAGE:
        sys.exit(f"mkbzimage: load address {base:#x} is not page-aligned at or above 1 MiB")
    if entry != base + ENTRY64_OFFSET:
        sys.exit(f"mkbzimage: entry {entry:#x} is not load address {base:#x} + 0x200")
    file_end = max(p + len(d) for p, d, _ in segs)
    mem_end = max(p + m for p, _, m in segs)
    pm = bytearray(file_end - base)
    for p, d, _ in segs:
        pm[p - base:p - base + len(d)] = d
    init_size = (mem_end - base + PAGE - 1) // PAGE * PAGE

    setup = bytearray((SETUP_SECTS + 1) * SECTOR)
    msg = b"kiln guest test kit bzImage: boot it with a 64-bit boot protocol loader.\r\n"
    setup[0:len(msg)] = msg
    setup[0x1f1] = SETUP_SECTS
    struct.pack_into("<I", setup, 0x1f4, (len(pm) + 15) // 16)  # syssize, 16-byte units
    struct.pack_into("<H", setup, 0x1fe, 0xaa55)  # boot_flag
    setup[0x200:0x202] = bytes([0xeb, 0x66])  # jmp: the header runs to 0x268
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x020f)  # version 2.15
    setup[0x211] = 0x01  # loadflags: LOADED_HIGH
    struct.pack_into("<I", setup, 0x214, base)  # code32_start
    struct.pack_into("<I", setup, 0x22c, 0x7fffffff)  # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)  # kernel_alignment
    setup[0x234] = 0  # relocatable_kernel: no
    setup[0x235] = 21  # min_alignment (log2)
    struct.pack_into("<H", setup, 0x236, 0x0001)  # xloadflags: XLF_KERNEL_64
    struct.pack_into("<I", setup, 0x238, 4095)  # cmdline_size
    struct.pack_into("<Q", setup, 0x258, base)  # pref_address
    struct.pack_into("<I", setup, 0x260, init_size)  # init_size
    with open(sys.argv[2], "wb") as f:
        f.write(setup + pm)


if __name__ == "__main__":
    main()

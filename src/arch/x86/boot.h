/* boot.h — kernel loaders: Linux boot protocol (bzImage, ELF vmlinux), PVH, and raw images. */
#ifndef KILN_ARCH_X86_BOOT_H
#define KILN_ARCH_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/guest_mem.h"
#include "util/compiler.h"

/* How the boot vCPU starts. */
enum boot_cpu_mode {
	BOOT_CPU_LONG64, /* 64-bit mode, identity-mapped 0-4 GiB, boot GDT (CS 0x10, DS 0x18) */
	BOOT_CPU_PROT32, /* 32-bit protected mode, paging off, flat CS 0x10 / DS 0x18 (PVH) */
};

struct boot_entry {
	enum boot_cpu_mode mode;
	uint64_t rip;
	uint64_t rsi; /* Linux: boot_params GPA; raw: boot_params GPA too */
	uint64_t rbx; /* PVH: hvm_start_info GPA */
	uint64_t rsp; /* 0: leave zero */
};

struct boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_len;
	const char *cmdline;	   /* NULL: empty */
	enum boot_protocol proto;  /* BOOT_AUTO picks from the image */
	uint64_t load_addr, entry; /* BOOT_RAW only */
	uint64_t rsdp_gpa;	   /* ACPI RSDP to pass to the kernel, 0: none */
};

/*
 * Formats and conventions:
 *
 * - ELF (x86_64 ELF64 ET_EXEC): PT_LOAD segments go to p_paddr (p_filesz bytes copied, the rest
 *   of p_memsz zeroed); each must lie in one guest RAM region at or above LAYOUT_HIMEM_GPA and
 *   not overlap another. With BOOT_PVH, or BOOT_AUTO and a XEN_ELFNOTE_PHYS32_ENTRY note in a
 *   PT_NOTE segment, it boots via PVH: BOOT_CPU_PROT32 at the note's entry, rbx = hvm_start_info
 *   (at LAYOUT_PVH_INFO_GPA, followed by its memory map and module list). Otherwise (BOOT_LINUX,
 *   or no note) as a Linux vmlinux: 64-bit entry at e_entry, with a boot_params built from
 *   scratch. Either way the entry must lie in a segment's file bytes.
 * - bzImage (boot protocol >= 2.12 with XLF_KERNEL_64): the protected-mode part is loaded at
 *   pref_address when that is page-aligned and at or above 1 MiB, else at LAYOUT_KERNEL_GPA.
 *   The 64-bit decompressor never runs below pref_address anyway, so loading there lets it
 *   decompress in place; [load, load + max(init_size, file part)) must be RAM below 4 GiB.
 *   Entry: load + 0x200. boot_params starts as a copy of the image's setup header.
 * - Raw (BOOT_RAW): the file is copied verbatim to load_addr, which must be in guest RAM at or
 *   above LAYOUT_HIMEM_GPA (below lie the boot structures); entry must be in RAM below 4 GiB.
 *   It is entered like a Linux vmlinux: BOOT_CPU_LONG64, rsi = a boot_params (boot_flag,
 *   "HdrS", version 2.12) carrying the e820 map, cmd_line_ptr and ramdisk_image/size, so a
 *   unikernel can find its memory map, command line and initrd there.
 *
 * The RSDP (in->rsdp_gpa, if not 0) is passed in hvm_start_info.rsdp_paddr (PVH) and in
 * boot_params.acpi_rsdp_addr (offset 0x070): for a bzImage only if its protocol is 2.14 or later
 * (older kernels do not read it and find the RSDP by scanning the BIOS area); for a boot_params
 * built from scratch (vmlinux, raw) always, since the image states no protocol version and
 * kernels that predate the field have padding there.
 *
 * Linux and raw entries: rsi = LAYOUT_ZERO_PAGE_GPA, rsp = LAYOUT_BOOT_STACK_GPA. The cmdline
 * always goes to LAYOUT_CMDLINE_GPA (NUL-terminated, at most the kernel's cmdline_size bytes for
 * a bzImage, else LAYOUT_CMDLINE_MAX - 1). The initrd (PVH: module 0) is placed page-aligned, as
 * high as possible in the RAM region at 0, ending at or below initrd_addr_max + 1 (bzImage;
 * 0x7fffffff + 1 for a synthesized boot_params), at or above 1 MiB and outside the kernel's
 * footprint (just below the kernel if the top does not work).
 *
 * Load the kernel (and initrd, cmdline, boot structures and e820 map) into guest memory m and
 * say how to enter it. Every image field is validated against the image size and guest RAM.
 * On failure returns -EINVAL (malformed image: truncated, bad magic, overlapping or out-of-RAM
 * segments, oversized cmdline, initrd that does not fit) or -ENOMEM, and writes a one-line
 * message to err naming what was wrong.
 */
int boot_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out, char *err,
	      size_t errlen) MUST_CHECK;

#endif

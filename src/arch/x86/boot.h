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
};

/*
 * Load the kernel (and initrd, cmdline, boot structures and e820 map) into guest memory m and
 * say how to enter it. Every image field is validated against the image size and guest RAM.
 * On failure returns -EINVAL (malformed image: truncated, bad magic, overlapping or out-of-RAM
 * segments, oversized cmdline, initrd that does not fit) or -ENOMEM, and writes a one-line
 * message to err naming what was wrong.
 */
int boot_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out, char *err,
	      size_t errlen) MUST_CHECK;

#endif

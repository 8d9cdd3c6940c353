/* image.h — the arm64 kernel loaders: Linux's `Image` (Documentation/arm64/booting.rst) and raw
 * images, with the initrd and the place of the device tree. Pure guest-memory work, no KVM, so
 * the unit tests run it on any host. */
#ifndef KILN_ARCH_ARM64_IMAGE_H
#define KILN_ARCH_ARM64_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "util/compiler.h"

#define ARM64_IMAGE_MAGIC   0x644d5241u /* "ARM\x64" at offset 56, little-endian */
#define ARM64_IMAGE_HDR_LEN 64

struct arm64_boot_input {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_len;
	bool raw;		   /* a raw image at load_addr, entered at entry */
	uint64_t load_addr, entry; /* raw only */
	uint64_t dram_base, dram_size;
	uint64_t fdt_max; /* room kept for the device tree at the end of DRAM */
};

struct arm64_boot_layout {
	uint64_t entry;			   /* the boot vCPU's PC */
	uint64_t kernel_start, kernel_end; /* the kernel's footprint (bss included) */
	uint64_t initrd_start, initrd_end; /* both 0 without an initrd */
	uint64_t fdt_gpa;		   /* where the device tree goes (x0 at entry) */
};

/*
 * Load the kernel and initrd into m and say where everything went.
 *
 * - Image: the 64-byte header must carry the magic, little-endian (flags bit 0 clear), an
 *   image_size at least the file's size (0, from kernels before 3.17, means text_offset 0x80000
 *   and the file's size) and a text_offset below 2 MiB. The image goes to dram_base (2 MiB
 *   aligned) + text_offset and is entered at its first byte.
 * - Raw: the file goes to load_addr, entered at entry; both must be inside DRAM, the entry
 *   inside the loaded bytes.
 * - The device tree is kept in the last fdt_max bytes of DRAM (8-byte aligned, as booting.rst
 *   wants), the initrd page-aligned right below it, and neither may overlap the kernel.
 *
 * Returns 0, or -EINVAL with a one-line reason in err (truncated or malformed image, a kernel,
 * initrd and device tree that do not fit in DRAM).
 */
int arm64_boot_load(struct guest_mem *m, const struct arm64_boot_input *in,
		    struct arm64_boot_layout *out, char *err, size_t errlen) MUST_CHECK;

#endif

/* boot_priv.h — helpers shared by the loaders; not part of the public boot interface. */
#ifndef KILN_ARCH_X86_BOOT_PRIV_H
#define KILN_ARCH_X86_BOOT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "core/guest_mem.h"
#include "util/compiler.h"

#define BOOT_PAGE 0x1000ULL

/* Write a one-line message (printf format) into err (errlen bytes, may be 0). Returns -EINVAL. */
int boot_err(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);

/* True if [gpa, gpa+len) is non-empty, does not wrap, and lies inside one writable
 * GUEST_MEM_RAM region. */
bool boot_ram_ok(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* End of the RAM region at GPA 0 (the region the boot structures and initrd live in), or 0. */
uint64_t boot_low_ram_end(const struct guest_mem *m);

/* Where the initrd may go: below `limit` (exclusive end), never overlapping the kernel's
 * footprint [kernel_start, kernel_end). */
struct boot_initrd_area {
	uint64_t limit;
	uint64_t kernel_start, kernel_end;
};

/*
 * Choose the initrd's GPA: page-aligned, as high as possible, ending at or below
 * min(area->limit, boot_low_ram_end(m)), at or above LAYOUT_HIMEM_GPA, not overlapping the
 * kernel. Sets *gpa (0 if in has no initrd). Returns 0 or -EINVAL with a message in err.
 * Writes nothing to guest memory.
 */
int boot_initrd_place(const struct guest_mem *m, const struct boot_input *in,
		      const struct boot_initrd_area *area, uint64_t *gpa, char *err,
		      size_t errlen) MUST_CHECK;

/* Check that in->cmdline (NULL: empty) is at most max_len bytes (without its NUL; `limit_name`
 * names the limit in the message) and fits LAYOUT_CMDLINE_MAX. Sets *len to its length.
 * Returns 0 or -EINVAL with a message in err. */
int boot_cmdline_check(const struct boot_input *in, uint64_t max_len, const char *limit_name,
		       size_t *len, char *err, size_t errlen) MUST_CHECK;

/* Write the cmdline (checked by boot_cmdline_check) with its NUL at LAYOUT_CMDLINE_GPA and the
 * initrd (if any) at initrd_gpa. Returns 0 or -EINVAL with a message in err. */
int boot_cmdline_initrd_write(struct guest_mem *m, const struct boot_input *in, uint64_t initrd_gpa,
			      char *err, size_t errlen) MUST_CHECK;

/* Each loader: validate the image, write it and its boot structures, fill out. 0 or -errno
 * with a one-line message in err. */
int boot_linux_bzimage_load(struct guest_mem *m, const struct boot_input *in,
			    struct boot_entry *out, char *err, size_t errlen) MUST_CHECK;
int boot_linux_elf_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out,
			char *err, size_t errlen) MUST_CHECK;
int boot_pvh_load(struct guest_mem *m, const struct boot_input *in, uint32_t entry32,
		  struct boot_entry *out, char *err, size_t errlen) MUST_CHECK;
int boot_raw_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out,
		  char *err, size_t errlen) MUST_CHECK;

/*
 * Build a Linux boot_params from scratch (for an ELF vmlinux or a raw image) describing the
 * cmdline, the initrd placed by `area`, and the e820 map, and write it with the cmdline and
 * initrd into guest memory. Returns 0 or -EINVAL with a message in err.
 */
int boot_linux_params_synth(struct guest_mem *m, const struct boot_input *in,
			    const struct boot_initrd_area *area, char *err,
			    size_t errlen) MUST_CHECK;

/* Entry state for the Linux 64-bit boot protocol (also used for raw images). */
void boot_linux_entry64(struct boot_entry *out, uint64_t rip);

#endif

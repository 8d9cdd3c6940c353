/* boot.c — kernel format detection and dispatch, plus the cmdline/initrd helpers all loaders use.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* bzImage signature: boot_flag 0xAA55 at 0x1fe and "HdrS" at 0x202. */
#define BZ_BOOT_FLAG_OFF 0x1fe
#define BZ_HEADER_OFF	 0x202

int boot_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

bool boot_ram_ok(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct guest_region *r = guest_mem_find(m, gpa);

	if (!r || !(r->flags & GUEST_MEM_RAM) || (r->flags & GUEST_MEM_READONLY))
		return false;
	return len > 0 && len <= r->len - (gpa - r->gpa);
}

uint64_t boot_low_ram_end(const struct guest_mem *m)
{
	const struct guest_region *r = guest_mem_find(m, 0);

	return r && (r->flags & GUEST_MEM_RAM) ? r->len : 0;
}

int boot_initrd_place(const struct guest_mem *m, const struct boot_input *in,
		      const struct boot_initrd_area *area, uint64_t *gpa, char *err, size_t errlen)
{
	uint64_t top = boot_low_ram_end(m), size = in->initrd_len, addr;

	*gpa = 0;
	if (!in->initrd || size == 0)
		return 0;
	if (area->limit < top)
		top = area->limit;
	addr = size <= top ? (top - size) & ~(BOOT_PAGE - 1) : 0;
	/* Highest spot overlaps the kernel: try just below it. */
	if (addr < area->kernel_end && addr + size > area->kernel_start)
		addr =
		    size <= area->kernel_start ? (area->kernel_start - size) & ~(BOOT_PAGE - 1) : 0;
	if (addr < LAYOUT_HIMEM_GPA || size > top)
		return boot_err(err, errlen,
				"initrd: %llu bytes do not fit in guest RAM [1 MiB, %#llx) beside "
				"the kernel at [%#llx, %#llx)",
				(unsigned long long)size, (unsigned long long)top,
				(unsigned long long)area->kernel_start,
				(unsigned long long)area->kernel_end);
	*gpa = addr;
	return 0;
}

int boot_cmdline_check(const struct boot_input *in, uint64_t max_len, const char *limit_name,
		       size_t *len, char *err, size_t errlen)
{
	size_t n = in->cmdline ? strlen(in->cmdline) : 0;

	*len = n;
	if (n > max_len)
		return boot_err(err, errlen, "cmdline: %zu bytes exceeds %s %llu", n, limit_name,
				(unsigned long long)max_len);
	if (n >= LAYOUT_CMDLINE_MAX)
		return boot_err(err, errlen, "cmdline: %zu bytes exceeds kiln's limit of %llu", n,
				(unsigned long long)(LAYOUT_CMDLINE_MAX - 1));
	return 0;
}

int boot_cmdline_initrd_write(struct guest_mem *m, const struct boot_input *in, uint64_t initrd_gpa,
			      char *err, size_t errlen)
{
	const char *cmdline = in->cmdline ? in->cmdline : "";

	if (guest_mem_write(m, LAYOUT_CMDLINE_GPA, cmdline, strlen(cmdline) + 1) < 0)
		return boot_err(err, errlen, "cmdline: guest RAM does not cover %#llx",
				(unsigned long long)LAYOUT_CMDLINE_GPA);
	if (initrd_gpa && guest_mem_write(m, initrd_gpa, in->initrd, in->initrd_len) < 0)
		return boot_err(err, errlen, "initrd: cannot write %zu bytes at %#llx",
				in->initrd_len, (unsigned long long)initrd_gpa);
	return 0;
}

static bool is_bzimage(const uint8_t *k, size_t len)
{
	return len >= BZ_HEADER_OFF + 4 && k[BZ_BOOT_FLAG_OFF] == 0x55 &&
	       k[BZ_BOOT_FLAG_OFF + 1] == 0xaa && memcmp(k + BZ_HEADER_OFF, "HdrS", 4) == 0;
}

/* The PVH entry from a XEN_ELFNOTE_PHYS32_ENTRY note: 0 and *entry set, -ENOENT, -EINVAL. */
static int pvh_entry_find(const struct elf_image *img, uint32_t *entry, char *err, size_t errlen)
{
	const uint8_t *d;
	uint32_t dlen;
	uint64_t v = 0;
	int ret = elf_note_find(img, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, &d, &dlen, err, errlen);

	if (ret < 0)
		return ret;
	/* Linux emits a 4-byte (.long) or, in older trees, an 8-byte (_ASM_PTR) value. */
	if (dlen != 4 && dlen != 8)
		return boot_err(err, errlen,
				"PVH: XEN_ELFNOTE_PHYS32_ENTRY note has a %u-byte value (want 4 "
				"or 8)",
				dlen);
	for (uint32_t i = 0; i < dlen; i++)
		v |= (uint64_t)d[i] << (8 * i);
	if (v > UINT32_MAX)
		return boot_err(err, errlen, "PVH: entry %#llx is not a 32-bit address",
				(unsigned long long)v);
	*entry = (uint32_t)v;
	return 0;
}

static int elf_dispatch(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out,
			char *err, size_t errlen)
{
	struct elf_image img;
	uint32_t entry32 = 0;
	int ret = elf_parse(&img, in->kernel, in->kernel_len, err, errlen);

	if (ret < 0 || in->proto == BOOT_LINUX)
		return ret < 0 ? ret : boot_linux_elf_load(m, in, out, err, errlen);
	ret = pvh_entry_find(&img, &entry32, err, errlen);
	if (ret == -ENOENT && in->proto == BOOT_PVH)
		return boot_err(err, errlen,
				"PVH: the ELF has no XEN_ELFNOTE_PHYS32_ENTRY note (try --boot "
				"linux)");
	if (ret == -ENOENT)
		return boot_linux_elf_load(m, in, out, err, errlen);
	if (ret < 0)
		return ret;
	return boot_pvh_load(m, in, entry32, out, err, errlen);
}

int boot_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out, char *err,
	      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = '\0';
	if (!in->kernel || in->kernel_len == 0)
		return boot_err(err, errlen, "kernel: empty image");
	if (in->proto == BOOT_RAW)
		return boot_raw_load(m, in, out, err, errlen);
	if (elf_is_elf(in->kernel, in->kernel_len))
		return elf_dispatch(m, in, out, err, errlen);
	if (is_bzimage(in->kernel, in->kernel_len)) {
		if (in->proto == BOOT_PVH)
			return boot_err(err, errlen,
					"bzImage: PVH boot needs an ELF kernel with a PVH note "
					"(use --boot linux or auto)");
		return boot_linux_bzimage_load(m, in, out, err, errlen);
	}
	return boot_err(err, errlen,
			"kernel: not a bzImage or ELF image (use --load-addr/--entry for a raw "
			"image)");
}

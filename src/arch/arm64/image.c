/* image.c — load an arm64 Linux Image (or a raw image) and its initrd into guest memory and
 * choose where the device tree goes. Written by hand: the Image header is 64 bytes of fixed
 * fields (Documentation/arm64/booting.rst), for which no library exists. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/arm64/image.h"
#include "util/compiler.h"

#define TEXT_OFFSET_LEGACY 0x80000ULL /* image_size 0: kernels before 3.17 */
#define SZ_2M		   0x200000ULL
#define PAGE		   0x1000ULL
#define FLAG_BE		   1ULL /* flags bit 0: big-endian kernel */

static int fail(char *err, size_t len, const char *fmt, ...) PRINTF(3, 4);

static int fail(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where an Image goes: [start, end) of its footprint and the entry; 0 or -EINVAL. */
static int image_place(const struct arm64_boot_input *in, struct arm64_boot_layout *out, char *err,
		       size_t len)
{
	const uint8_t *h = in->kernel;
	uint64_t text_offset, image_size, flags;

	if (in->kernel_len < ARM64_IMAGE_HDR_LEN)
		return fail(err, len, "arm64 Image: %zu bytes, shorter than its 64-byte header",
			    in->kernel_len);
	if (le32(h + 56) != ARM64_IMAGE_MAGIC) {
		if (h[0] == 0x1f && h[1] == 0x8b)
			return fail(err, len,
				    "a gzip-compressed file, not an arm64 Image "
				    "(decompress it first: gunzip)");
		return fail(err, len, "not an arm64 Image (no \"ARM\\x64\" magic at offset 56)");
	}
	text_offset = le64(h + 8);
	image_size = le64(h + 16);
	flags = le64(h + 24);
	if (image_size == 0) {
		text_offset = TEXT_OFFSET_LEGACY;
		image_size = in->kernel_len;
	}
	if (flags & FLAG_BE)
		return fail(err, len,
			    "arm64 Image: a big-endian kernel (flags bit 0), kiln boots "
			    "little-endian ones");
	if (text_offset >= SZ_2M || text_offset % PAGE)
		return fail(err, len,
			    "arm64 Image: text_offset %#llx is not a page-aligned offset "
			    "below 2 MiB",
			    (unsigned long long)text_offset);
	if (image_size < in->kernel_len)
		return fail(err, len,
			    "arm64 Image: image_size %llu is smaller than the file (%zu "
			    "bytes)",
			    (unsigned long long)image_size, in->kernel_len);
	out->kernel_start = ((in->dram_base + SZ_2M - 1) & ~(SZ_2M - 1)) + text_offset;
	out->kernel_end = out->kernel_start + image_size;
	out->entry = out->kernel_start;
	return 0;
}

static int raw_place(const struct arm64_boot_input *in, struct arm64_boot_layout *out, char *err,
		     size_t len)
{
	uint64_t dram_end = in->dram_base + in->dram_size;

	if (in->load_addr < in->dram_base || in->load_addr >= dram_end)
		return fail(err, len, "raw image: load address %#llx is outside RAM [%#llx, %#llx)",
			    (unsigned long long)in->load_addr, (unsigned long long)in->dram_base,
			    (unsigned long long)dram_end);
	out->kernel_start = in->load_addr;
	out->kernel_end = in->load_addr + in->kernel_len;
	if (in->entry < out->kernel_start || in->entry >= out->kernel_end)
		return fail(err, len,
			    "raw image: entry %#llx is outside the loaded image [%#llx, "
			    "%#llx)",
			    (unsigned long long)in->entry, (unsigned long long)out->kernel_start,
			    (unsigned long long)out->kernel_end);
	out->entry = in->entry;
	return 0;
}

/* Device tree at the end of DRAM, initrd right below it, both clear of the kernel. */
static int tail_place(const struct arm64_boot_input *in, struct arm64_boot_layout *out, char *err,
		      size_t len)
{
	uint64_t dram_end = in->dram_base + in->dram_size, mib = in->dram_size >> 20;
	uint64_t low = out->kernel_end;

	if (in->fdt_max > in->dram_size || dram_end - in->fdt_max < low)
		return fail(err, len,
			    "the kernel (%llu KiB) and the device tree do not fit in "
			    "%llu MiB of memory",
			    (unsigned long long)((out->kernel_end - out->kernel_start) >> 10),
			    (unsigned long long)mib);
	out->fdt_gpa = (dram_end - in->fdt_max) & ~7ULL;
	out->initrd_start = out->initrd_end = 0;
	if (!in->initrd)
		return 0;
	if (in->initrd_len > out->fdt_gpa - low ||
	    ((out->fdt_gpa - in->initrd_len) & ~(PAGE - 1)) < low)
		return fail(err, len,
			    "the kernel, the initrd (%zu KiB) and the device tree do "
			    "not fit in %llu MiB of memory",
			    in->initrd_len >> 10, (unsigned long long)mib);
	out->initrd_start = (out->fdt_gpa - in->initrd_len) & ~(PAGE - 1);
	out->initrd_end = out->initrd_start + in->initrd_len;
	return 0;
}

int arm64_boot_load(struct guest_mem *m, const struct arm64_boot_input *in,
		    struct arm64_boot_layout *out, char *err, size_t errlen)
{
	uint64_t dram_end = in->dram_base + in->dram_size;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!in->kernel || in->kernel_len == 0)
		return fail(err, errlen, "empty kernel image");
	ret = in->raw ? raw_place(in, out, err, errlen) : image_place(in, out, err, errlen);
	if (ret == 0 && (out->kernel_end > dram_end || out->kernel_end < out->kernel_start))
		return fail(err, errlen,
			    "the kernel (%llu KiB at %#llx) does not fit in %llu MiB "
			    "of memory",
			    (unsigned long long)((out->kernel_end - out->kernel_start) >> 10),
			    (unsigned long long)out->kernel_start,
			    (unsigned long long)(in->dram_size >> 20));
	if (ret == 0)
		ret = tail_place(in, out, err, errlen);
	if (ret < 0)
		return ret;
	if (guest_mem_write(m, out->kernel_start, in->kernel, in->kernel_len) < 0 ||
	    (in->initrd && guest_mem_write(m, out->initrd_start, in->initrd, in->initrd_len) < 0))
		return fail(err, errlen, "kernel or initrd outside guest RAM");
	return 0;
}

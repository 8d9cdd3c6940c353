/* boot_linux.c — the Linux/x86 boot protocol: bzImage and ELF vmlinux, 64-bit entry. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/e820.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"

/*
 * boot_params ("zero page") offsets, from Documentation/arch/x86/boot.rst and zero-page.rst.
 * The setup header occupies [0x1f1, 0x290) of both the zero page and the bzImage file.
 */
#define BP_SIZE		      0x1000
#define BP_ACPI_RSDP_ADDR     0x070 /* boot_params proper, not the setup header; protocol 2.14 */
#define BP_EXT_RAMDISK_IMAGE  0x0c0
#define BP_EXT_RAMDISK_SIZE   0x0c4
#define BP_EXT_CMD_LINE_PTR   0x0c8
#define BP_E820_ENTRIES	      0x1e8
#define BP_HDR		      0x1f1 /* setup_sects: start of the setup header */
#define BP_HDR_END	      0x290 /* edd_mbr_sig_buffer: first byte after the header */
#define BP_BOOT_FLAG	      0x1fe
#define BP_JUMP		      0x200
#define BP_HEADER	      0x202
#define BP_VERSION	      0x206
#define BP_TYPE_OF_LOADER     0x210
#define BP_LOADFLAGS	      0x211
#define BP_RAMDISK_IMAGE      0x218
#define BP_RAMDISK_SIZE	      0x21c
#define BP_HEAP_END_PTR	      0x224
#define BP_CMD_LINE_PTR	      0x228
#define BP_INITRD_ADDR_MAX    0x22c
#define BP_KERNEL_ALIGNMENT   0x230
#define BP_RELOCATABLE_KERNEL 0x234
#define BP_XLOADFLAGS	      0x236
#define BP_CMDLINE_SIZE	      0x238
#define BP_PREF_ADDRESS	      0x258
#define BP_INIT_SIZE	      0x260
#define BP_E820_TABLE	      0x2d0
#define BP_E820_MAX	      128

#define LOADED_HIGH    0x01
#define CAN_USE_HEAP   0x80
#define XLF_KERNEL_64  0x01
#define LOADER_UNKNOWN 0xff /* type_of_loader: no assigned boot loader ID */

#define BZ_SECTOR	  512
#define BZ_PROTO_MIN	  0x020c /* 2.12: xloadflags, and with it the 64-bit entry flag */
#define BZ_PROTO_RSDP	  0x020e /* 2.14: the kernel reads boot_params.acpi_rsdp_addr */
#define BZ_ENTRY64_OFFSET 0x200	 /* startup_64 is 0x200 past the protected-mode start */
#define BZ_HEAP_END	  0xde00 /* heap_end_ptr: setup heap end as in boot.rst's example */

/* Values for a boot_params built from scratch (vmlinux, raw). */
#define SYNTH_VERSION	       0x020c
#define SYNTH_KERNEL_ALIGNMENT 0x1000000
#define SYNTH_INITRD_ADDR_MAX  0x7fffffff

static uint16_t get16(const uint8_t *p, size_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t get32(const uint8_t *p, size_t off)
{
	return (uint32_t)get16(p, off) | (uint32_t)get16(p, off + 2) << 16;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	return (uint64_t)get32(p, off) | (uint64_t)get32(p, off + 4) << 32;
}

static void put16(uint8_t *p, size_t off, uint16_t v)
{
	p[off] = (uint8_t)v;
	p[off + 1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	put16(p, off, (uint16_t)v);
	put16(p, off + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	put32(p, off, (uint32_t)v);
	put32(p, off + 4, (uint32_t)(v >> 32));
}

void boot_linux_entry64(struct boot_entry *out, uint64_t rip)
{
	*out = (struct boot_entry){
	    .mode = BOOT_CPU_LONG64,
	    .rip = rip,
	    .rsi = LAYOUT_ZERO_PAGE_GPA,
	    .rsp = LAYOUT_BOOT_STACK_GPA,
	};
}

/* The 64-bit entry runs on the boot page tables, which identity-map 0-4 GiB only. */
static int entry64_check(const struct guest_mem *m, const char *what, uint64_t rip, char *err,
			 size_t errlen)
{
	if (rip >= GiB(4) || !boot_ram_ok(m, rip, 1))
		return boot_err(err, errlen,
				"%s: entry %#llx is not in guest RAM below 4 GiB (the identity-"
				"mapped range)",
				what, (unsigned long long)rip);
	return 0;
}

/* A boot_params being built, and what constrains the cmdline and initrd it describes. */
struct linux_params {
	uint8_t bp[BP_SIZE];
	const char *cmdline_limit; /* names the cmdline_size limit in messages */
	struct boot_initrd_area area;
	bool rsdp_field; /* the kernel may read boot_params.acpi_rsdp_addr */
};

/* Fill the initrd, cmdline and e820 fields of lp->bp. */
static int params_fill(const struct guest_mem *m, const struct boot_input *in,
		       struct linux_params *lp, uint64_t initrd_gpa, char *err, size_t errlen)
{
	struct e820_entry map[E820_MAX];
	uint8_t *bp = lp->bp;
	int n = e820_build(m, map, E820_MAX < BP_E820_MAX ? E820_MAX : BP_E820_MAX);

	if (n < 0)
		return boot_err(err, errlen, "e820: cannot describe guest memory (%s)",
				strerror(-n));
	bp[BP_TYPE_OF_LOADER] = LOADER_UNKNOWN;
	bp[BP_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
	put16(bp, BP_HEAP_END_PTR, BZ_HEAP_END);
	put32(bp, BP_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE_GPA);
	put32(bp, BP_EXT_CMD_LINE_PTR, 0);
	/* The initrd lies in the low region (below 3 GiB), so the ext_ fields stay 0. */
	put32(bp, BP_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put32(bp, BP_RAMDISK_SIZE, initrd_gpa ? (uint32_t)in->initrd_len : 0);
	put32(bp, BP_EXT_RAMDISK_IMAGE, 0);
	put32(bp, BP_EXT_RAMDISK_SIZE, 0);
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	memcpy(bp + BP_E820_TABLE, map, (size_t)n * sizeof(map[0]));
	if (lp->rsdp_field)
		put64(bp, BP_ACPI_RSDP_ADDR, in->rsdp_gpa);
	return 0;
}

/*
 * Complete lp->bp (setup header already in place): check the cmdline against the header's
 * cmdline_size, place the initrd, fill the fields, then write boot_params, cmdline and initrd.
 */
static int params_finish(struct guest_mem *m, const struct boot_input *in, struct linux_params *lp,
			 char *err, size_t errlen)
{
	uint64_t initrd_gpa;
	size_t len;
	int ret;

	ret = boot_cmdline_check(in, get32(lp->bp, BP_CMDLINE_SIZE), lp->cmdline_limit, &len, err,
				 errlen);
	if (ret == 0)
		ret = boot_initrd_place(m, in, &lp->area, &initrd_gpa, err, errlen);
	if (ret == 0)
		ret = params_fill(m, in, lp, initrd_gpa, err, errlen);
	if (ret == 0)
		ret = boot_cmdline_initrd_write(m, in, initrd_gpa, err, errlen);
	if (ret == 0 && guest_mem_write(m, LAYOUT_ZERO_PAGE_GPA, lp->bp, BP_SIZE) < 0)
		ret = boot_err(err, errlen, "boot_params: guest RAM does not cover %#llx",
			       (unsigned long long)LAYOUT_ZERO_PAGE_GPA);
	return ret;
}

int boot_linux_params_synth(struct guest_mem *m, const struct boot_input *in,
			    const struct boot_initrd_area *area, char *err, size_t errlen)
{
	/* The image has no header to say its protocol; older kernels have padding at 0x070. */
	struct linux_params lp = {
	    .cmdline_limit = "kiln's limit", .area = *area, .rsdp_field = true};

	put16(lp.bp, BP_BOOT_FLAG, 0xaa55);
	memcpy(lp.bp + BP_HEADER, "HdrS", 4);
	put16(lp.bp, BP_VERSION, SYNTH_VERSION);
	put32(lp.bp, BP_KERNEL_ALIGNMENT, SYNTH_KERNEL_ALIGNMENT);
	put32(lp.bp, BP_INITRD_ADDR_MAX, SYNTH_INITRD_ADDR_MAX);
	put32(lp.bp, BP_CMDLINE_SIZE, (uint32_t)(LAYOUT_CMDLINE_MAX - 1));
	return params_finish(m, in, &lp, err, errlen);
}

int boot_linux_elf_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out,
			char *err, size_t errlen)
{
	struct elf_image img;
	struct boot_initrd_area area = {.limit = (uint64_t)SYNTH_INITRD_ADDR_MAX + 1};
	int ret = elf_parse(&img, in->kernel, in->kernel_len, err, errlen);

	if (ret == 0)
		ret = elf_segments_check(&img, m, err, errlen);
	if (ret == 0 && !elf_addr_loaded(&img, img.entry))
		ret = boot_err(err, errlen, "ELF: entry %#llx is not inside a loaded segment",
			       (unsigned long long)img.entry);
	if (ret == 0)
		ret = entry64_check(m, "ELF", img.entry, err, errlen);
	if (ret < 0)
		return ret;
	elf_extent(&img, &area.kernel_start, &area.kernel_end);
	ret = boot_linux_params_synth(m, in, &area, err, errlen);
	if (ret == 0 && elf_segments_load(&img, m) < 0)
		ret = boot_err(err, errlen, "ELF: cannot write the segments to guest memory");
	if (ret == 0)
		boot_linux_entry64(out, img.entry);
	return ret;
}

/* What the bzImage header says, after validation. */
struct bzimage {
	size_t setup_len; /* real-mode part: (setup_sects + 1) sectors */
	size_t hdr_end;	  /* end of the setup header to copy into boot_params */
	uint16_t version; /* boot protocol */
	uint64_t load_gpa, footprint;
	uint64_t initrd_limit;
};

static int bzimage_header_parse(const uint8_t *k, size_t len, struct bzimage *bz, char *err,
				size_t errlen)
{
	unsigned sects = k[BP_HDR] ? k[BP_HDR] : 4; /* 0 means 4 (boot.rst) */
	uint16_t version;

	bz->setup_len = (size_t)(sects + 1) * BZ_SECTOR;
	if (bz->setup_len >= len)
		return boot_err(err, errlen,
				"bzImage: setup_sects %u runs past the end of the %zu-byte file",
				sects, len);
	/* The header fields read below all lie before 0x290 < setup_len (at least 2560). */
	version = bz->version = get16(k, BP_VERSION);
	if (version < BZ_PROTO_MIN)
		return boot_err(err, errlen,
				"bzImage: boot protocol %u.%02u is too old (need 2.12 or later)",
				version >> 8, version & 0xff);
	if (!(get16(k, BP_XLOADFLAGS) & XLF_KERNEL_64))
		return boot_err(err, errlen,
				"bzImage: no 64-bit entry point (XLF_KERNEL_64 not in xloadflags "
				"%#x)",
				get16(k, BP_XLOADFLAGS));
	if (!(k[BP_LOADFLAGS] & LOADED_HIGH))
		return boot_err(err, errlen, "bzImage: not LOADED_HIGH (a zImage?)");
	/* The header ends at 0x202 + the jump offset in byte 0x201; keep it in bounds. */
	bz->hdr_end = BP_HEADER + k[BP_JUMP + 1];
	if (bz->hdr_end > BP_HDR_END)
		bz->hdr_end = BP_HDR_END;
	if (bz->hdr_end < BP_INIT_SIZE + 4)
		return boot_err(err, errlen,
				"bzImage: setup header ends at %#zx, before init_size (protocol "
				"2.12 headers reach at least %#x)",
				bz->hdr_end, BP_INIT_SIZE + 4);
	if (len - bz->setup_len <= BZ_ENTRY64_OFFSET)
		return boot_err(err, errlen,
				"bzImage: the %zu-byte protected-mode part ends before the 64-bit "
				"entry at +%#x",
				len - bz->setup_len, BZ_ENTRY64_OFFSET);
	bz->initrd_limit = (uint64_t)get32(k, BP_INITRD_ADDR_MAX) + 1;
	return 0;
}

/*
 * Load address. The 64-bit decompressor never runs below pref_address (LOAD_PHYSICAL_ADDR):
 * even a relocatable kernel loaded lower moves itself up there before decompressing. So we load
 * at pref_address when it lies at or above 1 MiB, and the kernel then decompresses in place;
 * otherwise at LAYOUT_KERNEL_GPA. The footprint to keep free is max(init_size, file part).
 */
static int bzimage_place(const struct guest_mem *m, const uint8_t *k, size_t len,
			 struct bzimage *bz, char *err, size_t errlen)
{
	uint64_t pref = get64(k, BP_PREF_ADDRESS), init_size = get32(k, BP_INIT_SIZE);
	uint64_t pm_len = len - bz->setup_len;

	bz->load_gpa =
	    pref >= LAYOUT_HIMEM_GPA && (pref & (BOOT_PAGE - 1)) == 0 ? pref : LAYOUT_KERNEL_GPA;
	bz->footprint = init_size > pm_len ? init_size : pm_len;
	if (!boot_ram_ok(m, bz->load_gpa, bz->footprint) || bz->load_gpa + bz->footprint > GiB(4))
		return boot_err(err, errlen,
				"bzImage: kernel at [%#llx, %#llx) (init_size %#llx) does not fit "
				"in guest RAM below 4 GiB",
				(unsigned long long)bz->load_gpa,
				(unsigned long long)(bz->load_gpa + bz->footprint),
				(unsigned long long)init_size);
	return 0;
}

int boot_linux_bzimage_load(struct guest_mem *m, const struct boot_input *in,
			    struct boot_entry *out, char *err, size_t errlen)
{
	struct linux_params lp = {.cmdline_limit = "the kernel's cmdline_size"};
	struct bzimage bz = {0};
	int ret = bzimage_header_parse(in->kernel, in->kernel_len, &bz, err, errlen);

	if (ret == 0)
		ret = bzimage_place(m, in->kernel, in->kernel_len, &bz, err, errlen);
	if (ret < 0)
		return ret;
	memcpy(lp.bp + BP_HDR, in->kernel + BP_HDR, bz.hdr_end - BP_HDR);
	lp.area = (struct boot_initrd_area){.limit = bz.initrd_limit,
					    .kernel_start = bz.load_gpa,
					    .kernel_end = bz.load_gpa + bz.footprint};
	lp.rsdp_field = bz.version >= BZ_PROTO_RSDP;
	ret = params_finish(m, in, &lp, err, errlen);
	if (ret == 0 && guest_mem_write(m, bz.load_gpa, in->kernel + bz.setup_len,
					in->kernel_len - bz.setup_len) < 0)
		ret = boot_err(err, errlen, "bzImage: cannot write the kernel to guest memory");
	if (ret == 0)
		boot_linux_entry64(out, bz.load_gpa + BZ_ENTRY64_OFFSET);
	return ret;
}

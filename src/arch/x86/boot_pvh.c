/* boot_pvh.c — the PVH boot ABI: ELF segments, hvm_start_info, memory map, initrd module. */
#include <errno.h>
#include <string.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/e820.h"
#include "arch/x86/elf.h"
#include "arch/x86/layout.h"

/* Xen's xen/include/public/arch-x86/hvm/start_info.h, version 1 (memory map added). */
#define HVM_START_MAGIC	  0x336ec578
#define HVM_START_VERSION 1

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* e820 types: 1 RAM, 2 reserved */
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "hvm_memmap_table_entry layout");

/*
 * Build the start_info page: struct hvm_start_info at LAYOUT_PVH_INFO_GPA, the memory map right
 * after it, the module list (the initrd, if any) after that, all inside LAYOUT_PVH_INFO_SIZE.
 */
static int pvh_info_build(const struct guest_mem *m, const struct boot_input *in,
			  uint64_t initrd_gpa, uint8_t *page, char *err, size_t errlen)
{
	struct hvm_start_info si = {.magic = HVM_START_MAGIC, .version = HVM_START_VERSION};
	struct e820_entry map[E820_MAX];
	size_t off = sizeof(si);
	int n = e820_build(m, map, E820_MAX);

	if (n < 0)
		return boot_err(err, errlen, "e820: cannot describe guest memory (%s)",
				strerror(-n));
	if (off + (size_t)n * sizeof(struct hvm_memmap_table_entry) +
		sizeof(struct hvm_modlist_entry) >
	    LAYOUT_PVH_INFO_SIZE)
		return boot_err(err, errlen, "PVH: %d memory map entries overflow start_info", n);
	si.memmap_paddr = LAYOUT_PVH_INFO_GPA + off;
	si.memmap_entries = (uint32_t)n;
	for (int i = 0; i < n; i++, off += sizeof(struct hvm_memmap_table_entry)) {
		struct hvm_memmap_table_entry e = {map[i].addr, map[i].size, map[i].type, 0};

		memcpy(page + off, &e, sizeof(e));
	}
	if (initrd_gpa) {
		struct hvm_modlist_entry mod = {.paddr = initrd_gpa, .size = in->initrd_len};

		memcpy(page + off, &mod, sizeof(mod));
		si.nr_modules = 1;
		si.modlist_paddr = LAYOUT_PVH_INFO_GPA + off;
	}
	si.cmdline_paddr = LAYOUT_CMDLINE_GPA;
	si.rsdp_paddr = in->rsdp_gpa;
	memcpy(page, &si, sizeof(si));
	return 0;
}

static int pvh_image_check(const struct guest_mem *m, const struct elf_image *img, uint32_t entry32,
			   char *err, size_t errlen)
{
	int ret = elf_segments_check(img, m, err, errlen);

	if (ret == 0 && !elf_addr_loaded(img, entry32))
		ret =
		    boot_err(err, errlen, "PVH: entry %#x is not inside a loaded segment", entry32);
	return ret;
}

int boot_pvh_load(struct guest_mem *m, const struct boot_input *in, uint32_t entry32,
		  struct boot_entry *out, char *err, size_t errlen)
{
	uint8_t page[LAYOUT_PVH_INFO_SIZE] = {0};
	struct boot_initrd_area area = {.limit = UINT64_MAX};
	struct elf_image img;
	uint64_t initrd_gpa = 0;
	size_t len;
	int ret = elf_parse(&img, in->kernel, in->kernel_len, err, errlen);

	if (ret == 0)
		ret = pvh_image_check(m, &img, entry32, err, errlen);
	if (ret == 0)
		ret = boot_cmdline_check(in, LAYOUT_CMDLINE_MAX - 1, "kiln's limit", &len, err,
					 errlen);
	if (ret < 0)
		return ret;
	elf_extent(&img, &area.kernel_start, &area.kernel_end);
	ret = boot_initrd_place(m, in, &area, &initrd_gpa, err, errlen);
	if (ret == 0)
		ret = pvh_info_build(m, in, initrd_gpa, page, err, errlen);
	if (ret == 0)
		ret = boot_cmdline_initrd_write(m, in, initrd_gpa, err, errlen);
	if (ret == 0 && guest_mem_write(m, LAYOUT_PVH_INFO_GPA, page, sizeof(page)) < 0)
		ret = boot_err(err, errlen, "PVH: guest RAM does not cover start_info at %#llx",
			       (unsigned long long)LAYOUT_PVH_INFO_GPA);
	if (ret == 0 && elf_segments_load(&img, m) < 0)
		ret = boot_err(err, errlen, "ELF: cannot write the segments to guest memory");
	if (ret < 0)
		return ret;
	*out = (struct boot_entry){
	    .mode = BOOT_CPU_PROT32, .rip = entry32, .rbx = LAYOUT_PVH_INFO_GPA};
	return 0;
}

/* boot_raw.c — raw images: copied verbatim to --load-addr and entered at --entry in 64-bit mode. */
#include <errno.h>

#include "arch/x86/boot_priv.h"
#include "arch/x86/layout.h"

int boot_raw_load(struct guest_mem *m, const struct boot_input *in, struct boot_entry *out,
		  char *err, size_t errlen)
{
	struct boot_initrd_area area = {.limit = UINT64_MAX, .kernel_start = in->load_addr};
	uint64_t end = in->load_addr + in->kernel_len;
	int ret;

	/* Below 1 MiB live the boot structures (GDT, page tables, zero page, cmdline). */
	if (in->load_addr < LAYOUT_HIMEM_GPA || !boot_ram_ok(m, in->load_addr, in->kernel_len))
		return boot_err(err, errlen,
				"raw: image [%#llx, %#llx) is not inside guest RAM at or above "
				"1 MiB",
				(unsigned long long)in->load_addr, (unsigned long long)end);
	if (in->entry >= GiB(4) || !boot_ram_ok(m, in->entry, 1))
		return boot_err(err, errlen,
				"raw: entry %#llx is not in guest RAM below 4 GiB (the identity-"
				"mapped range)",
				(unsigned long long)in->entry);
	area.kernel_end = end;
	ret = boot_linux_params_synth(m, in, &area, err, errlen);
	if (ret == 0 && guest_mem_write(m, in->load_addr, in->kernel, in->kernel_len) < 0)
		ret = boot_err(err, errlen, "raw: cannot write the image to guest memory");
	if (ret == 0)
		boot_linux_entry64(out, in->entry);
	return ret;
}

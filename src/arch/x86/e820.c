/* e820.c — the guest memory map: low RAM, the reserved EBDA/BIOS hole, then every RAM region. */
#include <errno.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"

static int e820_add(struct e820_entry *out, unsigned max, unsigned *n, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	if (*n == max)
		return -ENOSPC;
	out[*n] = (struct e820_entry){.addr = addr, .size = size, .type = type};
	(*n)++;
	return 0;
}

int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned max)
{
	const struct guest_region *low = m->nr ? &m->r[0] : NULL;
	unsigned n = 0;
	int ret;

	/* The low region holds the boot structures; the board always creates it at 0. */
	if (!low || low->gpa != 0 || !(low->flags & GUEST_MEM_RAM) || low->len < LAYOUT_HIMEM_GPA)
		return -EINVAL;
	ret = e820_add(out, max, &n, 0, LAYOUT_EBDA_GPA, E820_RAM);
	if (ret == 0)
		ret = e820_add(out, max, &n, LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA,
			       E820_RESERVED);
	if (ret == 0 && low->len > LAYOUT_HIMEM_GPA)
		ret =
		    e820_add(out, max, &n, LAYOUT_HIMEM_GPA, low->len - LAYOUT_HIMEM_GPA, E820_RAM);
	for (unsigned i = 1; ret == 0 && i < m->nr; i++) {
		if (m->r[i].flags & GUEST_MEM_RAM)
			ret = e820_add(out, max, &n, m->r[i].gpa, m->r[i].len, E820_RAM);
	}
	return ret < 0 ? ret : (int)n;
}

/* e820.h — the guest memory map, derived from the RAM regions and the fixed layout. */
#ifndef KILN_ARCH_X86_E820_H
#define KILN_ARCH_X86_E820_H

#include <stdint.h>

#include "core/guest_mem.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX      32

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/*
 * Fill out[0..max) with the guest memory map, sorted by address: RAM [0, LAYOUT_EBDA_GPA),
 * reserved [LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA) (EBDA, MP table, VGA hole, BIOS area), then RAM
 * for the rest of each GUEST_MEM_RAM region (the first one resumes at 1 MiB).
 * Regions without GUEST_MEM_RAM (ROMs, device memory) are left out.
 * Returns the number of entries, -ENOSPC if max is too small, or -EINVAL if m has no RAM
 * region at GPA 0 covering the first 1 MiB (the board always creates one).
 */
int e820_build(const struct guest_mem *m, struct e820_entry *out, unsigned max);

#endif

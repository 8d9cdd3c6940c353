/* memmap.c — the boot memory map equals what `expect_mem=SIZE` implies, and RAM ends there. */
#include "guest.h"

#define GiB	     (1ULL << 30)
#define EBDA	     0x9fc00ULL
#define HIMEM	     0x100000ULL
#define LOW_RAM_MAX  (3 * GiB)
#define HIGH_RAM_GPA (4 * GiB)
#define MAPPED_END   (5 * GiB) /* the kit's identity map (entry.S) */

static void touch(uint64_t gpa, uint8_t v)
{
	mmio_write8(gpa, v);
	GUEST_ASSERT_EQ(mmio_read8(gpa), v);
}

int main(void)
{
	struct guest_mem_range got[16], want[4] = {
					    {0, EBDA, 1},
					    {EBDA, HIMEM - EBDA, 2},
					};
	uint64_t mem, low;
	int n, nwant = 2;

	GUEST_ASSERT(guest_cmdline_u64("expect_mem", &mem));
	low = mem < LOW_RAM_MAX ? mem : LOW_RAM_MAX;
	if (low > HIMEM)
		want[nwant++] = (struct guest_mem_range){HIMEM, low - HIMEM, 1};
	if (mem > LOW_RAM_MAX)
		want[nwant++] = (struct guest_mem_range){HIGH_RAM_GPA, mem - LOW_RAM_MAX, 1};

	n = guest_memmap(got, 16);
	guest_printf("memmap: %d entries via %s (expect_mem=%#lx)\n", n, guest_boot_protocol_name(),
		     mem);
	for (int i = 0; i < n; i++)
		guest_printf("  [%#lx, %#lx) type %u\n", got[i].addr, got[i].addr + got[i].size,
			     got[i].type);
	GUEST_ASSERT_EQ(n, nwant);
	for (int i = 0; i < n; i++) {
		GUEST_ASSERT_EQ(got[i].addr, want[i].addr);
		GUEST_ASSERT_EQ(got[i].size, want[i].size);
		GUEST_ASSERT_EQ(got[i].type, want[i].type);
	}

	/* The last byte of low RAM is RAM; the byte after it (if below the hole) is not. */
	touch(low - 1, 0x5a);
	if (low < LOW_RAM_MAX)
		GUEST_ASSERT_EQ(mmio_read8(low), 0xff);
	if (mem > LOW_RAM_MAX) {
		uint64_t end = HIGH_RAM_GPA + mem - LOW_RAM_MAX;

		GUEST_ASSERT(end <= MAPPED_END);
		touch(HIGH_RAM_GPA, 0xa5);
		touch(end - 1, 0x3c);
		if (end < MAPPED_END)
			GUEST_ASSERT_EQ(mmio_read8(end), 0xff);
	}
	return 0;
}

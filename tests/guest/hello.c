/* hello.c — the smallest guest: print a line saying how it booted, then PASS. */
#include "guest.h"

int main(void)
{
	guest_printf("hello from a kiln guest test (boot protocol %s, cmdline \"%s\")\n",
		     guest_boot_protocol_name(), guest_cmdline());
	if (guest_boot_protocol() == KIT_BOOT_LINUX) /* 0x20c: kiln's own; else the bzImage's */
		guest_printf("boot_params version %#x\n",
			     mmio_read16(guest_boot_info_gpa() + 0x206));
	return 0;
}

/* hello.c — the smallest guest: print a line saying how it booted, then PASS. */
#include "guest.h"

int main(void)
{
	guest_printf("hello from a kiln guest test (boot protocol %s, cmdline \"%s\")\n",
		     guest_boot_protocol_name(), guest_cmdline());
	return 0;
}

/* exception.c — the kit's own fault path: an exception at CPL3 reaches the ring-0 handler,
 * which prints "guest exception <vector> at <rip> (error <code>)" and exits with status 5.
 * `kind=ud` (#UD, 6), `kind=gp` (#GP, 13: cli at CPL3) or `kind=pf` (#PF, 14: above the map). */
#include "guest.h"

int main(void)
{
	char kind[8] = "";

	guest_cmdline_get("kind", kind, sizeof(kind));
	guest_printf("exception: raising %s at CPL3\n", kind);
	if (strcmp(kind, "ud") == 0)
		__asm__ volatile("ud2");
	else if (strcmp(kind, "gp") == 0)
		__asm__ volatile("cli");
	else if (strcmp(kind, "pf") == 0)
		(void)mmio_read8(0x7f0000000000ULL); /* not in the kit's 0-5 GiB map */
	guest_fail("no exception for kind=%s", kind);
}

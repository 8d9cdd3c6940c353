/* pvpanic_flood.c — a guest that says "crash kernel loaded" through the pvpanic port over and
 * over (count=N writes of PVPANIC_CRASH_LOADED): kiln must keep running and log it at a bounded
 * rate, not once per write. Needs --pvpanic. */
#include "guest.h"

#define PVPANIC_PORT	     0x505
#define PVPANIC_CRASH_LOADED 0x02

int main(void)
{
	uint64_t n = 100000;

	guest_cmdline_u64("count", &n);
	GUEST_ASSERT_EQ(inb(PVPANIC_PORT), 0x03); /* the events kiln's pvpanic understands */
	for (uint64_t i = 0; i < n; i++)
		outb(PVPANIC_PORT, PVPANIC_CRASH_LOADED);
	guest_printf("pvpanic_flood: %lu writes of CRASH_LOADED\n", n);
	return 0;
}

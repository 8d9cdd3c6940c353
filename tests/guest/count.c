/* count.c — the pause/resume subject: counts forever at CPL3, storing the running count at
 * GUEST_COUNTER_GPA (a uint64_t), and never exits by itself. A host-side driver reads the
 * counter from guest memory to see whether the vCPU runs (it grows) or is paused (it does not). */
#include "guest.h"

int main(void)
{
	volatile uint64_t *counter = (volatile uint64_t *)GUEST_COUNTER_GPA;
	uint64_t n = 0;

	guest_printf("count: counting at %#lx\n", (uint64_t)GUEST_COUNTER_GPA);
	for (;;)
		*counter = ++n;
}

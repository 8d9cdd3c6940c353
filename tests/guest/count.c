/* count.c — the pause/resume and snapshot subject: counts forever at CPL3, storing the running
 * count at GUEST_COUNTER_GPA (a uint64_t), and never exits by itself. A host-side driver reads the
 * counter from guest memory to see whether the vCPU runs (it grows) or is paused (it does not).
 * With `print_every=N` on the command line it also prints "count: <n>" on the serial port each
 * time the count reaches a multiple of N, so the serial output shows the count too. */
#include "guest.h"

int main(void)
{
	volatile uint64_t *counter = (volatile uint64_t *)GUEST_COUNTER_GPA;
	uint64_t n = 0, every = 0;

	guest_printf("count: counting at %#lx\n", (uint64_t)GUEST_COUNTER_GPA);
	if (!guest_cmdline_u64("print_every", &every))
		every = 0;
	for (;;) {
		*counter = ++n;
		if (every && n % every == 0)
			guest_printf("count: %lu\n", n);
	}
}

/* count.c — the pause/resume and snapshot subject: counts forever at CPL3, storing the running
 * count at GUEST_COUNTER_GPA (a uint64_t), and never exits by itself. A host-side driver reads the
 * counter from guest memory to see whether the vCPU runs (it grows) or is paused (it does not).
 * With `print_every=N` on the command line it also prints "count: <n>" on the serial port each
 * time the count reaches a multiple of N, so the serial output shows the count too. With
 * `touch_mib=M` it first writes a non-zero word into every 4 KiB page of M MiB from 16 MiB (a
 * fully touched guest for the snapshot benchmark, bench/snapshot-times.py) and prints
 * "count: touched M MiB". */
#include "guest.h"

#define TOUCH_BASE 0x1000000ULL

int main(void)
{
	volatile uint64_t *counter = (volatile uint64_t *)GUEST_COUNTER_GPA;
	uint64_t n = 0, every = 0, touch = 0;

	guest_printf("count: counting at %#lx\n", (uint64_t)GUEST_COUNTER_GPA);
	if (guest_cmdline_u64("touch_mib", &touch) && touch) {
		volatile uint64_t *p = (volatile uint64_t *)TOUCH_BASE;

		for (uint64_t i = 0; i < touch * 256; i++, p += 512)
			*p = i + 1;
		guest_printf("count: touched %lu MiB\n", touch);
	}
	if (!guest_cmdline_u64("print_every", &every))
		every = 0;
	for (;;) {
		*counter = ++n;
		if (every && n % every == 0)
			guest_printf("count: %lu\n", n);
	}
}

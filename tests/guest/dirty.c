/* dirty.c — the migration subject that dirties memory: a working set of `mib=N` MiB (default 8)
 * at 16 MiB, each 4 KiB page stamped with the pass number in every pass, as fast as the vCPU
 * goes (or `pause=N` pause instructions between pages, to lower the dirty rate). At the start of
 * each pass every page must hold the previous pass's stamp: memory that a migration lost or
 * copied stale shows as "dirty: FAIL". Prints "dirty: pass N ok" every `print_every` passes
 * (default 16). */
#include "guest.h"

#define BASE 0x1000000ULL

int main(void)
{
	uint64_t mib = 8, pause = 0, every = 16;

	guest_cmdline_u64("mib", &mib);
	guest_cmdline_u64("pause", &pause);
	guest_cmdline_u64("print_every", &every);
	if (!every)
		every = 1;
	guest_printf("dirty: %lu MiB at %#llx\n", mib, BASE);
	for (uint64_t pass = 1;; pass++) {
		volatile uint64_t *p = (volatile uint64_t *)BASE;
		uint64_t pages = mib * 256;

		for (uint64_t i = 0; i < pages; i++, p += 512) {
			if (*p != pass - 1) {
				guest_printf("dirty: FAIL page %lu holds %lu in pass %lu\n", i, *p,
					     pass);
				for (;;)
					guest_pause();
			}
			*p = pass;
			for (uint64_t k = 0; k < pause; k++)
				guest_pause();
		}
		if (pass % every == 0)
			guest_printf("dirty: pass %lu ok\n", pass);
	}
}

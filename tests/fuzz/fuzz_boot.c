/* fuzz_boot.c — libFuzzer target: boot_load on arbitrary bytes, under every boot protocol.
 *
 * Built with -Dfuzz=true (CC=clang; tests/fuzz/meson.build); `make fuzz` runs it at length.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static int ready;
	static const uint8_t initrd[0x1000];
	struct boot_input in = {.kernel = data,
				.kernel_len = size,
				.cmdline = "console=ttyS0",
				.initrd = initrd,
				.initrd_len = sizeof(initrd),
				.load_addr = MiB(2),
				.entry = MiB(2)};
	struct boot_entry out;
	char err[256];

	if (!ready) {
		guest_mem_init(&m, -1);
		if (guest_mem_add(&m, 0, MiB(64), GUEST_MEM_RAM) < 0)
			return 0;
		ready = 1;
	}
	for (int p = BOOT_AUTO; p <= BOOT_RAW; p++) {
		int ret;

		in.proto = (enum boot_protocol)p;
		ret = boot_load(&m, &in, &out, err, sizeof(err));
		assert(ret == 0 || (ret == -EINVAL && err[0] && !strchr(err, '\n')));
	}
	return 0;
}

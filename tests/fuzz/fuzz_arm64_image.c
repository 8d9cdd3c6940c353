/* fuzz_arm64_image.c — libFuzzer target: the arm64 Image and raw loaders on arbitrary bytes, and
 * the device tree built for what they placed (the first 8 bytes choose the memory size and the
 * initrd's length, so placement edges are reached too). Every refusal is one line; every
 * success leaves kernel, initrd and device tree inside DRAM without overlapping.
 *
 * Built with -Dfuzz=true (CC=clang; tests/fuzz/meson.build); `make fuzz` runs it at length.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libfdt.h>

#include "arch/arm64/fdt.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"

#define MEM (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_layout(const struct arm64_boot_input *in, const struct arm64_boot_layout *o)
{
	uint64_t end = in->dram_base + in->dram_size;

	assert(o->kernel_start >= in->dram_base && o->kernel_end <= o->fdt_gpa);
	assert(o->fdt_gpa + in->fdt_max <= end && o->fdt_gpa % 8 == 0);
	assert(!in->initrd || (o->initrd_start >= o->kernel_end && o->initrd_end <= o->fdt_gpa));
}

static void build_fdt(const struct arm64_boot_layout *o, uint64_t mem)
{
	static uint8_t buf[64 * 1024];
	uint64_t mpidr = 0x80000000ULL;
	struct arm64_fdt_desc d = {.mem_base = ARM64_DRAM_GPA,
				   .mem_size = mem,
				   .nr_cpus = 1,
				   .mpidr = &mpidr,
				   .sockets = 1,
				   .cores = 1,
				   .threads = 1,
				   .nr_uart = 1,
				   .uart = {{ARM64_UART0_GPA, 0x1000, 1}},
				   .stdout_uart = 0,
				   .bootargs = "console=ttyS0",
				   .initrd_start = o->initrd_start,
				   .initrd_end = o->initrd_end};

	assert(arm64_fdt_build(&d, buf, sizeof(buf)) == 0 && fdt_check_header(buf) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static int ready;
	static const uint8_t initrd[MEM];
	struct arm64_boot_input in = {.dram_base = ARM64_DRAM_GPA, .fdt_max = ARM64_FDT_MAX};
	struct arm64_boot_layout out;
	char err[256];

	if (size < 8)
		return 0;
	if (!ready) {
		guest_mem_init(&m, -1);
		if (guest_mem_add(&m, ARM64_DRAM_GPA, MEM, GUEST_MEM_RAM) < 0)
			return 0;
		ready = 1;
	}
	in.dram_size = ((uint64_t)data[0] % 32 + 1) << 20; /* 1-32 MiB of the 32 mapped */
	in.initrd_len = (size_t)(data[1] | data[2] << 8 | (data[3] & 0x3f) << 16) << 4;
	in.initrd = in.initrd_len ? initrd : NULL;
	in.kernel = data + 8;
	in.kernel_len = size - 8;
	for (int raw = 0; raw <= 1; raw++) {
		int ret;

		in.raw = raw;
		in.load_addr = ARM64_DRAM_GPA + (uint64_t)data[4] * 0x10000;
		in.entry = in.load_addr + (uint64_t)data[5] * 4;
		ret = arm64_boot_load(&m, &in, &out, err, sizeof(err));
		assert(ret == 0 || (ret == -EINVAL && err[0] && !strchr(err, '\n')));
		if (ret == 0) {
			check_layout(&in, &out);
			build_fdt(&out, in.dram_size);
		}
	}
	return 0;
}

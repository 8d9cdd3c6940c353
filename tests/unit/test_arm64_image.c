/* test_arm64_image.c — the arm64 Image and raw loaders (src/arch/arm64/image.c) against guest
 * memory on any host: placement, header checks, and the one-line refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"

#define MEM	(64ULL << 20)
#define IMG_LEN 0x3000

struct fx {
	struct guest_mem m;
	uint8_t img[IMG_LEN];
	struct arm64_boot_input in;
	struct arm64_boot_layout out;
	char err[256];
};

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* An Image header: text_offset, image_size, flags, the magic; a pattern after it. */
static void image(struct fx *f, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	for (size_t i = 0; i < IMG_LEN; i++)
		f->img[i] = (uint8_t)(i * 7 + 3);
	memset(f->img, 0, ARM64_IMAGE_HDR_LEN);
	put64(f->img + 8, text_offset);
	put64(f->img + 16, image_size);
	put64(f->img + 24, flags);
	memcpy(f->img + 56, "ARM\x64", 4);
	f->in = (struct arm64_boot_input){.kernel = f->img,
					  .kernel_len = IMG_LEN,
					  .dram_base = ARM64_DRAM_GPA,
					  .dram_size = MEM,
					  .fdt_max = ARM64_FDT_MAX};
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	guest_mem_init(&f->m, -1);
	assert_int_equal(guest_mem_add(&f->m, ARM64_DRAM_GPA, MEM, 0), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	guest_mem_destroy(&f->m);
	free(f);
	return 0;
}

static int load(struct fx *f)
{
	return arm64_boot_load(&f->m, &f->in, &f->out, f->err, sizeof(f->err));
}

static void test_image_placement(void **state)
{
	struct fx *f = *state;
	static const uint8_t initrd[0x1800] = {9, 8, 7};

	image(f, 0x80000, 0x200000, 0x2);
	f->in.initrd = initrd;
	f->in.initrd_len = sizeof(initrd);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->out.kernel_start, ARM64_DRAM_GPA + 0x80000);
	assert_int_equal(f->out.entry, ARM64_DRAM_GPA + 0x80000);
	assert_int_equal(f->out.kernel_end, ARM64_DRAM_GPA + 0x280000);
	assert_int_equal(f->out.fdt_gpa, ARM64_DRAM_GPA + MEM - ARM64_FDT_MAX);
	assert_int_equal(f->out.fdt_gpa % 8, 0);
	assert_int_equal(f->out.initrd_end, f->out.initrd_start + sizeof(initrd));
	assert_true(f->out.initrd_end <= f->out.fdt_gpa);
	assert_int_equal(f->out.initrd_start % 0x1000, 0);
	assert_memory_equal(guest_mem_ptr(&f->m, f->out.kernel_start, IMG_LEN), f->img, IMG_LEN);
	assert_memory_equal(guest_mem_ptr(&f->m, f->out.initrd_start, sizeof(initrd)), initrd,
			    sizeof(initrd));
}

static void test_image_legacy_size(void **state)
{
	struct fx *f = *state;

	image(f, 0x12345000, 0, 0); /* image_size 0: text_offset 0x80000, whatever it says */
	assert_int_equal(load(f), 0);
	assert_int_equal(f->out.kernel_start, ARM64_DRAM_GPA + 0x80000);
	assert_int_equal(f->out.kernel_end, ARM64_DRAM_GPA + 0x80000 + IMG_LEN);
}

static void test_image_refused(void **state)
{
	struct fx *f = *state;

	image(f, 0, 0x10000, 0);
	f->img[56] = 'X';
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "not an arm64 Image"));
	image(f, 0, 0x10000, 0);
	f->img[0] = 0x1f, f->img[1] = 0x8b, f->img[56] = 0;
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "gzip"));
	image(f, 0, 0x10000, 1); /* big-endian */
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "big-endian"));
	image(f, 0x200000, 0x10000, 0);
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "text_offset"));
	image(f, 0x1100, 0x10000, 0);
	assert_int_equal(load(f), -EINVAL);
	image(f, 0, 0x1000, 0); /* image_size below the file's size */
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "image_size"));
	image(f, 0, 0x10000, 0);
	f->in.kernel_len = 63;
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "64-byte header"));
	image(f, 0, MEM, 0); /* the kernel leaves no room for the device tree */
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "do not fit"));
	image(f, 0, 1ULL << 62, 0); /* a huge image_size must not wrap */
	assert_int_equal(load(f), -EINVAL);
}

static void test_initrd_too_big(void **state)
{
	struct fx *f = *state;
	uint8_t *big = calloc(1, MEM);

	assert_non_null(big);
	image(f, 0, 0x100000, 0);
	f->in.initrd = big;
	f->in.initrd_len = MEM - ARM64_FDT_MAX - 0x80000;
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "initrd"));
	free(big);
}

static void test_raw(void **state)
{
	struct fx *f = *state;

	image(f, 0, 0, 0);
	f->in.raw = true;
	f->in.load_addr = ARM64_DRAM_GPA + 0x100000;
	f->in.entry = ARM64_DRAM_GPA + 0x100040;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->out.entry, ARM64_DRAM_GPA + 0x100040);
	assert_memory_equal(guest_mem_ptr(&f->m, f->in.load_addr, IMG_LEN), f->img, IMG_LEN);
	f->in.entry = f->in.load_addr + IMG_LEN; /* just past the image */
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "entry"));
	f->in.load_addr = 0x1000; /* below DRAM */
	assert_int_equal(load(f), -EINVAL);
	assert_non_null(strstr(f->err, "load address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_image_placement, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_legacy_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_image_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_initrd_too_big, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raw, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

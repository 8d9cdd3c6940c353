/* test_boot_raw.c — unit tests for raw images and format detection in boot_load. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "boot_images.h"

#define RAW_LEN 0x1800

static void raw_build(struct ti_ctx *c, uint64_t load, uint64_t entry)
{
	for (size_t i = 0; i < RAW_LEN; i++)
		c->img[i] = ti_pattern(i);
	c->len = RAW_LEN;
	c->in.proto = BOOT_RAW;
	c->in.load_addr = load;
	c->in.entry = entry;
}

static void test_raw_ok(void **state)
{
	struct ti_ctx *c = *state;
	static const uint8_t initrd[0x800] = {1, 2, 3};
	const uint8_t *bp;

	raw_build(c, 0x200000, 0x200100);
	c->in.cmdline = "unikernel arg";
	c->in.initrd = initrd;
	c->in.initrd_len = sizeof(initrd);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_LONG64);
	assert_int_equal(c->out.rip, 0x200100);
	assert_int_equal(c->out.rsi, LAYOUT_ZERO_PAGE_GPA);
	assert_int_equal(c->out.rsp, LAYOUT_BOOT_STACK_GPA);
	assert_memory_equal(ti_guest(&c->m, 0x200000, RAW_LEN), c->img, RAW_LEN);
	bp = ti_guest(&c->m, LAYOUT_ZERO_PAGE_GPA, 0x1000);
	assert_int_equal(ti_get16(bp, 0x1fe), 0xaa55);
	assert_int_equal(ti_get32(bp, 0x228), LAYOUT_CMDLINE_GPA);
	assert_int_equal(ti_get32(bp, 0x218), TI_MEM_SIZE - 0x1000);
	assert_int_equal(ti_get32(bp, 0x21c), sizeof(initrd));
	assert_int_equal(bp[0x1e8], 3);
	assert_int_equal(ti_get64(bp, 0x2d0 + 40), LAYOUT_HIMEM_GPA);
	assert_int_equal(ti_get64(bp, 0x2d0 + 48), TI_MEM_SIZE - LAYOUT_HIMEM_GPA);
	assert_memory_equal(ti_guest(&c->m, TI_MEM_SIZE - 0x1000, sizeof(initrd)), initrd,
			    sizeof(initrd));
	assert_string_equal((const char *)ti_guest(&c->m, LAYOUT_CMDLINE_GPA, 14), "unikernel arg");
}

/* An ELF or bzImage file with --load-addr/--entry is still copied verbatim. */
static void test_raw_not_parsed(void **state)
{
	struct ti_ctx *c = *state;

	c->len = ti_pvh_build(c->img, 0x100010);
	c->in = (struct boot_input){.proto = BOOT_RAW, .load_addr = 0x300000, .entry = 0x300000};
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_LONG64);
	assert_memory_equal(ti_guest(&c->m, 0x300000, c->len), c->img, c->len);
}

/* The image may end exactly at the end of RAM; the initrd then goes below it. */
static void test_raw_at_top(void **state)
{
	struct ti_ctx *c = *state;
	static const uint8_t initrd[0x1000];

	raw_build(c, TI_MEM_SIZE - 0x2000, TI_MEM_SIZE - 1);
	c->in.initrd = initrd;
	c->in.initrd_len = sizeof(initrd);
	assert_int_equal(ti_load(c), 0);
	assert_int_equal(ti_get32(ti_guest(&c->m, LAYOUT_ZERO_PAGE_GPA, 0x1000), 0x218),
			 TI_MEM_SIZE - 0x3000);
}

static void test_raw_bad(void **state)
{
	struct ti_ctx *c = *state;

	raw_build(c, 0x80000, 0x200000);
	ti_expect_err(c, "raw: image [0x80000, 0x81800) is not inside guest RAM at or above 1 MiB");
	raw_build(c, TI_MEM_SIZE, 0x200000);
	ti_expect_err(c, "raw: image [0x4000000, 0x4001800)");
	raw_build(c, TI_MEM_SIZE - 0x1000, 0x200000);
	ti_expect_err(c, "is not inside guest RAM");
	raw_build(c, UINT64_MAX - 0x100, 0x200000);
	ti_expect_err(c, "is not inside guest RAM");
	raw_build(c, 0x200000, TI_MEM_SIZE);
	ti_expect_err(c, "raw: entry 0x4000000 is not in guest RAM below 4 GiB");
	raw_build(c, 0x200000, UINT64_MAX);
	ti_expect_err(c, "raw: entry 0xffffffffffffffff");
}

static void test_detect(void **state)
{
	struct ti_ctx *c = *state;

	c->len = 0;
	ti_expect_err(c, "kernel: empty image");
	memset(c->img, 0x90, 0x1000);
	c->len = 0x1000;
	ti_expect_err(c, "kernel: not a bzImage or ELF image (use --load-addr/--entry for a raw "
			 "image)");
	c->len = 3; /* shorter than the ELF magic */
	c->img[0] = 0x7f;
	ti_expect_err(c, "not a bzImage or ELF");
	assert_int_equal(c->out.rip, 0);
}

/* A tiny err buffer truncates the message; errlen 0 writes nothing. */
static void test_err_buffer(void **state)
{
	struct ti_ctx *c = *state;
	struct boot_input in = {.kernel = c->img, .kernel_len = 1};
	char small[8];

	memset(small, 'z', sizeof(small));
	assert_int_equal(boot_load(&c->m, &in, &c->out, small, sizeof(small)), -EINVAL);
	assert_string_equal(small, "kernel:");
	assert_int_equal(boot_load(&c->m, &in, &c->out, NULL, 0), -EINVAL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, ti_setup, ti_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_raw_ok),  T(test_raw_not_parsed), T(test_raw_at_top),
	    T(test_raw_bad), T(test_detect),	     T(test_err_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

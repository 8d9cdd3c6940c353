/* test_boot_demo.c — the built-in demo guest (embedded by the build) loads as PVH at 1 MiB. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "arch/x86/boot.h"
#include "arch/x86/layout.h"
#include "boot_images.h"

/* The same object the kiln binary links (src/demo/meson.build). */
extern const uint8_t kiln_demo_guest_start[];
extern const uint8_t kiln_demo_guest_end[];

static void test_demo_pvh(void **state)
{
	struct ti_ctx *c = *state;
	size_t len = (size_t)(kiln_demo_guest_end - kiln_demo_guest_start);
	struct boot_input in = {
	    .kernel = kiln_demo_guest_start, .kernel_len = len, .proto = BOOT_AUTO};
	const uint8_t *si;

	assert_true(len > 0 && len <= TI_IMG_CAP);
	assert_int_equal(boot_load(&c->m, &in, &c->out, c->err, sizeof(c->err)), 0);
	assert_int_equal(c->out.mode, BOOT_CPU_PROT32);
	assert_int_equal(c->out.rip, 0x100000);
	assert_int_equal(c->out.rbx, LAYOUT_PVH_INFO_GPA);
	si = ti_guest(&c->m, LAYOUT_PVH_INFO_GPA, 56);
	assert_int_equal(ti_get32(si, 0), 0x336ec578);
	assert_int_equal(ti_get32(si, 48), 3); /* memmap entries */
	/* The first instruction, mov $banner, %esi (0xbe imm32), is in place. */
	assert_int_equal(*ti_guest(&c->m, 0x100000, 1), 0xbe);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_demo_pvh, ti_setup, ti_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

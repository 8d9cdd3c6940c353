/* test_e820.c — unit tests for e820_build: low memory, the BIOS hole, high RAM, limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "arch/x86/e820.h"
#include "arch/x86/layout.h"

static void entry_check(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_small(void **state)
{
	struct guest_mem m;
	struct e820_entry map[E820_MAX];

	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, MiB(64), GUEST_MEM_RAM), 0);
	assert_int_equal(e820_build(&m, map, E820_MAX), 3);
	entry_check(&map[0], 0, LAYOUT_EBDA_GPA, E820_RAM);
	entry_check(&map[1], LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA, E820_RESERVED);
	entry_check(&map[2], LAYOUT_HIMEM_GPA, MiB(63), E820_RAM);
	assert_int_equal(sizeof(struct e820_entry), 20); /* the boot_params layout */
	assert_int_equal(e820_build(&m, map, 2), -ENOSPC);
	guest_mem_destroy(&m);
}

/* Exactly 1 MiB: nothing above the BIOS area. */
static void test_e820_one_mib(void **state)
{
	struct guest_mem m;
	struct e820_entry map[E820_MAX];

	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, MiB(1), GUEST_MEM_RAM), 0);
	assert_int_equal(e820_build(&m, map, 2), 2);
	entry_check(&map[1], LAYOUT_EBDA_GPA, LAYOUT_HIMEM_GPA - LAYOUT_EBDA_GPA, E820_RESERVED);
	guest_mem_destroy(&m);
}

/* 3 GiB low + 1 GiB above 4 GiB, and a non-RAM region in the hole that must not appear. */
static void test_e820_split(void **state)
{
	struct guest_mem m;
	struct e820_entry map[E820_MAX];

	guest_mem_init(&m, -1);
	assert_int_equal(guest_mem_add(&m, 0, LAYOUT_RAM_LOW_MAX, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add(&m, LAYOUT_VIRTIO_MMIO_GPA, 0x1000, 0), 0);
	assert_int_equal(guest_mem_add(&m, LAYOUT_RAM_HIGH_GPA, GiB(1), GUEST_MEM_RAM), 0);
	assert_int_equal(e820_build(&m, map, E820_MAX), 4);
	entry_check(&map[2], LAYOUT_HIMEM_GPA, LAYOUT_RAM_LOW_MAX - LAYOUT_HIMEM_GPA, E820_RAM);
	entry_check(&map[3], LAYOUT_RAM_HIGH_GPA, GiB(1), E820_RAM);
	assert_int_equal(e820_build(&m, map, 3), -ENOSPC);
	guest_mem_destroy(&m);
}

static void test_e820_bad_memory(void **state)
{
	struct guest_mem m;
	struct e820_entry map[E820_MAX];

	guest_mem_init(&m, -1);
	assert_int_equal(e820_build(&m, map, E820_MAX), -EINVAL);
	assert_int_equal(guest_mem_add(&m, MiB(1), MiB(4), GUEST_MEM_RAM), 0);
	assert_int_equal(e820_build(&m, map, E820_MAX), -EINVAL);
	guest_mem_destroy(&m);
	assert_int_equal(guest_mem_add(&m, 0, 0x80000, GUEST_MEM_RAM), 0);
	assert_int_equal(e820_build(&m, map, E820_MAX), -EINVAL);
	guest_mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_e820_small),
	    cmocka_unit_test(test_e820_one_mib),
	    cmocka_unit_test(test_e820_split),
	    cmocka_unit_test(test_e820_bad_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

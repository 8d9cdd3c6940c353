/* test_io_bus.c — range registration edge cases and width validation of the I/O bus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/io_bus.h"

struct fake {
	uint64_t last_off, last_val;
	unsigned last_size, reads, writes;
};

static uint64_t f_read(void *dev, uint64_t off, unsigned size)
{
	struct fake *f = dev;

	f->reads++;
	f->last_off = off;
	f->last_size = size;
	return 0x1122334455667788ULL;
}

static void f_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct fake *f = dev;

	f->writes++;
	f->last_off = off;
	f->last_val = val;
	f->last_size = size;
}

static const struct io_ops ops14 = {
    .name = "f", .read = f_read, .write = f_write, .min_size = 1, .max_size = 4};
static const struct io_ops ops44 = {
    .name = "f4", .read = f_read, .write = f_write, .min_size = 4, .max_size = 4};

static void test_register_rejects_bad_ranges(void **state)
{
	struct io_bus b;
	struct fake f = {0};
	struct io_ops bad = ops14;

	(void)state;
	io_bus_init(&b, "mmio", 0);
	assert_int_equal(io_bus_register(&b, 0x1000, 0, &ops14, &f), -EINVAL);
	assert_int_equal(io_bus_register(&b, UINT64_MAX, 2, &ops14, &f), -EINVAL);
	assert_int_equal(io_bus_register(&b, UINT64_MAX - 1, 3, &ops14, &f), -EINVAL);
	/* The very last byte of the address space is a valid range. */
	assert_int_equal(io_bus_register(&b, UINT64_MAX, 1, &ops14, &f), 0);
	assert_int_equal(io_bus_register(&b, UINT64_MAX - 0xf, 0x10, &ops14, &f), -EEXIST);
	bad.min_size = 3;
	assert_int_equal(io_bus_register(&b, 0, 1, &bad, &f), -EINVAL);
	bad = ops14;
	bad.min_size = 8;
	assert_int_equal(io_bus_register(&b, 0, 1, &bad, &f), -EINVAL);
	bad = ops14;
	bad.read = NULL;
	assert_int_equal(io_bus_register(&b, 0, 1, &bad, &f), -EINVAL);
	assert_int_equal(io_bus_register(&b, 0, 1, NULL, &f), -EINVAL);
	io_bus_destroy(&b);
}

static void test_register_overlaps(void **state)
{
	struct io_bus b;
	struct fake f = {0};

	(void)state;
	io_bus_init(&b, "pio", 0x10000);
	assert_int_equal(io_bus_register(&b, 0x3f8, 8, &ops14, &f), 0);
	assert_int_equal(io_bus_register(&b, 0x3f8, 8, &ops14, &f), -EEXIST);
	assert_int_equal(io_bus_register(&b, 0x3f0, 9, &ops14, &f), -EEXIST);
	assert_int_equal(io_bus_register(&b, 0x3ff, 1, &ops14, &f), -EEXIST);
	assert_int_equal(io_bus_register(&b, 0x3f9, 1, &ops14, &f), -EEXIST);
	assert_int_equal(io_bus_register(&b, 0x3f0, 8, &ops14, &f), 0); /* adjacent below */
	assert_int_equal(io_bus_register(&b, 0x400, 1, &ops14, &f), 0); /* adjacent above */
	/* PIO limit: nothing at or past 0x10000. */
	assert_int_equal(io_bus_register(&b, 0xffff, 2, &ops14, &f), -EINVAL);
	assert_int_equal(io_bus_register(&b, 0x10000, 1, &ops14, &f), -EINVAL);
	assert_int_equal(io_bus_register(&b, 0xffff, 1, &ops14, &f), 0);
	assert_non_null(io_bus_find(&b, 0x3f8));
	assert_non_null(io_bus_find(&b, 0x3ff));
	assert_non_null(io_bus_find(&b, 0x3f0));
	assert_null(io_bus_find(&b, 0x401));
	assert_int_equal(b.nr, 4);
	for (unsigned i = 1; i < b.nr; i++)
		assert_true(b.ranges[i - 1].base < b.ranges[i].base);
	io_bus_destroy(&b);
}

static void test_many_ranges_sorted_lookup(void **state)
{
	struct io_bus b;
	struct fake f = {0};

	(void)state;
	io_bus_init(&b, "mmio", 0);
	/* Insert out of order; lookup must find every one. */
	for (uint64_t i = 0; i < 100; i++) {
		uint64_t base = ((i * 37) % 100) * 0x1000;

		assert_int_equal(io_bus_register(&b, base, 0x800, &ops14, &f), 0);
	}
	for (uint64_t i = 0; i < 100; i++) {
		const struct io_range *r = io_bus_find(&b, i * 0x1000 + 0x7ff);

		assert_non_null(r);
		assert_int_equal(r->base, i * 0x1000);
		assert_null(io_bus_find(&b, i * 0x1000 + 0x800));
	}
	io_bus_destroy(&b);
}

static void test_access_widths(void **state)
{
	struct io_bus b;
	struct fake f = {0};

	(void)state;
	io_bus_init(&b, "mmio", 0);
	assert_int_equal(io_bus_register(&b, 0x1000, 0x10, &ops44, &f), 0);
	/* Unsupported widths: all-ones, device untouched, counted. */
	assert_int_equal(io_bus_read(&b, 0x1000, 1), 0xff);
	assert_int_equal(io_bus_read(&b, 0x1000, 2), 0xffff);
	assert_int_equal(io_bus_read(&b, 0x1000, 8), UINT64_MAX);
	io_bus_write(&b, 0x1000, 1, 2);
	assert_int_equal(f.reads + f.writes, 0);
	assert_int_equal(b.stats.bad_size, 4);
	/* Supported width: offset relative to base, value truncated to size. */
	assert_int_equal(io_bus_read(&b, 0x1004, 4), 0x55667788);
	assert_int_equal(f.last_off, 4);
	io_bus_write(&b, 0x100c, 0xdeadbeef, 4);
	assert_int_equal(f.last_val, 0xdeadbeef);
	assert_int_equal(f.last_off, 0xc);
	/* Width 3 never reaches a device. */
	io_bus_write(&b, 0x1000, 0, 3);
	assert_int_equal(f.writes, 1);
	io_bus_destroy(&b);
}

static void test_unmapped_and_crossing(void **state)
{
	struct io_bus b;
	struct fake f = {0};

	(void)state;
	io_bus_init(&b, "mmio", 0);
	assert_int_equal(io_bus_register(&b, 0x2000, 0x10, &ops14, &f), 0);
	assert_int_equal(io_bus_read(&b, 0x5000, 4), 0xffffffff);
	assert_int_equal(io_bus_read(&b, 0x1fff, 2), 0xffff);	  /* starts before the range */
	assert_int_equal(io_bus_read(&b, 0x200e, 4), 0xffffffff); /* runs past its end */
	io_bus_write(&b, 0x200f, 0, 2);
	io_bus_write(&b, 0x9000, 0, 1);
	assert_int_equal(f.reads + f.writes, 0);
	assert_int_equal(b.stats.unmapped_reads, 3);
	assert_int_equal(b.stats.unmapped_writes, 2);
	assert_int_equal(io_bus_read(&b, 0x200c, 4), 0x55667788);
	assert_int_equal(io_bus_read(&b, UINT64_MAX, 1), 0xff);
	io_bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_register_rejects_bad_ranges),
	    cmocka_unit_test(test_register_overlaps),
	    cmocka_unit_test(test_many_ranges_sorted_lookup),
	    cmocka_unit_test(test_access_widths),
	    cmocka_unit_test(test_unmapped_and_crossing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

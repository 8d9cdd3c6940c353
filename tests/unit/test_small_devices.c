/* test_small_devices.c — the debug-exit port and the guest tests' scratch device, driven
 * through a real I/O bus as the vCPU would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "devices/acpi_sleep.h"
#include "devices/boot_timer.h"
#include "devices/debug_exit.h"
#include "devices/testdev.h"

struct exits {
	int n, status;
};

static void on_exit_cb(void *ctx, int status)
{
	struct exits *e = ctx;

	e->n++;
	e->status = status;
}

static void test_debug_exit(void **state)
{
	struct exits e = {0};
	struct debug_exit d = {.on_exit = on_exit_cb, .ctx = &e};
	struct io_bus b;

	(void)state;
	assert_int_equal(debug_exit_status(0), 1);
	assert_int_equal(debug_exit_status(1), 3);
	assert_int_equal(debug_exit_status(0x7f), 255);
	assert_int_equal(debug_exit_status(0x80), 1); /* only the low 7 bits count */
	assert_int_equal(debug_exit_status(~0ULL), 255);
	io_bus_init(&b, "pio", 0x10000);
	assert_int_equal(io_bus_register(&b, 0xf4, DEBUG_EXIT_PORTS, &debug_exit_io_ops, &d), 0);
	assert_int_equal(io_bus_read(&b, 0xf4, 1), 0xff); /* reads do nothing */
	assert_int_equal(e.n, 0);
	io_bus_write(&b, 0xf4, 42, 4);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.status, 85);
	io_bus_destroy(&b);
}

static void on_poweroff_cb(void *ctx)
{
	(*(int *)ctx)++;
}

/* SLP_TYP at bits 2-4, SLP_EN at bit 5: only S5 (5) with SLP_EN powers off. */
static void test_acpi_sleep(void **state)
{
	int n = 0;
	struct acpi_sleep s = {.on_poweroff = on_poweroff_cb, .ctx = &n, .rl = LOG_RATELIMIT_INIT};
	struct io_bus b;

	(void)state;
	io_bus_init(&b, "pio", 0x10000);
	assert_int_equal(io_bus_register(&b, 0x600, ACPI_SLEEP_PORTS, &acpi_sleep_io_ops, &s), 0);
	assert_int_equal(io_bus_read(&b, 0x600, 1), 0);
	assert_int_equal(io_bus_read(&b, 0x601, 1), 0); /* WAK_STS clear */
	io_bus_write(&b, 0x600, 5 << 2, 1);		/* S5 without SLP_EN */
	io_bus_write(&b, 0x600, 1 << 2 | 0x20, 1);	/* S1: not offered */
	io_bus_write(&b, 0x601, 0x80, 1);		/* status: write-one-to-clear WAK_STS */
	io_bus_write(&b, 0x601, 0x34, 1);   /* S5 | SLP_EN, but at the status register */
	io_bus_write(&b, 0x600, 0x3400, 2); /* a 2-byte access never reaches the device */
	assert_int_equal(n, 0);
	assert_int_equal(b.stats.bad_size, 1);
	io_bus_write(&b, 0x600, 5 << 2 | 0x20, 1); /* Linux's acpi_hw_extended_sleep for S5 */
	assert_int_equal(n, 1);
	io_bus_write(&b, 0x600, (0xff & ~0x1c) | 0x34, 1); /* other bits do not matter */
	assert_int_equal(n, 2);
	io_bus_destroy(&b);
}

static void test_testdev_echo(void **state)
{
	struct testdev t;
	struct io_bus pio, mmio;

	(void)state;
	testdev_init(&t);
	io_bus_init(&pio, "pio", 0x10000);
	io_bus_init(&mmio, "mmio", 0);
	assert_int_equal(io_bus_register(&pio, 0xe0, 16, &testdev_pio_ops, &t), 0);
	assert_int_equal(io_bus_register(&mmio, 0xd8000000, 4096, &testdev_mmio_ops, &t), 0);
	io_bus_write(&pio, 0xe0, 0x12345678, 4);
	assert_int_equal(io_bus_read(&pio, 0xe0, 4), 0x12345678);
	assert_int_equal(io_bus_read(&pio, 0xe1, 2), 0x3456);
	assert_int_equal(io_bus_read(&pio, 0xe3, 1), 0x12);
	assert_int_equal(io_bus_read(&pio, 0xee, 4), 0xffffffff); /* crosses the end */
	io_bus_write(&mmio, 0xd8000ff8, 0x1122334455667788ULL, 8);
	assert_int_equal(io_bus_read(&mmio, 0xd8000ff8, 8), 0x1122334455667788ULL);
	assert_int_equal(io_bus_read(&mmio, 0xd8000ffc, 4), 0x11223344);
	assert_int_equal(io_bus_read(&pio, 0xe0, 8), 0xffffffffffffffffULL); /* PIO max 4 */
	assert_int_equal(pio.stats.bad_size, 1);
	assert_int_equal(t.accesses, 7);
	io_bus_destroy(&pio);
	io_bus_destroy(&mmio);
}

/* Every byte of both windows set to fill, nothing else looked at. */
static bool windows_are(const struct testdev *t, uint8_t fill)
{
	for (size_t i = 0; i < sizeof(t->pio); i++)
		if (t->pio[i] != fill)
			return false;
	for (size_t i = 0; i < sizeof(t->mmio); i++)
		if (t->mmio[i] != fill)
			return false;
	return true;
}

/*
 * The handlers called directly, without the bus that normally clips accesses to the registered
 * window: an access reaching past either window's end is refused (reads give all ones, writes
 * change nothing, neither is counted as an access), and the last legal accesses still work.
 */
static void test_testdev_bounds(void **state)
{
	struct testdev t;

	(void)state;
	testdev_init(&t);
	memset(t.pio, 0x5a, sizeof(t.pio));
	memset(t.mmio, 0x5a, sizeof(t.mmio));
	testdev_pio_ops.write(&t, sizeof(t.pio) - 2, 0xaabbccdd, 4); /* 2 bytes past the end */
	testdev_pio_ops.write(&t, sizeof(t.pio), 0xee, 1);	     /* just past */
	testdev_mmio_ops.write(&t, sizeof(t.mmio) - 4, 0x1122334455667788ULL, 8);
	testdev_mmio_ops.write(&t, sizeof(t.mmio), 0x99, 1);
	testdev_mmio_ops.write(&t, UINT64_MAX - 1, 0x99, 4); /* off + size wraps */
	assert_true(windows_are(&t, 0x5a));
	assert_int_equal(t.accesses, 0);
	assert_int_equal(testdev_pio_ops.read(&t, sizeof(t.pio) - 1, 2), UINT64_MAX);
	assert_int_equal(testdev_mmio_ops.read(&t, sizeof(t.mmio), 8), UINT64_MAX);
	assert_int_equal(testdev_mmio_ops.read(&t, sizeof(t.mmio) - 4, 8), UINT64_MAX);
	assert_int_equal(t.accesses, 0);
	/* The last bytes of each window are reachable. */
	testdev_pio_ops.write(&t, sizeof(t.pio) - 4, 0x01020304, 4);
	assert_int_equal(testdev_pio_ops.read(&t, sizeof(t.pio) - 1, 1), 0x01);
	testdev_mmio_ops.write(&t, sizeof(t.mmio) - 8, 0x0102030405060708ULL, 8);
	assert_int_equal(testdev_mmio_ops.read(&t, sizeof(t.mmio) - 8, 8), 0x0102030405060708ULL);
	assert_int_equal(t.accesses, 4);
	testdev_destroy(&t);
}

/* Firecracker's boot timer: only a 1-byte 123 at offset 0 stops the clock; reads give 0. */
static void test_boot_timer(void **state)
{
	struct boot_timer t;

	(void)state;
	boot_timer_init(&t);
	boot_timer_io_ops.write(&t, 0, 122, 1);
	boot_timer_io_ops.write(&t, 1, BOOT_TIMER_MAGIC, 1);
	boot_timer_io_ops.write(&t, 0, BOOT_TIMER_MAGIC, 4);
	assert_int_equal(t.boot_us, 0);
	assert_int_equal(boot_timer_io_ops.read(&t, 0, 1), 0);
	boot_timer_io_ops.write(&t, 0, BOOT_TIMER_MAGIC, 1);
	assert_true(t.boot_us > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_debug_exit),	 cmocka_unit_test(test_acpi_sleep),
	    cmocka_unit_test(test_testdev_echo), cmocka_unit_test(test_testdev_bounds),
	    cmocka_unit_test(test_boot_timer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

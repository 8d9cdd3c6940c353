/* test_exit.c — exit_dispatch fed hand-built kvm_run structures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/exit.h"

#define RUN_SIZE 4096

struct rec {
	uint64_t val[16];
	uint64_t off[16];
	unsigned size[16], n;
};

static uint64_t r_read(void *dev, uint64_t off, unsigned size)
{
	struct rec *r = dev;

	r->off[r->n] = off;
	r->size[r->n++] = size;
	return 0xa0 + off;
}

static void r_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct rec *r = dev;

	r->off[r->n] = off;
	r->val[r->n] = val;
	r->size[r->n++] = size;
}

static const struct io_ops rec_ops = {
    .name = "rec", .read = r_read, .write = r_write, .min_size = 1, .max_size = 8};

struct fixture {
	struct io_bus pio, mmio;
	struct rec dev;
	struct exit_ctx ctx;
	struct kvm_run *run;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	io_bus_init(&f->pio, "pio", 0x10000);
	io_bus_init(&f->mmio, "mmio", 0);
	assert_int_equal(io_bus_register(&f->pio, 0x3f8, 8, &rec_ops, &f->dev), 0);
	assert_int_equal(io_bus_register(&f->mmio, 0xd0000000, 0x1000, &rec_ops, &f->dev), 0);
	f->ctx = (struct exit_ctx){.pio = &f->pio, .mmio = &f->mmio, .run_size = RUN_SIZE};
	f->run = calloc(1, RUN_SIZE);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	io_bus_destroy(&f->pio);
	io_bus_destroy(&f->mmio);
	free(f->run);
	free(f);
	return 0;
}

static void io_exit(struct kvm_run *run, uint8_t dir, uint16_t port, uint8_t size, uint32_t count)
{
	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = dir;
	run->io.port = port;
	run->io.size = size;
	run->io.count = count;
	run->io.data_offset = 1024;
}

static void test_pio_out_and_in(void **state)
{
	struct fixture *f = *state;
	uint8_t *data = (uint8_t *)f->run + 1024;

	io_exit(f->run, KVM_EXIT_IO_OUT, 0x3f8, 1, 1);
	data[0] = 'k';
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->dev.n, 1);
	assert_int_equal(f->dev.val[0], 'k');
	assert_int_equal(f->dev.off[0], 0);

	io_exit(f->run, KVM_EXIT_IO_IN, 0x3fd, 1, 1);
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	assert_int_equal(data[0], 0xa5);
	assert_int_equal(f->dev.off[1], 5);
}

static void test_pio_string_io(void **state)
{
	struct fixture *f = *state;
	uint8_t *data = (uint8_t *)f->run + 1024;

	io_exit(f->run, KVM_EXIT_IO_OUT, 0x3f8, 2, 3);
	memcpy(data, "\x01\x02\x03\x04\x05\x06", 6);
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->dev.n, 3);
	assert_int_equal(f->dev.val[2], 0x0605);
	assert_int_equal(f->dev.size[2], 2);
}

static void test_pio_unmapped_reads_ones(void **state)
{
	struct fixture *f = *state;
	uint32_t v;

	io_exit(f->run, KVM_EXIT_IO_IN, 0x80, 4, 1);
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	memcpy(&v, (uint8_t *)f->run + 1024, 4);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(f->pio.stats.unmapped_reads, 1);
}

static void test_pio_malformed_is_fatal(void **state)
{
	struct fixture *f = *state;

	io_exit(f->run, KVM_EXIT_IO_OUT, 0x3f8, 1, 100000); /* data would run past kvm_run */
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	assert_int_equal(f->dev.n, 0);
	io_exit(f->run, KVM_EXIT_IO_OUT, 0x3f8, 3, 1);
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	assert_non_null(strstr(f->ctx.why, "malformed IO"));
}

static void test_mmio_every_width(void **state)
{
	struct fixture *f = *state;
	static const unsigned widths[] = {1, 2, 4, 8};

	for (unsigned i = 0; i < 4; i++) {
		uint64_t v = 0;

		f->run->exit_reason = KVM_EXIT_MMIO;
		f->run->mmio.phys_addr = 0xd0000010;
		f->run->mmio.len = widths[i];
		f->run->mmio.is_write = 1;
		memcpy(f->run->mmio.data, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
		assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
		memcpy(&v, "\x11\x22\x33\x44\x55\x66\x77\x88", widths[i]);
		assert_int_equal(f->dev.val[f->dev.n - 1], v);
		assert_int_equal(f->dev.size[f->dev.n - 1], widths[i]);

		f->run->mmio.is_write = 0;
		memset(f->run->mmio.data, 0, 8);
		assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
		assert_int_equal(f->run->mmio.data[0], 0xb0);
	}
}

static void test_mmio_odd_width_and_unmapped(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_MMIO;
	f->run->mmio.phys_addr = 0xd0000000;
	f->run->mmio.len = 3;
	f->run->mmio.is_write = 0;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->run->mmio.data[0], 0xff);
	assert_int_equal(f->dev.n, 0);
	f->run->mmio.phys_addr = 0xe0000000;
	f->run->mmio.len = 4;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_CONTINUE);
	assert_int_equal(f->run->mmio.data[3], 0xff);
	assert_int_equal(f->mmio.stats.unmapped_reads, 1);
}

static void test_classification(void **state)
{
	struct fixture *f = *state;

	f->run->exit_reason = KVM_EXIT_HLT;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_HLT);
	f->run->exit_reason = KVM_EXIT_SHUTDOWN;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_RESET);
	f->run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	f->run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_POWEROFF);
	f->run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_RESET);
	f->run->system_event.type = 99;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	f->run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	f->run->internal.suberror = 1;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	assert_non_null(strstr(f->ctx.why, "suberror 1"));
	f->run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	f->run->fail_entry.hardware_entry_failure_reason = 0x21;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	assert_non_null(strstr(f->ctx.why, "0x21"));
	f->run->exit_reason = 12345;
	assert_int_equal(exit_dispatch(f->run, &f->ctx), EXIT_ACTION_FATAL);
	assert_string_equal(exit_reason_name(KVM_EXIT_MMIO), "MMIO");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pio_out_and_in, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pio_string_io, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pio_unmapped_reads_ones, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pio_malformed_is_fatal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_every_width, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mmio_odd_width_and_unmapped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_classification, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

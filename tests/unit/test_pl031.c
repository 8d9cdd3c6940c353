/* test_pl031.c — the PL031 RTC through its registers with a test clock and a recorded interrupt
 * line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "devices/pl031.h"

struct fx {
	struct pl031 *r;
	time_t now;
	int level;
};

static time_t test_now(void *ctx)
{
	return ((struct fx *)ctx)->now;
}

static int line_set(void *ctx, uint32_t gsi, int level)
{
	(void)gsi;
	((struct fx *)ctx)->level = level;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pl031_config c = {.now = test_now, .irq = {.set = line_set, .gsi = 3}};

	assert_non_null(f);
	c.ctx = f;
	c.irq.ctx = f;
	f->now = 1700000000;
	assert_int_equal(pl031_create(&c, &f->r), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pl031_device_ops.destroy(f->r);
	free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	return (uint32_t)pl031_io_ops.read(f->r, off, 4);
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	pl031_io_ops.write(f->r, off, v, 4);
}

static void test_counter_and_load(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 0x00), 1700000000);
	f->now += 5;
	assert_int_equal(rd(f, 0x00), 1700000005);
	wr(f, 0x08, 1000); /* RTCLR moves the guest's counter only */
	assert_int_equal(rd(f, 0x00), 1000);
	f->now += 2;
	assert_int_equal(rd(f, 0x00), 1002);
	wr(f, 0x00, 5); /* RTCDR is read-only */
	assert_int_equal(rd(f, 0x00), 1002);
	assert_int_equal(rd(f, 0x0c), 1); /* running */
}

static void test_ids(void **state)
{
	struct fx *f = *state;
	static const uint8_t id[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(f, 0xfe0 + 4 * i), id[i]);
	assert_int_equal(rd(f, 0x800), 0); /* reserved */
}

static void test_match_interrupt(void **state)
{
	struct fx *f = *state;

	wr(f, 0x04, 1700000010);
	assert_int_equal(rd(f, 0x04), 1700000010);
	wr(f, 0x10, 1); /* unmask */
	assert_int_equal(rd(f, 0x14), 0);
	f->now = 1700000010;
	assert_int_equal(rd(f, 0x14), 1); /* raw status latched at the match */
	assert_int_equal(rd(f, 0x18), 1);
	assert_int_equal(f->level, 1);
	f->now++;
	assert_int_equal(rd(f, 0x18), 1); /* stays latched after the second passes */
	wr(f, 0x1c, 1);			  /* RTCICR */
	assert_int_equal(rd(f, 0x14), 0);
	assert_int_equal(f->level, 0);
	wr(f, 0x10, 0);
	assert_int_equal(rd(f, 0x10), 0);
}

static void test_state_round_trip(void **state)
{
	struct fx *f = *state;
	struct state_buf w = {0}, r = {0};
	uint16_t version;

	wr(f, 0x08, 42);
	wr(f, 0x04, 50);
	assert_int_equal(state_begin_section(&w, "pl031", PL031_STATE_VERSION), 0);
	assert_int_equal(pl031_device_ops.save(f->r, &w), 0);
	assert_int_equal(state_end_section(&w), 0);
	pl031_device_ops.reset(f->r);
	assert_int_equal(rd(f, 0x04), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "pl031", &version), 0);
	assert_int_equal(pl031_device_ops.load(f->r, &r, version), 0);
	assert_int_equal(rd(f, 0x00), 42);
	assert_int_equal(rd(f, 0x04), 50);
	assert_int_equal(state_section(&r, "pl031", &version), 0);
	assert_int_equal(pl031_device_ops.load(f->r, &r, PL031_STATE_VERSION + 1), -EINVAL);
	state_buf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_counter_and_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_match_interrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_round_trip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_rtc.c — the CMOS RTC driven through its two ports with a test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "devices/rtc.h"

enum {
	SEC = 0,
	MIN = 2,
	HOUR = 4,
	WDAY = 6,
	MDAY = 7,
	MON = 8,
	YEAR = 9,
	A = 0x0a,
	B = 0x0b,
	C = 0x0c,
	D = 0x0d,
	CENTURY = 0x32
};

struct fx {
	struct rtc *r;
	time_t now;
};

static time_t test_now(void *ctx)
{
	struct fx *f = ctx;

	return f->now;
}

static time_t utc(int y, int mon, int d, int h, int m, int s)
{
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mon - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = m,
			.tm_sec = s};

	return timegm(&tm);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct rtc_config c = {.now = test_now};

	assert_non_null(f);
	c.ctx = f;
	f->now = utc(2024, 2, 29, 13, 45, 7); /* a Thursday */
	assert_int_equal(rtc_create(&c, &f->r), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rtc_destroy(f->r);
	free(f);
	return 0;
}

static uint8_t rd(struct fx *f, uint8_t idx)
{
	rtc_io_ops.write(f->r, 0, idx, 1);
	return (uint8_t)rtc_io_ops.read(f->r, 1, 1);
}

static void wr(struct fx *f, uint8_t idx, uint8_t v)
{
	rtc_io_ops.write(f->r, 0, idx, 1);
	rtc_io_ops.write(f->r, 1, v, 1);
}

static void test_bcd(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, B), 0x02); /* 24-hour, BCD */
	assert_int_equal(rd(f, SEC), 0x07);
	assert_int_equal(rd(f, MIN), 0x45);
	assert_int_equal(rd(f, HOUR), 0x13);
	assert_int_equal(rd(f, WDAY), 5); /* Sunday is 1 */
	assert_int_equal(rd(f, MDAY), 0x29);
	assert_int_equal(rd(f, MON), 0x02);
	assert_int_equal(rd(f, YEAR), 0x24);
	assert_int_equal(rd(f, CENTURY), 0x20);
}

static void test_binary(void **state)
{
	struct fx *f = *state;

	wr(f, B, 0x06);
	assert_int_equal(rd(f, SEC), 7);
	assert_int_equal(rd(f, MIN), 45);
	assert_int_equal(rd(f, HOUR), 13);
	assert_int_equal(rd(f, MDAY), 29);
	assert_int_equal(rd(f, MON), 2);
	assert_int_equal(rd(f, YEAR), 24);
	assert_int_equal(rd(f, CENTURY), 20);
}

static void test_12h(void **state)
{
	struct fx *f = *state;

	wr(f, B, 0x00);			     /* 12-hour BCD */
	assert_int_equal(rd(f, HOUR), 0x81); /* 1 PM */
	f->now = utc(2024, 2, 29, 0, 30, 0);
	assert_int_equal(rd(f, HOUR), 0x12); /* 12 AM */
	f->now = utc(2024, 2, 29, 12, 30, 0);
	assert_int_equal(rd(f, HOUR), 0x92); /* 12 PM */
	wr(f, B, 0x04);			     /* 12-hour binary */
	f->now = utc(2024, 2, 29, 23, 0, 0);
	assert_int_equal(rd(f, HOUR), 0x80 | 11);
}

static void test_uip_and_status(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, A), 0x26);
	for (int i = 0; i < 1000; i++) /* Linux's wait-for-UIP-clear loop ends */
		assert_false(rd(f, A) & 0x80);
	wr(f, A, 0xa6); /* UIP is read-only */
	assert_int_equal(rd(f, A), 0x26);
	assert_int_equal(rd(f, D), 0x80);
	wr(f, D, 0x00);
	assert_int_equal(rd(f, D), 0x80);
}

static void test_uip_host_clock(void **state)
{
	struct rtc *r;
	struct rtc_config c = {0};
	int clear = 0;

	(void)state;
	assert_int_equal(rtc_create(&c, &r), 0);
	for (int i = 0; i < 100000 && clear < 10; i++) {
		rtc_io_ops.write(r, 0, A, 1);
		if (!(rtc_io_ops.read(r, 1, 1) & 0x80))
			clear++;
	}
	assert_int_equal(clear, 10);
	rtc_destroy(r);
}

static void test_reg_c(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, C), 0x00);
	f->now += 1;
	assert_int_equal(rd(f, C), 0x10); /* an update happened */
	assert_int_equal(rd(f, C), 0x00); /* reading cleared it */
	wr(f, B, 0x12);			  /* UIE */
	f->now += 1;
	assert_int_equal(rd(f, C), 0x90);
	assert_int_equal(rd(f, C), 0x00);
	wr(f, C, 0xff);
	assert_int_equal(rd(f, C), 0x00);
}

static void test_nmi_bit_masked(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 0x80 | MIN), 0x45);
	wr(f, 0x80 | 0x40, 0x5a);
	assert_int_equal(rd(f, 0x40), 0x5a);
	assert_int_equal(rd(f, 0x80 | 0x40), 0x5a);
	assert_int_equal(rtc_io_ops.read(f->r, 0, 1), 0xff); /* the index port is write-only */
}

static void test_cmos_storage(void **state)
{
	struct fx *f = *state;

	for (unsigned i = 0x0e; i < 128; i++)
		if (i != CENTURY)
			wr(f, (uint8_t)i, (uint8_t)(i * 7 + 1));
	for (unsigned i = 0x0e; i < 128; i++)
		if (i != CENTURY)
			assert_int_equal(rd(f, (uint8_t)i), (uint8_t)(i * 7 + 1));
	wr(f, 0x01, 0x59); /* alarm seconds, minutes, hours: storage */
	wr(f, 0x03, 0x30);
	wr(f, 0x05, 0x12);
	assert_int_equal(rd(f, 0x01), 0x59);
	assert_int_equal(rd(f, 0x03), 0x30);
	assert_int_equal(rd(f, 0x05), 0x12);
	assert_int_equal(rd(f, SEC), 0x07);
	assert_int_equal(rtc_cmos_set(f->r, 0x34, 0xab), 0);
	assert_int_equal(rd(f, 0x34), 0xab);
	assert_int_equal(rtc_cmos_set(f->r, SEC, 1), -22);
	assert_int_equal(rtc_cmos_set(f->r, 200, 1), -22);
}

static void test_set_time(void **state)
{
	struct fx *f = *state;

	wr(f, B, 0x82); /* SET: the clock freezes, writes collect */
	wr(f, SEC, 0x30);
	wr(f, MIN, 0x15);
	wr(f, HOUR, 0x08);
	wr(f, MDAY, 0x31);
	wr(f, MON, 0x12);
	wr(f, YEAR, 0x99);
	wr(f, CENTURY, 0x19);
	f->now += 100;
	assert_int_equal(rd(f, SEC), 0x30);
	assert_int_equal(rd(f, YEAR), 0x99);
	wr(f, B, 0x02);
	assert_int_equal(rd(f, SEC), 0x30);
	f->now += 3;
	assert_int_equal(rd(f, SEC), 0x33); /* runs on from the written time */
	assert_int_equal(rd(f, MIN), 0x15);
	assert_int_equal(rd(f, HOUR), 0x08);
	assert_int_equal(rd(f, MDAY), 0x31);
	assert_int_equal(rd(f, MON), 0x12);
	assert_int_equal(rd(f, YEAR), 0x99);
	assert_int_equal(rd(f, CENTURY), 0x19);
	assert_int_equal(rd(f, WDAY), 6); /* 1999-12-31 was a Friday */
	wr(f, WDAY, 1);			  /* derived: ignored */
	assert_int_equal(rd(f, WDAY), 6);

	wr(f, B, 0x04); /* without SET, binary 12-hour: a write applies at once */
	wr(f, HOUR, 0x80 | 9);
	assert_int_equal(rd(f, HOUR), 0x80 | 9);
	wr(f, B, 0x06);
	assert_int_equal(rd(f, HOUR), 21);
	assert_int_equal(rd(f, MIN), 15);
}

static void test_hostile(void **state)
{
	struct fx *f = *state;
	uint32_t s = 12345;

	for (int i = 0; i < 200000; i++) {
		s = s * 1103515245 + 12345;
		rtc_io_ops.write(f->r, (s >> 8) & 1, s >> 16, 1);
		if (s & 0x10000000)
			assert_true(rtc_io_ops.read(f->r, (s >> 9) & 1, 1) <= 0xff);
		if (i % 1000 == 0)
			f->now += 3600 * 24 * 17;
	}
	assert_int_equal(rd(f, D), 0x80);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bcd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_12h, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_uip_and_status, setup, teardown),
	    cmocka_unit_test(test_uip_host_clock),
	    cmocka_unit_test_setup_teardown(test_reg_c, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nmi_bit_masked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmos_storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_set_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

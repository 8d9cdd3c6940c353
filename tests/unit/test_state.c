/* test_state.c — the state stream: framing, every put/get, and hostile input (truncated, bad
 * lengths, duplicate or unterminated names, reading past a section). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "state/state.h"

/* Two sections, "a" v1 with one of every width and "bb" v7 empty. */
static void write_sample(struct state_buf *w)
{
	static const uint8_t raw[3] = {9, 8, 7};

	memset(w, 0, sizeof(*w));
	assert_int_equal(state_begin_section(w, "a", 1), 0);
	state_put_u8(w, 0x12);
	state_put_u16(w, 0x3456);
	state_put_u32(w, 0x789abcde);
	state_put_u64(w, 0x0123456789abcdefULL);
	state_put_bytes(w, raw, sizeof(raw));
	assert_int_equal(state_end_section(w), 0);
	assert_int_equal(state_begin_section(w, "bb", 7), 0);
	assert_int_equal(state_end_section(w), 0);
}

static void test_round_trip(void **st)
{
	struct state_buf w, r;
	uint8_t raw[3];
	uint16_t ver;

	(void)st;
	write_sample(&w);
	/* name "a\0", version, length 18, payload */
	assert_int_equal(w.len, 2 + 6 + 18 + 3 + 6);
	assert_int_equal(w.data[0], 'a');
	assert_int_equal(w.data[4], 18);
	assert_int_equal(w.data[8], 0x12); /* little-endian */
	assert_int_equal(w.data[9], 0x56);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "bb", &ver), 0);
	assert_int_equal(ver, 7);
	assert_int_equal(state_section_done(&r), 0);
	assert_int_equal(state_section(&r, "a", &ver), 0);
	assert_int_equal(ver, 1);
	assert_int_equal(state_remaining(&r), 18);
	assert_int_equal(state_get_u8(&r), 0x12);
	assert_int_equal(state_get_u16(&r), 0x3456);
	assert_int_equal(state_get_u32(&r), 0x789abcde);
	assert_true(state_get_u64(&r) == 0x0123456789abcdefULL);
	assert_int_equal(state_section_done(&r), -EINVAL); /* 3 bytes left */
	state_get_bytes(&r, raw, 3);
	assert_int_equal(raw[0], 9);
	assert_int_equal(raw[2], 7);
	assert_int_equal(state_section_done(&r), 0);
	assert_true(state_has_section(&r, "a"));
	assert_false(state_has_section(&r, "c"));
	assert_int_equal(state_section(&r, "c", &ver), -ENOENT);
	state_buf_free(&r); /* borrowed: must not free w's data */
	state_buf_free(&w);
}

static void test_read_past_section(void **st)
{
	struct state_buf w, r;
	uint8_t raw[4] = {1, 1, 1, 1};
	uint16_t ver;

	(void)st;
	write_sample(&w);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "bb", &ver), 0);
	assert_int_equal(state_get_u32(&r), 0); /* nothing there: zero, latched */
	assert_true(r.overflow);
	state_get_bytes(&r, raw, sizeof(raw));
	assert_int_equal(raw[0], 0);
	assert_int_equal(state_section_done(&r), -EINVAL);
	/* Selecting again clears the latch. */
	assert_int_equal(state_section(&r, "a", &ver), 0);
	assert_false(r.overflow);
	assert_int_equal(state_get_u8(&r), 0x12);
	/* Reads stop at the section's end, not the buffer's (the next section follows). */
	for (int i = 0; i < 16; i++)
		(void)state_get_u8(&r);
	assert_false(r.overflow);
	assert_int_equal(state_get_u16(&r), 0); /* one byte left */
	assert_true(r.overflow);
	state_buf_free(&w);
}

static void test_writer_rules(void **st)
{
	struct state_buf w = {0};
	char longname[STATE_NAME_MAX + 1];

	(void)st;
	assert_int_equal(state_end_section(&w), -EINVAL); /* none open */
	assert_int_equal(state_begin_section(&w, "", 1), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(state_begin_section(&w, longname, 1), -EINVAL);
	longname[STATE_NAME_MAX - 1] = 0; /* 31 characters: the longest allowed */
	assert_int_equal(state_begin_section(&w, "has space", 1), -EINVAL);
	assert_int_equal(state_begin_section(&w, longname, 1), 0);
	assert_int_equal(state_begin_section(&w, "nested", 1), -EINVAL);
	assert_int_equal(state_end_section(&w), 0);
	state_buf_free(&w);
}

static void test_empty_stream(void **st)
{
	struct state_buf r;
	uint16_t ver;

	(void)st;
	assert_int_equal(state_open(&r, NULL, 0), 0);
	assert_int_equal(state_section(&r, "a", &ver), -ENOENT);
	assert_int_equal(state_open(&r, NULL, 5), -EINVAL);
}

static void test_truncated(void **st)
{
	struct state_buf w, r;

	(void)st;
	write_sample(&w);
	/* Every proper prefix that does not end on a section boundary is refused. */
	for (size_t n = 1; n < w.len; n++) {
		int ret = state_open(&r, w.data, n);

		if (n == 2 + 6 + 18) /* exactly the first section */
			assert_int_equal(ret, 0);
		else
			assert_int_equal(ret, -EINVAL);
	}
	state_buf_free(&w);
}

static void test_bad_lengths(void **st)
{
	struct state_buf w, r;

	(void)st;
	write_sample(&w);
	w.data[4] = 20; /* two bytes into the next header: what follows is no header */
	assert_int_equal(state_open(&r, w.data, w.len), -EINVAL);
	w.data[4] = 18;
	w.data[7] = 0x80; /* 2 GiB */
	assert_int_equal(state_open(&r, w.data, w.len), -EINVAL);
	w.data[7] = 0;
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	state_buf_free(&w);
}

static void test_bad_names(void **st)
{
	uint8_t unterminated[STATE_NAME_MAX + 8];
	uint8_t nonprint[] = {'a', 0x01, 0, 1, 0, 0, 0, 0, 0};
	uint8_t empty[] = {0, 1, 0, 0, 0, 0, 0};
	struct state_buf w = {0}, r;

	(void)st;
	memset(unterminated, 'n', sizeof(unterminated));
	assert_int_equal(state_open(&r, unterminated, sizeof(unterminated)), -EINVAL);
	assert_int_equal(state_open(&r, nonprint, sizeof(nonprint)), -EINVAL);
	assert_int_equal(state_open(&r, empty, sizeof(empty)), -EINVAL);
	/* Duplicates: the writer does not check, the reader refuses. */
	assert_int_equal(state_begin_section(&w, "dup", 1), 0);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_begin_section(&w, "other", 1), 0);
	state_put_u8(&w, 1);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_begin_section(&w, "dup", 2), 0);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), -EINVAL);
	state_buf_free(&w);
}

static void test_too_many_sections(void **st)
{
	struct state_buf w = {0}, r;
	char name[16];

	(void)st;
	for (unsigned i = 0; i <= STATE_SECTIONS_MAX; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		assert_int_equal(state_begin_section(&w, name, 1), 0);
		assert_int_equal(state_end_section(&w), 0);
	}
	assert_int_equal(state_open(&r, w.data, w.len), -EINVAL);
	state_buf_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_read_past_section),
	    cmocka_unit_test(test_writer_rules), cmocka_unit_test(test_empty_stream),
	    cmocka_unit_test(test_truncated),	 cmocka_unit_test(test_bad_lengths),
	    cmocka_unit_test(test_bad_names),	 cmocka_unit_test(test_too_many_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_device.c — the device interface and the board's device list: named counters, state
 * sections with version ranges (an old stream after a section gained a field), refusals, drain,
 * reset and teardown order; real devices (i8042, UART) through their board entries. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/device.h"
#include "devices/i8042.h"
#include "devices/uart16550.h"
#include "state/state.h"

/* A device whose state gained a field: version 1 had `a`, version 2 added `b` (an older
 * stream maps to b = 7, the field's power-on value). */
struct fake {
	uint32_t a, b;
	int drain_ret;
	int *order, *pos; /* teardown order recorder */
	int id;
	unsigned drained, resets, restored;
	struct {
		uint64_t hits, misses;
	} stats;
};

static int fake_save(void *obj, struct state_buf *b)
{
	struct fake *f = obj;

	state_put_u32(b, f->a);
	state_put_u32(b, f->b);
	return 0;
}

static int fake_load(void *obj, struct state_buf *b, uint16_t version)
{
	struct fake *f = obj;
	uint32_t a = state_get_u32(b), nb = version >= 2 ? state_get_u32(b) : 7;

	if (state_section_done(b))
		return -EINVAL;
	f->a = a;
	f->b = nb;
	return 0;
}

static const struct device_counter fake_counters[] = {
    DEVICE_COUNTER(typeof(((struct fake *)0)->stats), hits),
    DEVICE_COUNTER(typeof(((struct fake *)0)->stats), misses),
};

static void fake_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct fake *f = obj;

	device_report_counters(DEVICE_COUNTERS(fake_counters), &f->stats, name, fn, ctx);
}

static int fake_drain(void *obj, int timeout_ms)
{
	struct fake *f = obj;

	(void)timeout_ms;
	f->drained++;
	return f->drain_ret;
}

static void fake_reset(void *obj)
{
	((struct fake *)obj)->resets++;
}

static void fake_restored(void *obj)
{
	((struct fake *)obj)->restored++;
}

static void fake_destroy(void *obj)
{
	struct fake *f = obj;

	f->order[(*f->pos)++] = f->id;
}

static const struct device_ops fake_ops = {
    .kind = "fake",
    .save = fake_save,
    .load = fake_load,
    .stats = fake_stats,
    .reset = fake_reset,
    .drain = fake_drain,
    .restored = fake_restored,
    .destroy = fake_destroy,
};

struct seen {
	char text[512];
};

static void collect(void *ctx, const char *dev, const char *name, uint64_t value)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "%s.%s=%llu ", dev, name,
		 (unsigned long long)value);
}

static void test_counters_by_name(void **st)
{
	struct fake f = {.stats = {.hits = 3, .misses = 9}};
	struct device_list l = {0};
	struct seen s = {""};
	int order[1], pos = 0;

	(void)st;
	f.order = order, f.pos = &pos;
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "fake0", NULL, 0, 0), 0);
	device_list_stats(&l, collect, &s);
	assert_string_equal(s.text, "fake0.hits=3 fake0.misses=9 ");
	device_list_destroy(&l);
	assert_int_equal(pos, 1);
}

static void test_bad_entries(void **st)
{
	static const struct device_ops no_state = {.kind = "x"};
	struct device_list l = {0};
	struct fake f = {0};
	char long_name[64];

	(void)st;
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	/* a section needs save and load, and a version range [min >= 1, version] */
	assert_int_equal(device_list_add_ops(&l, &no_state, &f, "x", "x", 1, 1), -EINVAL);
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "x", "x", 1, 0), -EINVAL);
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "x", "x", 1, 2), -EINVAL);
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, long_name, NULL, 0, 0), -EINVAL);
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "x", long_name, 1, 1), -EINVAL);
	assert_int_equal(l.nr, 0);
	device_list_destroy(&l);
}

/* A stream written when the section was version 1 loads into the version-2 device. */
static void test_old_version_maps(void **st)
{
	struct fake f = {.a = 1, .b = 1};
	struct device_list l = {0};
	struct state_buf w = {0}, r;
	int order[1], pos = 0;

	(void)st;
	f.order = order, f.pos = &pos;
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "f", "fake", 2, 1), 0);
	assert_int_equal(state_begin_section(&w, "fake", 1), 0);
	state_put_u32(&w, 42); /* version 1: `a` only */
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(device_list_load(&l, &r), 0);
	assert_int_equal(f.a, 42);
	assert_int_equal(f.b, 7);
	device_list_restored(&l);
	assert_int_equal(f.restored, 1);
	state_buf_free(&w);
	device_list_destroy(&l);
}

/* Save then load at the current version; a newer version, or a missing section, is refused. */
static void test_round_trip_and_refusals(void **st)
{
	struct fake f = {.a = 5, .b = 6}, g = {0};
	struct device_list l = {0}, m = {0};
	struct state_buf w = {0}, r;
	int order[2], pos = 0;

	(void)st;
	f.order = g.order = order, f.pos = g.pos = &pos;
	assert_int_equal(device_list_add_ops(&l, &fake_ops, &f, "f", "fake", 2, 1), 0);
	assert_int_equal(device_list_add_ops(&m, &fake_ops, &g, "g", "fake", 2, 1), 0);
	assert_int_equal(device_list_save(&l, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(device_list_load(&m, &r), 0);
	assert_int_equal(g.a, 5);
	assert_int_equal(g.b, 6);
	state_buf_free(&w);

	assert_int_equal(state_begin_section(&w, "fake", 3), 0); /* from a newer kiln */
	state_put_u32(&w, 1);
	state_put_u32(&w, 2);
	state_put_u32(&w, 3);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(device_list_load(&m, &r), -EINVAL);
	assert_int_equal(g.a, 5); /* unchanged */
	state_buf_free(&w);

	assert_int_equal(state_begin_section(&w, "other", 1), 0);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(device_list_load(&m, &r), -EINVAL);
	state_buf_free(&w);
	device_list_destroy(&l);
	device_list_destroy(&m);
}

/* Every device is drained even after one fails; the first error is returned. Reset reaches all.
 * Teardown goes in registration order. */
static void test_walks(void **st)
{
	struct fake f[3] = {{.id = 0}, {.id = 1, .drain_ret = -ETIMEDOUT}, {.id = 2}};
	struct device_list l = {0};
	int order[3], pos = 0;

	(void)st;
	for (int i = 0; i < 3; i++) {
		f[i].order = order, f[i].pos = &pos;
		assert_int_equal(device_list_add_ops(&l, &fake_ops, &f[i], "f", NULL, 0, 0), 0);
	}
	assert_int_equal(device_list_drain(&l, 10), -ETIMEDOUT);
	device_list_reset(&l);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(f[i].drained, 1);
		assert_int_equal(f[i].resets, 1);
	}
	device_list_destroy(&l);
	assert_int_equal(pos, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(order[i], i);
	assert_int_equal(l.nr, 0);
}

/* The i8042's section gained the keyboard's pending command in version 2: a whole stream of the
 * board's devices in which it is still version 1 loads through the board entries. */
static void test_real_devices_version1_stream(void **st)
{
	static const uint8_t v1[] = {0x47, 0x03, 0x1d, 1, 0, 0, 1, 1, 0x38};
	struct uart16550_config uc = {.name = "COM1", .out_fd = -1};
	struct i8042_config ic = {0};
	struct uart16550 *u, *u2;
	struct i8042 *k;
	struct device_list save = {0}, load = {0};
	struct state_buf w = {0}, r;

	(void)st;
	assert_int_equal(uart16550_create(&uc, &u), 0);
	assert_int_equal(uart16550_create(&uc, &u2), 0);
	assert_int_equal(i8042_create(&ic, &k), 0);
	uart16550_io_ops.write(u, 7, 0x5a, 1); /* scratch register */
	assert_int_equal(device_list_add_ops(&save, &uart16550_device_ops, u, "com1", "uart.com1",
					     UART16550_STATE_VERSION, UART16550_STATE_MIN_VERSION),
			 0);
	assert_int_equal(device_list_save(&save, &w), 0);
	assert_int_equal(state_begin_section(&w, "i8042", 1), 0);
	state_put_bytes(&w, v1, sizeof(v1));
	assert_int_equal(state_end_section(&w), 0);

	assert_int_equal(device_list_add_ops(&load, &uart16550_device_ops, u2, "com1", "uart.com1",
					     UART16550_STATE_VERSION, UART16550_STATE_MIN_VERSION),
			 0);
	assert_int_equal(device_list_add_ops(&load, &i8042_device_ops, k, "i8042", "i8042",
					     I8042_STATE_VERSION, I8042_STATE_MIN_VERSION),
			 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(device_list_load(&load, &r), 0);
	assert_int_equal(uart16550_io_ops.read(u2, 7, 1), 0x5a);
	assert_int_equal(i8042_data_io_ops.read(k, 0, 1), 0x1d);
	assert_int_equal(i8042_data_io_ops.read(k, 0, 1), 0x38);

	/* reset through the entries: back to power-on registers */
	device_list_reset(&load);
	assert_int_equal(uart16550_io_ops.read(u2, 7, 1), 0);
	assert_int_equal(i8042_cmd_io_ops.read(k, 0, 1) & 1, 0); /* output buffer empty */
	state_buf_free(&w);
	device_list_destroy(&save);
	device_list_destroy(&load);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_counters_by_name),
	    cmocka_unit_test(test_bad_entries),
	    cmocka_unit_test(test_old_version_maps),
	    cmocka_unit_test(test_round_trip_and_refusals),
	    cmocka_unit_test(test_walks),
	    cmocka_unit_test(test_real_devices_version1_stream),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

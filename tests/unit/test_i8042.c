/* test_i8042.c — the keyboard controller's commands and reset line, through the PIO bus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/io_bus.h"
#include "devices/i8042.h"

#define STS_OBF 0x01
#define STS_IBF 0x02
#define STS_SYS 0x04

struct fx {
	struct io_bus pio;
	struct i8042 *d;
	unsigned resets;
	unsigned irq_rises; /* IRQ 1 edges: 0 -> 1 */
	int irq_level;
};

static int irq_set(void *ctx, uint32_t gsi, int level)
{
	struct fx *f = ctx;

	assert_int_equal(gsi, 1);
	if (level && !f->irq_level)
		f->irq_rises++;
	f->irq_level = level;
	return 0;
}

static void on_reset(void *ctx)
{
	struct fx *f = ctx;

	f->resets++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct i8042_config c = {.on_reset = on_reset};

	assert_non_null(f);
	c.ctx = f;
	c.irq = (struct irq_line){.set = irq_set, .ctx = f, .gsi = 1};
	io_bus_init(&f->pio, "pio", 0x10000);
	assert_int_equal(i8042_create(&c, &f->d), 0);
	assert_int_equal(i8042_register(f->d, &f->pio), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	i8042_destroy(f->d);
	io_bus_destroy(&f->pio);
	free(f);
	return 0;
}

static uint8_t status(struct fx *f)
{
	return (uint8_t)io_bus_read(&f->pio, 0x64, 1);
}

static void cmd(struct fx *f, uint8_t c)
{
	io_bus_write(&f->pio, 0x64, c, 1);
}

static void data_out(struct fx *f, uint8_t v)
{
	io_bus_write(&f->pio, 0x60, v, 1);
}

/* Read a response the way Linux does: wait for OBF (here it must already be set). */
static uint8_t response(struct fx *f)
{
	uint8_t v;

	assert_true(status(f) & STS_OBF);
	v = (uint8_t)io_bus_read(&f->pio, 0x60, 1);
	assert_false(status(f) & STS_OBF);
	return v;
}

static void test_layout(void **state)
{
	struct fx *f = *state;

	assert_non_null(io_bus_find(&f->pio, 0x60));
	assert_non_null(io_bus_find(&f->pio, 0x64));
	assert_null(io_bus_find(&f->pio, 0x61)); /* port 0x61 (speaker, PIT gate) is not ours */
	assert_null(io_bus_find(&f->pio, 0x63));
	assert_int_equal(io_bus_read(&f->pio, 0x60, 2), 0xffff); /* 1-byte ports only */
}

static void test_status_idle(void **state)
{
	struct fx *f = *state;
	uint8_t s = status(f);

	assert_true(s & STS_SYS);
	assert_false(s & (STS_OBF | STS_IBF));
}

static void test_reset_fe(void **state)
{
	struct fx *f = *state;

	cmd(f, 0xfe);
	assert_int_equal(f->resets, 1);
	cmd(f, 0xff); /* pulses no line */
	assert_int_equal(f->resets, 1);
	cmd(f, 0xf0); /* pulses all four, the reset line among them */
	assert_int_equal(f->resets, 2);
}

static void test_reset_output_port(void **state)
{
	struct fx *f = *state;

	cmd(f, 0xd1);
	data_out(f, 0xdf); /* A20 on, reset line high: the classic A20 gate, no reset */
	assert_int_equal(f->resets, 0);
	cmd(f, 0xd0);
	assert_int_equal(response(f), 0xdf);
	cmd(f, 0xd1);
	data_out(f, 0xfe); /* bit 0 clear: reset */
	assert_int_equal(f->resets, 1);
	data_out(f, 0xfe); /* without 0xd1 it goes to the (absent) keyboard */
	assert_int_equal(f->resets, 1);
}

static void test_command_byte(void **state)
{
	struct fx *f = *state;
	uint8_t ctr;

	cmd(f, 0x20);
	ctr = response(f);
	assert_true(ctr & 0x04); /* system flag */
	cmd(f, 0x60);
	data_out(f, 0x65);
	cmd(f, 0x20);
	assert_int_equal(response(f), 0x65);
	cmd(f, 0xa8);
	cmd(f, 0xae);
	cmd(f, 0x20);
	assert_int_equal(response(f), 0x45);
	cmd(f, 0xa7);
	cmd(f, 0xad);
	cmd(f, 0x20);
	assert_int_equal(response(f), 0x75);
	cmd(f, 0x60);
	cmd(f, 0xaa); /* a new command abandons the pending data byte */
	assert_int_equal(response(f), 0x55);
	data_out(f, 0x00);
	cmd(f, 0x20);
	assert_int_equal(response(f), 0x75);
}

static void test_self_tests(void **state)
{
	struct fx *f = *state;

	cmd(f, 0xaa);
	assert_int_equal(response(f), 0x55);
	cmd(f, 0xab);
	assert_int_equal(response(f), 0x00);
	cmd(f, 0xa9);
	assert_int_equal(response(f), 0x00);
	assert_true(status(f) & STS_SYS);
}

static void test_unknown_ignored(void **state)
{
	struct fx *f = *state;

	cmd(f, 0xc0);
	cmd(f, 0x12);
	assert_false(status(f) & STS_OBF);
	data_out(f, 0x12); /* not a keyboard command: the keyboard asks for it again */
	assert_int_equal(response(f), 0xfe);
	assert_int_equal(i8042_ignored(f->d), 3);
	assert_int_equal(f->resets, 0);
	for (unsigned v = 0; v < 0x10000; v++) { /* everything but the reset pulses is safe */
		uint8_t c = v & 0xff;

		if ((c & 0xf1) == 0xf0 || c == 0xd1)
			continue;
		cmd(f, c);
		data_out(f, (uint8_t)(v >> 8));
		io_bus_read(&f->pio, 0x60 + ((v >> 3) & 4), 1);
	}
	assert_int_equal(f->resets, 0);
}

/* Read an injected key: OBF must be set (the next key may set it again at once). */
static uint8_t key(struct fx *f)
{
	assert_true(status(f) & STS_OBF);
	return (uint8_t)io_bus_read(&f->pio, 0x60, 1);
}

/* Write a keyboard command and expect exactly the answer bytes want[0..n). */
static void kbd_expect(struct fx *f, uint8_t v, const uint8_t *want, size_t n)
{
	data_out(f, v);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(key(f), want[i]);
	assert_false(status(f) & STS_OBF);
}

/* What Linux's atkbd sends while probing and enabling the keyboard gets an MF2 keyboard's
 * answers, one byte per OBF and one IRQ edge per byte. */
static void test_keyboard_probe(void **state)
{
	static const uint8_t ack[] = {0xfa}, id[] = {0xfa, 0xab, 0x83}, bat[] = {0xfa, 0xaa};
	static const uint8_t set_xlated[] = {0xfa, 0x41}, set2[] = {0xfa, 0x02}, echo[] = {0xee};
	struct fx *f = *state;

	cmd(f, 0x60);
	data_out(f, 0x47); /* interrupts, translation */
	kbd_expect(f, 0xf2, id, sizeof(id));
	assert_int_equal(f->irq_rises, 3);
	kbd_expect(f, 0xed, ack, 1); /* SETLEDS, then its parameter */
	kbd_expect(f, 0x00, ack, 1);
	kbd_expect(f, 0xf3, ack, 1); /* typematic rate */
	kbd_expect(f, 0x20, ack, 1);
	kbd_expect(f, 0xf0, ack, 1); /* which scancode set? 2, as the controller translates it */
	kbd_expect(f, 0x00, set_xlated, sizeof(set_xlated));
	kbd_expect(f, 0xf4, ack, 1);
	kbd_expect(f, 0xff, bat, sizeof(bat));
	kbd_expect(f, 0xee, echo, 1);
	cmd(f, 0x60);
	data_out(f, 0x05); /* translation off */
	kbd_expect(f, 0xf0, ack, 1);
	kbd_expect(f, 0x00, set2, sizeof(set2));
	assert_int_equal(i8042_ignored(f->d), 0);
	assert_int_equal(f->irq_rises, 17);
	assert_int_equal(f->resets, 0);
}

/* A keyboard answer goes ahead of injected keys still queued (the key already in the output
 * buffer stays first), answers keep their own order, and a full queue drops (and counts)
 * answers rather than overwriting what waits. */
static void test_keyboard_answers_queue(void **state)
{
	uint8_t bytes[I8042_KEY_QUEUE] = {0x1c, 0x9c, 0x2a};
	struct fx *f = *state;

	assert_int_equal(i8042_inject(f->d, bytes, 3), 0); /* 0x1c out, 0x9c 0x2a queued */
	data_out(f, 0xf2);				   /* GETID: fa ab 83 */
	data_out(f, 0xee);				   /* ECHO: ee */
	assert_int_equal(key(f), 0x1c);
	assert_int_equal(key(f), 0xfa);
	assert_int_equal(key(f), 0xab);
	assert_int_equal(key(f), 0x83);
	assert_int_equal(key(f), 0xee);
	assert_int_equal(key(f), 0x9c);
	data_out(f, 0xee); /* the queue is empty now: the answer waits behind the buffer only */
	assert_int_equal(key(f), 0x2a);
	assert_int_equal(key(f), 0xee);
	assert_false(status(f) & STS_OBF);
	memset(bytes, 0x1c, sizeof(bytes));
	assert_int_equal(i8042_inject(f->d, bytes, I8042_KEY_QUEUE), 0); /* 1 out, 15 queued */
	data_out(f, 0xee);						 /* the 16th */
	data_out(f, 0xee);						 /* no room */
	assert_int_equal(i8042_ignored(f->d), 1);
	assert_int_equal(key(f), 0x1c);
	assert_int_equal(key(f), 0xee);
	for (int i = 1; i < I8042_KEY_QUEUE; i++)
		assert_int_equal(key(f), 0x1c);
	assert_false(status(f) & STS_OBF);
}

/* Injected keys: one byte per OBF, an IRQ edge per byte, the line left low. */
static void test_ctrl_alt_del_set1(void **state)
{
	static const uint8_t want[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	struct fx *f = *state;

	cmd(f, 0x60);
	data_out(f, 0x47); /* as Linux's i8042 driver sets it: interrupts, translation */
	assert_int_equal(i8042_ctrl_alt_del(f->d), 0);
	for (size_t i = 0; i < sizeof(want); i++) {
		assert_int_equal(f->irq_rises, i + 1);
		assert_int_equal(f->irq_level, 0);
		assert_int_equal(key(f), want[i]);
	}
	assert_int_equal(f->irq_rises, sizeof(want));
	assert_false(status(f) & STS_OBF);
}

/* Translation off: scancode set 2. Interrupt disabled in the command byte: no IRQ, but the
 * bytes still show through OBF (polling). */
static void test_inject_set2_polled(void **state)
{
	static const uint8_t want[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14};
	struct fx *f = *state;

	cmd(f, 0x60);
	data_out(f, 0x04); /* system flag only: no translation, no keyboard interrupt */
	assert_int_equal(i8042_ctrl_alt_del(f->d), 0);
	for (size_t i = 0; i < sizeof(want); i++)
		assert_int_equal(key(f), want[i]);
	assert_false(status(f) & STS_OBF);
	assert_int_equal(f->irq_rises, 0);
}

/* A guest that never set the controller up gets no IRQ (it has no handler for it). */
static void test_inject_no_driver(void **state)
{
	struct fx *f = *state;

	assert_int_equal(i8042_ctrl_alt_del(f->d), 0);
	assert_int_equal(key(f), 0x1d);
	assert_int_equal(f->irq_rises, 0);
}

/* The queue is bounded: a second sequence does not fit until the first is read. */
static void test_inject_full(void **state)
{
	struct fx *f = *state;
	uint8_t bytes[I8042_KEY_QUEUE + 1] = {0};

	assert_int_equal(i8042_inject(f->d, bytes, sizeof(bytes)), -ENOSPC);
	assert_false(status(f) & STS_OBF);
	/* one byte moves to the output buffer at once, the rest fill the queue */
	assert_int_equal(i8042_inject(f->d, bytes, I8042_KEY_QUEUE), 0);
	assert_int_equal(i8042_ctrl_alt_del(f->d), -ENOSPC);
	for (int i = 0; i < 8; i++)
		assert_int_equal(key(f), 0);
	assert_int_equal(i8042_ctrl_alt_del(f->d), 0);
	for (int i = 0; i < I8042_KEY_QUEUE - 8; i++)
		assert_int_equal(key(f), 0);
	assert_int_equal(key(f), 0x1d);
	assert_int_equal(key(f), 0x38);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_fe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_output_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_self_tests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyboard_probe, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keyboard_answers_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ctrl_alt_del_set1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inject_set2_polled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inject_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inject_no_driver, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

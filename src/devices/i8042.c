/* i8042.c — the keyboard controller and a keyboard behind it: status, command byte, reset line,
 * the keyboard's answers to the commands a driver probes it with, and a queue of injected
 * scancodes. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/i8042.h"

#define STS_OBF	     0x01 /* output buffer full: a byte waits on the data port */
#define STS_SYS	     0x04 /* system flag: self-test passed */
#define STS_CMD	     0x08 /* the last write went to the command port */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited */

#define CTR_KBDINT 0x01
#define CTR_KBDDIS 0x10
#define CTR_XLATE  0x40
#define CTR_AUXDIS 0x20
#define CTR_RESET  0x45 /* keyboard interrupt, system flag, translation */

#define OUTPORT_RESET 0x01 /* active low: clearing it resets the CPU */
#define OUTPORT_A20   0x02

/* Keyboard commands (written to the data port with no controller command pending) and answers. */
enum {
	KBD_SETLEDS = 0xed, /* + one parameter byte */
	KBD_ECHO = 0xee,
	KBD_SCANSET = 0xf0, /* + one parameter byte; 0 asks for the current set */
	KBD_GETID = 0xf2,
	KBD_SET_REP = 0xf3, /* + one parameter byte */
	KBD_ENABLE = 0xf4,
	KBD_RESET_DIS = 0xf5,
	KBD_RESET_DEF = 0xf6,
	KBD_RESEND = 0xfe,
	KBD_RESET_BAT = 0xff,
	KBD_ACK = 0xfa,
	KBD_BAT_OK = 0xaa,
	KBD_ID0 = 0xab, /* an MF2 keyboard: 0xab 0x83 */
	KBD_ID1 = 0x83,
	KBD_SET2 = 0x02,
	KBD_SET2_XLATED = 0x41, /* what the controller's translation makes of 0x02 */
};

enum {
	CMD_READ_CTR = 0x20,
	CMD_WRITE_CTR = 0x60,
	CMD_AUX_DISABLE = 0xa7,
	CMD_AUX_ENABLE = 0xa8,
	CMD_AUX_TEST = 0xa9,
	CMD_SELF_TEST = 0xaa,
	CMD_KBD_TEST = 0xab,
	CMD_KBD_DISABLE = 0xad,
	CMD_KBD_ENABLE = 0xae,
	CMD_READ_OUTPORT = 0xd0,
	CMD_WRITE_OUTPORT = 0xd1,
	CMD_PULSE = 0xf0, /* 0xf0-0xff: pulse the output-port lines whose bit is 0 */
};

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_config cfg;
	uint8_t ctr;	 /* the command byte */
	uint8_t outport; /* the output port (bit 0: reset, active low; bit 1: A20) */
	uint8_t out;	 /* output buffer */
	bool out_full;
	bool last_was_cmd;
	uint8_t pending;     /* command waiting for its data byte on port 0x60, or 0 */
	uint8_t kbd_pending; /* keyboard command waiting for its parameter byte, or 0 */
	uint64_t ignored;
	bool ctr_written; /* a driver configured the controller: it expects keyboard IRQs */
	uint8_t keys[I8042_KEY_QUEUE]; /* keyboard bytes (answers, injected scancodes) not yet in
					  the output buffer */
	size_t nr_keys;
	size_t nr_answers; /* keys[0..nr_answers) are answers to commands: they go first */
};

static void respond(struct i8042 *d, uint8_t v)
{
	d->out = v;
	d->out_full = true;
}

/* Execute a command-port write; returns true if the machine must reset. */
static bool command(struct i8042 *d, uint8_t cmd)
{
	d->pending = 0; /* a new command abandons one still waiting for its data byte */
	switch (cmd) {
	case CMD_READ_CTR:
		respond(d, d->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPORT:
		d->pending = cmd;
		break;
	case CMD_SELF_TEST:
		respond(d, 0x55);
		break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST:
		respond(d, 0x00);
		break;
	case CMD_AUX_DISABLE:
		d->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		d->ctr &= ~CTR_AUXDIS;
		break;
	case CMD_KBD_DISABLE:
		d->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		d->ctr &= ~CTR_KBDDIS;
		break;
	case CMD_READ_OUTPORT:
		respond(d, d->outport);
		break;
	default:
		if ((cmd & 0xf0) == CMD_PULSE)
			return !(cmd & OUTPORT_RESET); /* 0xfe: the classic reboot */
		d->ignored++;
		break;
	}
	return false;
}

/* Queue a keyboard answer behind the answers waiting but ahead of injected scancodes (lock
 * held); dropped, and counted, if full. A driver waiting for its ACK takes any other byte for
 * noise and drops it (Linux's ps2_handle_ack), so a key queued before the ACK would be lost. */
static void kbd_reply(struct i8042 *d, uint8_t v)
{
	if (d->nr_keys == I8042_KEY_QUEUE) {
		d->ignored++;
		return;
	}
	memmove(d->keys + d->nr_answers + 1, d->keys + d->nr_answers, d->nr_keys - d->nr_answers);
	d->keys[d->nr_answers++] = v;
	d->nr_keys++;
}

/* A byte for the keyboard (lock held): a command, or the parameter of the one before. The
 * keyboard acknowledges what it knows, as an MF2 keyboard does, so a driver's probe (Linux's
 * atkbd: GETID, SETLEDS, SET_REP, ENABLE) finds one; it answers an unknown command with RESEND. */
static void kbd_write(struct i8042 *d, uint8_t v)
{
	uint8_t cmd = d->kbd_pending;

	d->kbd_pending = 0;
	if (cmd) {
		kbd_reply(d, KBD_ACK);
		if (cmd == KBD_SCANSET && v == 0)
			kbd_reply(d, d->ctr & CTR_XLATE ? KBD_SET2_XLATED : KBD_SET2);
		return;
	}
	switch (v) {
	case KBD_SETLEDS:
	case KBD_SCANSET:
	case KBD_SET_REP:
		d->kbd_pending = v;
		kbd_reply(d, KBD_ACK);
		break;
	case KBD_ECHO:
		kbd_reply(d, KBD_ECHO);
		break;
	case KBD_GETID:
		kbd_reply(d, KBD_ACK);
		kbd_reply(d, KBD_ID0);
		kbd_reply(d, KBD_ID1);
		break;
	case KBD_ENABLE:
	case KBD_RESET_DIS:
	case KBD_RESET_DEF:
	case KBD_RESEND:
		kbd_reply(d, KBD_ACK);
		break;
	case KBD_RESET_BAT:
		kbd_reply(d, KBD_ACK);
		kbd_reply(d, KBD_BAT_OK);
		break;
	default:
		d->ignored++;
		kbd_reply(d, KBD_RESEND);
		break;
	}
}

/* A data-port write: the data byte of a pending command, or a byte for the keyboard. Returns
 * true if the machine must reset. */
static bool data(struct i8042 *d, uint8_t v)
{
	uint8_t cmd = d->pending;

	d->pending = 0;
	switch (cmd) {
	case CMD_WRITE_CTR:
		d->ctr = v;
		d->ctr_written = true;
		return false;
	case CMD_WRITE_OUTPORT:
		d->outport = v;
		return !(v & OUTPORT_RESET);
	default:
		kbd_write(d, v);
		return false;
	}
}

/* Move the next injected key into an empty output buffer (lock held). Returns true if the
 * keyboard interrupt should be raised for it. */
static bool next_key(struct i8042 *d)
{
	if (d->out_full || !d->nr_keys)
		return false;
	respond(d, d->keys[0]);
	memmove(d->keys, d->keys + 1, --d->nr_keys);
	if (d->nr_answers)
		d->nr_answers--;
	return d->ctr_written && (d->ctr & CTR_KBDINT) && !(d->ctr & CTR_KBDDIS);
}

static void pulse_irq(struct i8042 *d)
{
	irq_line_set(&d->cfg.irq, 1);
	irq_line_set(&d->cfg.irq, 0);
}

static uint64_t data_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *d = dev;
	bool irq;
	uint8_t v;

	(void)off;
	(void)size;
	pthread_mutex_lock(&d->lock);
	v = d->out; /* an empty buffer reads its last byte again */
	d->out_full = false;
	irq = next_key(d);
	pthread_mutex_unlock(&d->lock);
	if (irq)
		pulse_irq(d);
	return v;
}

static void reset_request(struct i8042 *d)
{
	if (d->cfg.on_reset)
		d->cfg.on_reset(d->cfg.ctx);
}

static void data_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct i8042 *d = dev;
	bool reset, irq;

	(void)off;
	(void)size;
	pthread_mutex_lock(&d->lock);
	d->last_was_cmd = false;
	reset = data(d, (uint8_t)val);
	irq = next_key(d); /* a keyboard answer, if the output buffer was empty */
	pthread_mutex_unlock(&d->lock);
	if (irq)
		pulse_irq(d);
	if (reset)
		reset_request(d);
}

static uint64_t status_read(void *dev, uint64_t off, unsigned size)
{
	struct i8042 *d = dev;
	uint8_t v;

	(void)off;
	(void)size;
	pthread_mutex_lock(&d->lock);
	/* The input buffer is consumed at once, so IBF never shows. */
	v = STS_SYS | STS_UNLOCKED | (d->last_was_cmd ? STS_CMD : 0) | (d->out_full ? STS_OBF : 0);
	pthread_mutex_unlock(&d->lock);
	return v;
}

static void command_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct i8042 *d = dev;
	bool reset;

	(void)off;
	(void)size;
	pthread_mutex_lock(&d->lock);
	d->last_was_cmd = true;
	reset = command(d, (uint8_t)val);
	pthread_mutex_unlock(&d->lock);
	if (reset)
		reset_request(d);
}

const struct io_ops i8042_data_io_ops = {
    .name = "i8042-data",
    .read = data_read,
    .write = data_write,
    .min_size = 1,
    .max_size = 1,
};

const struct io_ops i8042_cmd_io_ops = {
    .name = "i8042-cmd",
    .read = status_read,
    .write = command_write,
    .min_size = 1,
    .max_size = 1,
};

int i8042_create(const struct i8042_config *cfg, struct i8042 **out)
{
	struct i8042 *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	d->cfg = *cfg;
	d->ctr = CTR_RESET;
	d->outport = OUTPORT_RESET | OUTPORT_A20;
	*out = d;
	return 0;
}

void i8042_destroy(struct i8042 *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int i8042_register(struct i8042 *d, struct io_bus *pio)
{
	int ret = io_bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_io_ops, d);

	if (ret == 0)
		ret = io_bus_register(pio, I8042_CMD_PORT, 1, &i8042_cmd_io_ops, d);
	return ret;
}

int i8042_inject(struct i8042 *d, const uint8_t *codes, size_t len)
{
	bool irq;

	pthread_mutex_lock(&d->lock);
	if (len > I8042_KEY_QUEUE - d->nr_keys) {
		pthread_mutex_unlock(&d->lock);
		return -ENOSPC;
	}
	memcpy(d->keys + d->nr_keys, codes, len);
	d->nr_keys += len;
	irq = next_key(d);
	pthread_mutex_unlock(&d->lock);
	if (irq)
		pulse_irq(d);
	return 0;
}

int i8042_ctrl_alt_del(struct i8042 *d)
{
	/* Ctrl, Alt, Delete (extended) pressed, then released in reverse order. */
	static const uint8_t set1[] = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
	static const uint8_t set2[] = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
				       0x71, 0xf0, 0x11, 0xf0, 0x14};
	bool xlate;

	pthread_mutex_lock(&d->lock);
	xlate = d->ctr & CTR_XLATE;
	pthread_mutex_unlock(&d->lock);
	return xlate ? i8042_inject(d, set1, sizeof(set1)) : i8042_inject(d, set2, sizeof(set2));
}

uint64_t i8042_ignored(struct i8042 *d)
{
	uint64_t n;

	pthread_mutex_lock(&d->lock);
	n = d->ignored;
	pthread_mutex_unlock(&d->lock);
	return n;
}

/* --- state --- */

void i8042_save(struct i8042 *d, struct state_buf *b)
{
	pthread_mutex_lock(&d->lock);
	state_put_u8(b, d->ctr);
	state_put_u8(b, d->outport);
	state_put_u8(b, d->out);
	state_put_u8(b, d->out_full);
	state_put_u8(b, d->last_was_cmd);
	state_put_u8(b, d->pending);
	state_put_u8(b, d->ctr_written);
	state_put_u8(b, (uint8_t)d->nr_keys);
	state_put_bytes(b, d->keys, d->nr_keys);
	state_put_u8(b, d->kbd_pending); /* since version 2 */
	pthread_mutex_unlock(&d->lock);
}

static bool kbd_takes_parameter(uint8_t cmd)
{
	return cmd == KBD_SETLEDS || cmd == KBD_SCANSET || cmd == KBD_SET_REP;
}

int i8042_load(struct i8042 *d, struct state_buf *b, uint16_t version)
{
	uint8_t v[8], keys[I8042_KEY_QUEUE], kbd_pending = 0;
	const char *why = NULL;

	for (unsigned i = 0; i < 8; i++)
		v[i] = state_get_u8(b);
	if (v[7] <= I8042_KEY_QUEUE)
		state_get_bytes(b, keys, v[7]);
	if (version >= 2) /* version 1 had no keyboard: nothing was pending */
		kbd_pending = state_get_u8(b);
	if (version < 1 || version > I8042_STATE_VERSION)
		why = "unknown section version";
	else if (v[7] > I8042_KEY_QUEUE || state_section_done(b))
		why = "key queue longer than the controller's, or section length wrong";
	else if (v[3] > 1 || v[4] > 1 || v[6] > 1)
		why = "flags not 0/1";
	else if (v[5] != 0 && v[5] != CMD_WRITE_CTR && v[5] != CMD_WRITE_OUTPORT)
		why = "pending command takes no data byte";
	else if (!(v[1] & OUTPORT_RESET))
		why = "output port holds the CPU in reset";
	else if (kbd_pending && !kbd_takes_parameter(kbd_pending))
		why = "pending keyboard command takes no parameter";
	if (why) {
		state_refuse(b, "i8042: %s", why);
		return -EINVAL;
	}
	pthread_mutex_lock(&d->lock);
	d->ctr = v[0], d->outport = v[1], d->out = v[2], d->out_full = v[3];
	d->last_was_cmd = v[4], d->pending = v[5], d->ctr_written = v[6];
	d->nr_keys = v[7];
	d->nr_answers = d->nr_keys; /* not saved: new answers queue behind every restored byte */
	memcpy(d->keys, keys, d->nr_keys);
	d->kbd_pending = kbd_pending;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/* --- reset and the board entry --- */

void i8042_reset(struct i8042 *d)
{
	pthread_mutex_lock(&d->lock);
	d->ctr = CTR_RESET;
	d->outport = OUTPORT_RESET | OUTPORT_A20;
	d->out = 0;
	d->out_full = false;
	d->last_was_cmd = false;
	d->pending = d->kbd_pending = 0;
	d->ctr_written = false;
	d->nr_keys = d->nr_answers = 0;
	pthread_mutex_unlock(&d->lock);
}

static int entry_save(void *obj, struct state_buf *b)
{
	i8042_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	return i8042_load(obj, b, version);
}

static const struct device_counter counters[] = {
    DEVICE_COUNTER(struct i8042_stats, ignored),
};

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct i8042_stats s = {.ignored = i8042_ignored(obj)};

	device_report_counters(DEVICE_COUNTERS(counters), &s, name, fn, ctx);
}

static void entry_reset(void *obj)
{
	i8042_reset(obj);
}

static void entry_destroy(void *obj)
{
	i8042_destroy(obj);
}

const struct device_ops i8042_device_ops = {
    .kind = "i8042",
    .save = entry_save,
    .load = entry_load,
    .stats = entry_stats,
    .reset = entry_reset,
    .destroy = entry_destroy,
};

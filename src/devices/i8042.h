/* i8042.h — the keyboard controller's reset line (0xFE to port 0x64 resets the machine), a
 * keyboard that answers a driver's probe, and injected scancodes (Ctrl+Alt+Del from the API) on
 * IRQ 1. */
#ifndef KILN_DEVICES_I8042_H
#define KILN_DEVICES_I8042_H

#include <stdint.h>

#include <stddef.h>

#include "core/device.h"
#include "core/io_bus.h"
#include "core/irq.h"
#include "state/state.h"
#include "util/compiler.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	0x64 /* command on write, status on read */

struct i8042;

struct i8042_config {
	void (*on_reset)(void *ctx); /* called from the vCPU thread on a CPU-reset command */
	void *ctx;
	struct irq_line irq; /* the keyboard interrupt (IRQ 1); unwired: injected keys are polled */
};

/* Keyboard bytes (answers, injected scancodes) that can wait for the guest. */
#define I8042_KEY_QUEUE 16

/*
 * Create a controller with a keyboard and no mouse. The controller answers the commands Linux
 * and boot code use (0x20/0x60 command byte, 0xAA self-test, 0xAB/0xA9 interface tests,
 * 0xA7/0xA8/0xAD/0xAE port enable bits, 0xD0/0xD1 output port); on_reset (device lock not held)
 * is called for 0xF0-0xFE pulses of the reset line and for 0xD1 with bit 0 clear. Bytes written
 * to the data port with no controller command pending go to the keyboard, which answers as an
 * MF2 keyboard: ACK (0xFA) for SETLEDS, SCANSET, SET_REP (and then their parameter byte),
 * ENABLE, RESET_DIS, RESET_DEF, RESEND; GETID -> ACK 0xAB 0x83; RESET_BAT -> ACK 0xAA; ECHO ->
 * 0xEE; SCANSET 0 -> ACK, ACK, 0x02 (0x41 when translating); anything else -> RESEND (0xFE),
 * counted. Answers are queued as injected keys are (below). Other controller commands are
 * ignored and counted. Returns 0 or -ENOMEM.
 */
int i8042_create(const struct i8042_config *cfg, struct i8042 **out) MUST_CHECK;

/* Free the controller (NULL is allowed). No handler may be running or called afterwards. */
void i8042_destroy(struct i8042 *d);

/* Register the data port (0x60) and the command/status port (0x64) on the PIO bus, as two
 * 1-byte ranges. Returns 0 or io_bus_register's error (if the second range fails, the first
 * stays registered). */
int i8042_register(struct i8042 *d, struct io_bus *pio) MUST_CHECK;

/* Bus handlers of the two ports (1-byte accesses), as i8042_register installs them. */
extern const struct io_ops i8042_data_io_ops;
extern const struct io_ops i8042_cmd_io_ops;

/*
 * Queue scancode bytes as if typed on a keyboard: each in turn is put in the output buffer
 * (status OBF) and, when the guest has written the command byte (a driver set the controller
 * up: a guest that never did has no handler, and its PIC may not even be programmed) with the
 * keyboard interrupt enabled and the keyboard not disabled, IRQ 1 is pulsed (edge: 1 then 0);
 * the next byte follows when the guest reads the data port. Returns 0, or -ENOSPC (nothing queued)
 * if the bytes do not fit the queue. Any thread.
 */
int i8042_inject(struct i8042 *d, const uint8_t *codes, size_t len) MUST_CHECK;

/* Queue Ctrl+Alt+Del (presses, then releases) in the scancode set the guest sees: set 1 while
 * the command byte's translation bit is set (the default), set 2 otherwise. Linux's keyboard
 * driver turns it into a reboot (ctrl_alt_del). Returns i8042_inject's result. */
int i8042_ctrl_alt_del(struct i8042 *d) MUST_CHECK;

/* Number of ignored commands and data bytes so far. Thread-safe. */
uint64_t i8042_ignored(struct i8042 *d);

/* The counters the board reports. */
struct i8042_stats {
	uint64_t ignored; /* i8042_ignored */
};

/* Return to the power-on state: command byte, output port (reset line high, A20 on), empty
 * output buffer and key queue, nothing pending; the counter is kept. Thread-safe. */
void i8042_reset(struct i8042 *d);

/* The board entry (obj: a struct i8042): state at I8042_STATE_VERSION (version 1 still loads),
 * the "ignored" counter, reset, destroy. */
extern const struct device_ops i8042_device_ops;

/* --- state (snapshots, migration) --- */

#define I8042_STATE_VERSION	2 /* 2 added the keyboard's pending command */
#define I8042_STATE_MIN_VERSION 1 /* 1 maps to: no keyboard command pending */

/* Put the command byte, output port, output buffer, the command awaiting its data byte, whether a
 * driver configured the controller, the keyboard bytes not yet read, and the keyboard command
 * awaiting its parameter into the open section. Thread-safe. */
void i8042_save(struct i8042 *d, struct state_buf *b);

/* Load the selected section (version 1 or 2; a version-1 section had no keyboard, so nothing
 * was pending for it): the pending commands must be ones that take a data byte or parameter, the
 * output port's reset line high, the key queue within I8042_KEY_QUEUE. 0 or -EINVAL (logged,
 * nothing changed). */
int i8042_load(struct i8042 *d, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

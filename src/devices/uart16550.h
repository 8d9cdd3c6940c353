/* uart16550.h — a 16550A UART (8 ports): full register set, FIFOs, interrupts. */
#ifndef KILN_DEVICES_UART16550_H
#define KILN_DEVICES_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "core/device.h"
#include "core/io_bus.h"
#include "core/irq.h"
#include "state/state.h"
#include "util/compiler.h"

#define UART16550_PORTS 8
#define UART16550_FIFO	16

struct uart16550;

struct uart16550_config {
	const char *name; /* "COM1", for messages */
	int out_fd;	  /* transmitted bytes are written here; -1 discards them */
	struct irq_line irq;
	/* Called (from a vCPU thread, device lock not held) when the receive FIFO gains space
	 * after having been full, so the input side can resume feeding: precisely, once the guest
	 * has drained it (or reset it through FCR) after a uart16550_receive() left it full.
	 * May be NULL. */
	void (*rx_space)(void *ctx);
	void *rx_ctx;
};

/* Create a UART in its reset state (the config is copied). The irq line is assumed low and
 * its callback must not call back into this UART (it runs with the device lock held).
 * Returns 0 or -ENOMEM. */
int uart16550_create(const struct uart16550_config *cfg, struct uart16550 **out) MUST_CHECK;
/* Free the UART (NULL is allowed). No handler may be running or called afterwards. */
void uart16550_destroy(struct uart16550 *u);

/* Bus handlers for the 8-port window (1-byte accesses). Transmitted bytes are written to
 * out_fd from the vCPU thread (a full non-blocking fd is waited on for about a second, then the
 * byte is dropped and counted); transmission is instantaneous: THR is always empty again. */
extern const struct io_ops uart16550_io_ops;

/* Offer received bytes; returns how many the receive FIFO took (the rest must be offered again
 * after rx_space fires). Raises the receive interrupt as the registers say. Thread-safe.
 * The host side is never overrun: bytes that do not fit are refused, not lost. In loopback mode
 * the serial input is disconnected, as on the chip: all bytes are taken and dropped. */
size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len);

/* Counters for metrics and tests. */
struct uart16550_stats {
	uint64_t tx_bytes;   /* bytes the guest transmitted (not in loopback), incl. failed ones */
	uint64_t rx_bytes;   /* bytes uart16550_receive() put into the FIFO */
	uint64_t overruns;   /* bytes lost to a full receiver (only possible in loopback) */
	uint64_t tx_errors;  /* transmitted bytes that could not be written to out_fd */
	uint64_t rx_dropped; /* host input discarded while in loopback mode */
};
/* Copy the counters into *s. Thread-safe. */
void uart16550_get_stats(struct uart16550 *u, struct uart16550_stats *s);

/* Return the registers to their power-on state (divisor 12, FIFOs off and empty, no interrupt
 * enabled: the line goes low); counters are kept. Host input refused while the FIFO was full may
 * come again (rx_space is called). Thread-safe. */
void uart16550_reset(struct uart16550 *u);

/* The board entry (obj: a struct uart16550): state at UART16550_STATE_VERSION, counters, reset,
 * destroy. */
extern const struct device_ops uart16550_device_ops;

/* --- state (snapshots, migration) --- */

#define UART16550_STATE_VERSION	    1
#define UART16550_STATE_MIN_VERSION 1

/* Put the guest-visible state (registers, divisor latch, receive FIFO contents, pending THRE
 * interrupt, latched line and modem status) into the open section of b. Thread-safe. */
void uart16550_save(struct uart16550 *u, struct state_buf *b);

/* Load the selected section of b, written by uart16550_save at `version`. Every field is checked
 * (reserved register bits clear, FIFO count within the FIFO mode's capacity); on success the
 * interrupt line is driven to the level the registers imply. Returns 0, or -EINVAL with a message
 * logged and nothing changed. */
int uart16550_load(struct uart16550 *u, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

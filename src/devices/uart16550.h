/* uart16550.h — a 16550A UART (8 ports): full register set, FIFOs, interrupts. */
#ifndef KILN_DEVICES_UART16550_H
#define KILN_DEVICES_UART16550_H

#include <stddef.h>
#include <stdint.h>

#include "core/io_bus.h"
#include "core/irq.h"
#include "util/compiler.h"

#define UART16550_PORTS 8
#define UART16550_FIFO	16

struct uart16550;

struct uart16550_config {
	const char *name; /* "COM1", for messages */
	int out_fd;	  /* transmitted bytes are written here; -1 discards them */
	struct irq_line irq;
	/* Called (from a vCPU thread, device lock not held) when the receive FIFO gains space
	 * after having been full, so the input side can resume feeding. May be NULL. */
	void (*rx_space)(void *ctx);
	void *rx_ctx;
};

/* Create a UART in its reset state. Returns 0 or -ENOMEM. */
int uart16550_create(const struct uart16550_config *cfg, struct uart16550 **out) MUST_CHECK;
void uart16550_destroy(struct uart16550 *u);

/* Bus handlers for the 8-port window (1-byte accesses). */
extern const struct io_ops uart16550_io_ops;

/* Offer received bytes; returns how many the receive FIFO took (the rest must be offered again
 * after rx_space fires). Raises the receive interrupt as the registers say. Thread-safe. */
size_t uart16550_receive(struct uart16550 *u, const uint8_t *buf, size_t len);

/* Counters for metrics and tests. */
struct uart16550_stats {
	uint64_t tx_bytes, rx_bytes, overruns, tx_errors;
};
void uart16550_get_stats(struct uart16550 *u, struct uart16550_stats *s);

#endif

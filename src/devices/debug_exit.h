/* debug_exit.h — a port whose write ends the VM with status (value << 1) | 1, like QEMU's
 * isa-debug-exit. */
#ifndef KILN_DEVICES_DEBUG_EXIT_H
#define KILN_DEVICES_DEBUG_EXIT_H

#include "core/io_bus.h"

struct debug_exit {
	void (*on_exit)(void *ctx, int status); /* status already computed */
	void *ctx;
};

/* Exit status for a written value: ((value & 0x7f) << 1) | 1, always odd, 1..255. */
int debug_exit_status(uint64_t value);

/* Bus handlers for the one-port window (1-, 2- and 4-byte writes; reads give all-ones). */
extern const struct io_ops debug_exit_io_ops;

#endif

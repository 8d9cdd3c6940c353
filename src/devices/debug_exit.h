/* debug_exit.h — a port whose write ends the VM with status (value << 1) | 1, like QEMU's
 * isa-debug-exit. */
#ifndef KILN_DEVICES_DEBUG_EXIT_H
#define KILN_DEVICES_DEBUG_EXIT_H

#include "core/device.h"
#include "core/io_bus.h"

struct debug_exit {
	void (*on_exit)(void *ctx, int status); /* status already computed */
	void *ctx;
};

/* Exit status for a written value: ((value & 0x7f) << 1) | 1, always odd, 1..255. */
int debug_exit_status(uint64_t value);

/* The window is 4 ports wide, like QEMU's isa-debug-exit with iosize=4, so a 1-, 2- or 4-byte
 * write at its base (or any byte inside it) ends the VM. */
#define DEBUG_EXIT_PORTS 4

/* Bus handlers for the window (writes of 1, 2 or 4 bytes; reads give all-ones). */
extern const struct io_ops debug_exit_io_ops;

/* The board entry (obj: a struct debug_exit, owned by the caller): nothing to save or reset. */
extern const struct device_ops debug_exit_device_ops;

#endif

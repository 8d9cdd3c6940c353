/* pvpanic.h — QEMU's ISA pvpanic device: one I/O port through which a guest kernel says it has
 * panicked (Linux's pvpanic driver, found through ACPI as QEMU0001). */
#ifndef KILN_DEVICES_PVPANIC_H
#define KILN_DEVICES_PVPANIC_H

#include <stdint.h>

#include "core/device.h"
#include "core/io_bus.h"

#define PVPANIC_PORTS	     1
#define PVPANIC_PANICKED     0x01 /* the guest kernel panicked */
#define PVPANIC_CRASH_LOADED 0x02 /* it panicked and a crash kernel (kdump) takes over */
#define PVPANIC_EVENTS	     (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

struct pvpanic {
	/* Called on the vCPU thread for each write with at least one known event bit; `events`
	 * holds only PVPANIC_EVENTS bits. */
	void (*on_event)(void *ctx, uint8_t events);
	void *ctx;
	uint64_t unknown; /* writes with no known bit (ignored) */
};

/* Bus handlers: a 1-byte read answers PVPANIC_EVENTS (the events this device understands); a
 * 1-byte write reports the events it carries. Writes with no known bit are counted and ignored,
 * unknown bits beside known ones are dropped. */
extern const struct io_ops pvpanic_io_ops;

/* The board entry (obj: a struct pvpanic, owned by the caller): nothing to save or reset. */
extern const struct device_ops pvpanic_device_ops;

#endif

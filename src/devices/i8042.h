/* i8042.h — the keyboard controller's reset line: 0xFE to port 0x64 resets the machine. */
#ifndef KILN_DEVICES_I8042_H
#define KILN_DEVICES_I8042_H

#include "core/io_bus.h"
#include "util/compiler.h"

struct i8042;

struct i8042_config {
	void (*on_reset)(void *ctx); /* called from the vCPU thread on a CPU-reset command */
	void *ctx;
};

int i8042_create(const struct i8042_config *cfg, struct i8042 **out) MUST_CHECK;
void i8042_destroy(struct i8042 *d);

/* Register the data port (0x60) and the command/status port (0x64) on the PIO bus. */
int i8042_register(struct i8042 *d, struct io_bus *pio) MUST_CHECK;

#endif

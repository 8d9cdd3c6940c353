/* debug_exit.c — a write to the debug-exit port ends the VM with an odd status. */
#include "devices/debug_exit.h"

int debug_exit_status(uint64_t value)
{
	return (int)(((value & 0x7f) << 1) | 1);
}

static uint64_t de_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return ~0ULL;
}

static void de_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct debug_exit *d = dev;

	(void)off;
	(void)size;
	if (d->on_exit)
		d->on_exit(d->ctx, debug_exit_status(val));
}

const struct io_ops debug_exit_io_ops = {
    .name = "debug-exit",
    .read = de_read,
    .write = de_write,
    .min_size = 1,
    .max_size = 4,
};

/* The board entry: no state, owned by the caller. */
const struct device_ops debug_exit_device_ops = {.kind = "debug_exit"};

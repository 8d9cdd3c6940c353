/* pvpanic.c — the guest's "I panicked" port (QEMU's pvpanic protocol: read the supported events,
 * write the ones that happened). */
#include "devices/pvpanic.h"

static uint64_t pvpanic_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return PVPANIC_EVENTS;
}

static void pvpanic_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct pvpanic *p = dev;
	uint8_t events = (uint8_t)(val & PVPANIC_EVENTS);

	(void)off;
	(void)size;
	if (!events) {
		__atomic_add_fetch(&p->unknown, 1, __ATOMIC_RELAXED);
		return;
	}
	if (p->on_event)
		p->on_event(p->ctx, events);
}

const struct io_ops pvpanic_io_ops = {
    .name = "pvpanic",
    .read = pvpanic_read,
    .write = pvpanic_write,
    .min_size = 1,
    .max_size = 1,
};

/* The board entry: no state, no counters to report, owned by the caller. */
const struct device_ops pvpanic_device_ops = {.kind = "pvpanic"};

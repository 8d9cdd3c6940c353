/* testdev.h — a scratch device for the guest tests: 16 ports and a 4 KiB MMIO window that read
 * back what was written, at every width the bus allows. Only present with --test-device. */
#ifndef KILN_DEVICES_TESTDEV_H
#define KILN_DEVICES_TESTDEV_H

#include <pthread.h>
#include <stdint.h>

#include "core/io_bus.h"

struct testdev {
	pthread_mutex_t lock;
	uint8_t pio[16];
	uint8_t mmio[4096];
	uint64_t accesses;
};

/* Zero the device. */
void testdev_init(struct testdev *t);

extern const struct io_ops testdev_pio_ops;  /* widths 1, 2, 4 */
extern const struct io_ops testdev_mmio_ops; /* widths 1, 2, 4, 8 */

#endif

/* testdev.h — a scratch device for the guest tests: 16 ports and a 4 KiB MMIO window that read
 * back what was written, at every width the bus allows. Only present with --test-device. */
#ifndef KILN_DEVICES_TESTDEV_H
#define KILN_DEVICES_TESTDEV_H

#include <pthread.h>
#include <stdint.h>

#include "core/device.h"
#include "core/io_bus.h"
#include "state/state.h"
#include "util/compiler.h"

/* The two windows' sizes. The board registers them with these lengths (a static assertion ties its
 * layout constants to them); the handlers check every access against the arrays themselves. */
#define TESTDEV_PIO_LEN	 16
#define TESTDEV_MMIO_LEN 4096

struct testdev {
	pthread_mutex_t lock;
	uint8_t pio[TESTDEV_PIO_LEN];
	uint8_t mmio[TESTDEV_MMIO_LEN];
	uint64_t accesses; /* accesses served (refused ones not counted) */
};

/* Zero the device. */
void testdev_init(struct testdev *t);

/* Zero both scratch windows (the access counter is kept). Thread-safe. */
void testdev_reset(struct testdev *t);

/* Release what testdev_init set up (t itself belongs to the caller). */
void testdev_destroy(struct testdev *t);

/* The board entry (obj: a struct testdev): state at TESTDEV_STATE_VERSION, reset, destroy
 * (testdev_destroy: the memory stays the caller's). */
extern const struct device_ops testdev_device_ops;

/* The handlers (dev: a struct testdev; off from the window's start). Widths 1, 2, 4 for PIO and
 * 1, 2, 4, 8 for MMIO, as the bus enforces. An access not wholly inside its window (only possible
 * when called without the bus, or registered with a longer window) is refused: a read gives all
 * ones, a write changes nothing, and neither counts in accesses. */
extern const struct io_ops testdev_pio_ops;
extern const struct io_ops testdev_mmio_ops;

#define TESTDEV_STATE_VERSION	  1
#define TESTDEV_STATE_MIN_VERSION 1

/* Put both scratch windows (TESTDEV_PIO_LEN + TESTDEV_MMIO_LEN bytes) into the open section.
 * Thread-safe. */
void testdev_save(struct testdev *t, struct state_buf *b);
/* Load the selected section: 0, or -EINVAL (logged) for another version or length. */
int testdev_load(struct testdev *t, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

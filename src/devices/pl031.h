/* pl031.h — an Arm PrimeCell PL031 real-time clock on MMIO (the arm64 board's wall clock). */
#ifndef KILN_DEVICES_PL031_H
#define KILN_DEVICES_PL031_H

#include <stdint.h>
#include <time.h>

#include "core/device.h"
#include "core/io_bus.h"
#include "core/irq.h"
#include "state/state.h"
#include "util/compiler.h"

#define PL031_SIZE 0x1000 /* the register page, PrimeCell IDs at its end */

struct pl031;

struct pl031_config {
	struct irq_line irq; /* level, active high: RTCMIS */
	/* Wall-clock source; NULL means time(2). Called with the device lock held. */
	time_t (*now)(void *ctx);
	void *ctx;
};

/*
 * Create a PL031 whose counter (RTCDR) reads the host's wall-clock seconds. A write to RTCLR moves
 * the guest's counter (kept as an offset; the host clock never changes). RTCMR, RTCIMSC and
 * RTCCR are storage with the chip's semantics; the match interrupt is evaluated whenever the
 * guest accesses the device (no host timer runs for alarms): RTCRIS latches once the counter has
 * reached RTCMR, RTCICR clears it, and the line follows RTCMIS. The PrimeCell identification
 * registers (0xfe0-0xffc) read as the ARM PL031's. 32-bit accesses only. 0 or -ENOMEM.
 */
int pl031_create(const struct pl031_config *cfg, struct pl031 **out) MUST_CHECK;
void pl031_destroy(struct pl031 *r);

extern const struct io_ops pl031_io_ops;

/* The board entry (obj: a struct pl031): state, reset, destroy. */
extern const struct device_ops pl031_device_ops;

#define PL031_STATE_VERSION 1

#endif

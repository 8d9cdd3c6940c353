/* boot_timer.h — Firecracker's boot timer (--boot-timer): a guest that writes the byte 123 to
 * offset 0 of its MMIO page says it has booted, and the time since the VM was started, wall clock
 * and the process's CPU time, is logged in Firecracker's words. */
#ifndef KILN_DEVICES_BOOT_TIMER_H
#define KILN_DEVICES_BOOT_TIMER_H

#include <stdint.h>

#include "core/device.h"
#include "core/io_bus.h"

#define BOOT_TIMER_LEN	 0x1000 /* one page, as Firecracker's */
#define BOOT_TIMER_MAGIC 123	/* MAGIC_VALUE_SIGNAL_GUEST_BOOT_COMPLETE */

struct boot_timer {
	uint64_t start_ns, start_cpu_ns; /* CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID */
	uint64_t boot_us;		 /* the last measured boot time, 0 before */
};

/* Start measuring now. */
void boot_timer_init(struct boot_timer *t);

/* Bus handlers: a 1-byte write of BOOT_TIMER_MAGIC at offset 0 logs (LOG_INFO) "Guest-boot-time
 * = <us> us <ms> ms, <cpu us> CPU us <cpu ms> CPU ms" and records boot_us; other writes are
 * ignored, reads give 0. */
extern const struct io_ops boot_timer_io_ops;

/* The board entry (obj: a struct boot_timer, owned by the caller): no state. */
extern const struct device_ops boot_timer_device_ops;

#endif

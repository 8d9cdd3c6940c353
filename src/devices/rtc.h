/* rtc.h — a minimal MC146818 CMOS RTC at ports 0x70/0x71 reading the host's clock (UTC). */
#ifndef KILN_DEVICES_RTC_H
#define KILN_DEVICES_RTC_H

#include <stdint.h>
#include <time.h>

#include "core/device.h"
#include "core/io_bus.h"
#include "state/state.h"
#include "util/compiler.h"

struct rtc;

struct rtc_config {
	/* Source of wall-clock time; NULL means time(2). Tests pass a fixed clock. Called with the
	 * device lock held: it must not call into the RTC. */
	time_t (*now)(void *ctx);
	void *ctx;
};

/*
 * Create an RTC in its power-on state: register A 0x26, B 0x02 (24-hour, BCD), D 0x80 (valid),
 * the rest of the CMOS zero. Reads of the clock registers (0x00 sec, 0x02 min, 0x04 hour,
 * 0x06 weekday, 0x07 day, 0x08 month, 0x09 year, 0x32 century) follow the clock in the format
 * register B selects. Writes to them move the guest's clock (kept as an offset from the host's;
 * the host clock is never changed); a write to the weekday is ignored (it is derived). While
 * B.SET is set the clock reads frozen and writes collect until SET is cleared. No interrupts
 * are raised: the alarm registers are storage, register C reports only the update flag.
 * Returns 0 or -ENOMEM.
 */
int rtc_create(const struct rtc_config *cfg, struct rtc **out) MUST_CHECK;

/* Free the RTC (NULL is allowed). No handler may be running or called afterwards. */
void rtc_destroy(struct rtc *r);

/* Bus handlers for the 2-port window (index, data), 1-byte accesses. Bit 7 of the index is
 * the NMI-disable bit and does not select a register; the index port reads 0xFF. */
extern const struct io_ops rtc_io_ops;

/* Preset a plain CMOS byte (e.g. firmware memory-size fields). Returns 0, or -EINVAL for an
 * index >= 128 or one of the clock or control registers. Thread-safe. */
int rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t val) MUST_CHECK;

/* Return the control registers to their power-on values (A 0x26, B 0x02, C 0, D valid) and the
 * index to 0. The clock and the CMOS memory are battery-backed on a PC: they are kept. Thread-safe.
 */
void rtc_reset(struct rtc *r);

/* The board entry (obj: a struct rtc): state at RTC_STATE_VERSION, reset, destroy. */
extern const struct device_ops rtc_device_ops;

/* --- state (snapshots, migration) --- */

#define RTC_STATE_VERSION     1
#define RTC_STATE_MIN_VERSION 1

/* Put the CMOS bytes, the index register, the guest clock's offset from the host's wall clock,
 * the frozen clock (while B.SET) and the update-flag baseline into the open section. The clock
 * is saved as an offset, so a restored guest's RTC shows the host's wall-clock time (plus the
 * guest's own adjustment) after any pause. Thread-safe. */
void rtc_save(struct rtc *r, struct state_buf *b);

/* Load the selected section (version `version`): checks the index, flags, register A without
 * UIP, register C clear, register D valid. 0 or -EINVAL (logged, nothing changed). */
int rtc_load(struct rtc *r, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

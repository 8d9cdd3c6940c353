/* rtc.h — a minimal MC146818 CMOS RTC at ports 0x70/0x71 reading the host's clock (UTC). */
#ifndef KILN_DEVICES_RTC_H
#define KILN_DEVICES_RTC_H

#include <time.h>

#include "core/io_bus.h"
#include "util/compiler.h"

struct rtc;

struct rtc_config {
	/* Source of wall-clock time; NULL means time(2). Tests pass a fixed clock. */
	time_t (*now)(void *ctx);
	void *ctx;
};

int rtc_create(const struct rtc_config *cfg, struct rtc **out) MUST_CHECK;
void rtc_destroy(struct rtc *r);

/* Bus handlers for the 2-port window (index, data). */
extern const struct io_ops rtc_io_ops;

#endif

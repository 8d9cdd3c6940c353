/* rtc.c — the CMOS RTC holds a plausible current date, within a few seconds of the host's
 * clock (`now=<unix seconds>` on the cmdline, filled in by the runner). */
#include "guest.h"

#define RTC_INDEX     0x70
#define RTC_DATA      0x71
#define REG_A_UIP     0x80
#define REG_B_24H     0x02
#define REG_B_BINARY  0x04
#define HOUR_PM	      0x80
#define TOLERANCE_SEC 5

struct rtc_time {
	unsigned sec, min, hour, mday, mon, year, century;
};

static uint8_t cmos(uint8_t reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static void rtc_raw(struct rtc_time *t)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * 1500;

	while (cmos(0x0a) & REG_A_UIP) /* an update is due: wait until it is over */
		GUEST_ASSERT(guest_rdtsc() < end);
	*t = (struct rtc_time){cmos(0x00), cmos(0x02), cmos(0x04), cmos(0x07),
			       cmos(0x08), cmos(0x09), cmos(0x32)};
}

static unsigned bcd(unsigned v)
{
	GUEST_ASSERT((v & 0xf) < 10 && (v >> 4) < 10);
	return (v >> 4) * 10 + (v & 0xf);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int main(void)
{
	struct rtc_time a, b;
	uint8_t regb;
	unsigned pm = 0, year;
	uint64_t now, mode;
	int64_t t, diff;

	/* `mode=N` sets register B's data-mode bits (0x04 binary, 0x02 24-hour) first. */
	if (guest_cmdline_u64("mode", &mode)) {
		regb = cmos(0x0b);
		outb(RTC_DATA, (uint8_t)((regb & ~(REG_B_24H | REG_B_BINARY)) | mode));
	}
	regb = cmos(0x0b);

	do { /* two identical reads: no update happened in between */
		rtc_raw(&a);
		rtc_raw(&b);
	} while (memcmp(&a, &b, sizeof(a)) != 0);
	if (!(regb & REG_B_24H)) {
		pm = a.hour & HOUR_PM;
		a.hour &= ~HOUR_PM;
	}
	if (!(regb & REG_B_BINARY)) {
		a.sec = bcd(a.sec), a.min = bcd(a.min), a.hour = bcd(a.hour);
		a.mday = bcd(a.mday), a.mon = bcd(a.mon), a.year = bcd(a.year);
		a.century = bcd(a.century);
	}
	if (!(regb & REG_B_24H))
		a.hour = a.hour % 12 + (pm ? 12 : 0);
	year = a.century * 100 + a.year;
	guest_printf("rtc: register B %#x, %u-%02u-%02u %02u:%02u:%02u UTC\n", regb, year, a.mon,
		     a.mday, a.hour, a.min, a.sec);
	GUEST_ASSERT(year >= 2025 && year < 2200);
	GUEST_ASSERT(a.mon >= 1 && a.mon <= 12);
	GUEST_ASSERT(a.mday >= 1 && a.mday <= 31);
	GUEST_ASSERT(a.hour < 24 && a.min < 60 && a.sec < 60);

	GUEST_ASSERT(guest_cmdline_u64("now", &now));
	t = days_from_civil(year, a.mon, a.mday) * 86400 + a.hour * 3600 + a.min * 60 + a.sec;
	diff = t - (int64_t)now;
	guest_printf("rtc: %ld seconds since the epoch, host said %lu (difference %ld)\n", t, now,
		     diff);
	GUEST_ASSERT(diff >= -TOLERANCE_SEC && diff <= TOLERANCE_SEC);
	return 0;
}

/* rtc.c — an MC146818 CMOS RTC: clock registers from the host's UTC time, 128 bytes of CMOS. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rtc.h"

enum {
	REG_SEC = 0x00,
	REG_MIN = 0x02,
	REG_HOUR = 0x04,
	REG_WDAY = 0x06,
	REG_MDAY = 0x07,
	REG_MON = 0x08,
	REG_YEAR = 0x09,
	REG_A = 0x0a,
	REG_B = 0x0b,
	REG_C = 0x0c,
	REG_D = 0x0d,
	REG_CENTURY = 0x32,
};

#define A_UIP	  0x80
#define A_DV	  0x70
#define A_DV_32K  0x20 /* the normal time base: the clock runs */
#define A_RESET	  0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define B_SET	  0x80
#define B_IRQ_EN  0x70 /* PIE, AIE, UIE: same bits as the C flags */
#define B_DM	  0x04 /* binary, not BCD */
#define B_24H	  0x02
#define B_RESET	  B_24H
#define C_IRQF	  0x80
#define C_UF	  0x10
#define D_VRT	  0x80
#define HOUR_PM	  0x80
#define INDEX_NMI 0x80 /* bit 7 of the index port disables NMIs; not a register bit */

#define UIP_NS 244000 /* UIP is set this long before each update (datasheet, 32 kHz base) */

struct rtc {
	pthread_mutex_t lock;
	struct rtc_config cfg;
	uint8_t index;
	bool nmi_disabled; /* recorded only: kiln injects no NMIs from here */
	uint8_t cmos[128];
	int64_t offset_s;    /* guest clock minus host clock, from guest writes */
	struct tm staged;    /* the frozen clock while B.SET is set */
	int64_t last_update; /* guest second seen by the last register C read */
};

static int64_t host_now(const struct rtc *r)
{
	return r->cfg.now ? (int64_t)r->cfg.now(r->cfg.ctx) : (int64_t)time(NULL);
}

static int64_t guest_now(const struct rtc *r)
{
	return host_now(r) + r->offset_s;
}

/* The broken-down guest time: frozen while SET, else the running clock. */
static void clock_get(const struct rtc *r, struct tm *tm)
{
	time_t t = (time_t)guest_now(r);

	if (r->cmos[REG_B] & B_SET) {
		*tm = r->staged;
		return;
	}
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
}

/* Make tm the guest's time from now on. Invalid dates are normalised by timegm. */
static void clock_set(struct rtc *r, struct tm *tm)
{
	time_t t;

	tm->tm_isdst = 0;
	t = timegm(tm);
	if (t != (time_t)-1)
		r->offset_s = (int64_t)t - host_now(r);
}

static uint8_t encode(const struct rtc *r, int v)
{
	unsigned u = v < 0 ? 0 : (unsigned)v; /* frozen fields are not normalised */

	if (r->cmos[REG_B] & B_DM)
		return (uint8_t)u;
	return (uint8_t)(((u / 10) % 10) << 4 | (u % 10));
}

/* Guest-written value to binary; malformed BCD gives an out-of-range number, which timegm
 * normalises. */
static int decode(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_DM)
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t hour_encode(const struct rtc *r, int h)
{
	int h12 = h % 12 ? h % 12 : 12;

	if (r->cmos[REG_B] & B_24H)
		return encode(r, h);
	return encode(r, h12) | (h >= 12 ? HOUR_PM : 0);
}

static int hour_decode(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return decode(r, v);
	return decode(r, v & ~HOUR_PM) % 12 + (v & HOUR_PM ? 12 : 0);
}

static bool is_clock_reg(uint8_t idx)
{
	return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR || idx == REG_WDAY ||
	       (idx >= REG_MDAY && idx <= REG_YEAR) || idx == REG_CENTURY;
}

static uint8_t clock_read(const struct rtc *r, uint8_t idx)
{
	struct tm tm;
	int year;

	clock_get(r, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case REG_SEC:
		return encode(r, tm.tm_sec);
	case REG_MIN:
		return encode(r, tm.tm_min);
	case REG_HOUR:
		return hour_encode(r, tm.tm_hour);
	case REG_WDAY:
		return encode(r, tm.tm_wday + 1);
	case REG_MDAY:
		return encode(r, tm.tm_mday);
	case REG_MON:
		return encode(r, tm.tm_mon + 1);
	case REG_YEAR:
		return encode(r, year % 100);
	default:
		return encode(r, year / 100);
	}
}

/* A write to a clock register moves the guest's clock (the weekday is derived, so writes
 * to it are ignored). While B.SET is set the change lands in the frozen copy. */
static void clock_write(struct rtc *r, uint8_t idx, uint8_t v)
{
	struct tm tm;
	int year;

	clock_get(r, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case REG_SEC:
		tm.tm_sec = decode(r, v);
		break;
	case REG_MIN:
		tm.tm_min = decode(r, v);
		break;
	case REG_HOUR:
		tm.tm_hour = hour_decode(r, v);
		break;
	case REG_MDAY:
		tm.tm_mday = decode(r, v);
		break;
	case REG_MON:
		tm.tm_mon = decode(r, v) - 1;
		break;
	case REG_YEAR:
		tm.tm_year = year / 100 * 100 + decode(r, v) - 1900;
		break;
	case REG_CENTURY:
		tm.tm_year = decode(r, v) * 100 + year % 100 - 1900;
		break;
	default:
		return;
	}
	if (r->cmos[REG_B] & B_SET)
		r->staged = tm;
	else
		clock_set(r, &tm);
}

/* UIP: set in the last 244 us before each second while the clock runs on the host's clock,
 * so a guest waiting for it to clear (or to rise and fall) finishes within a second. A test
 * clock (cfg->now) has no sub-second phase: UIP stays clear. */
static bool uip(const struct rtc *r)
{
	struct timespec ts;

	if (r->cfg.now || (r->cmos[REG_B] & B_SET) || (r->cmos[REG_A] & A_DV) != A_DV_32K)
		return false;
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return false;
	return ts.tv_nsec >= 1000000000L - UIP_NS;
}

/* Register C: flags since the last read, cleared by reading. Only UF (an update happened) is
 * produced, with IRQF when UIE allows; no interrupt is raised (the RTC has no line here). */
static uint8_t reg_c_read(struct rtc *r)
{
	int64_t now = guest_now(r);
	uint8_t flags = 0;

	if (!(r->cmos[REG_B] & B_SET) && now != r->last_update)
		flags |= C_UF;
	r->last_update = now;
	if (flags & r->cmos[REG_B] & B_IRQ_EN)
		flags |= C_IRQF;
	return flags;
}

static void reg_b_write(struct rtc *r, uint8_t v)
{
	uint8_t old = r->cmos[REG_B];

	if ((v & B_SET) && !(old & B_SET))
		clock_get(r, &r->staged); /* freeze before SET takes effect */
	r->cmos[REG_B] = v;
	if ((old & B_SET) && !(v & B_SET))
		clock_set(r, &r->staged);
}

static uint8_t data_read(struct rtc *r)
{
	uint8_t idx = r->index;

	if (is_clock_reg(idx))
		return clock_read(r, idx);
	switch (idx) {
	case REG_A:
		return (r->cmos[REG_A] & ~A_UIP) | (uip(r) ? A_UIP : 0);
	case REG_C:
		return reg_c_read(r);
	case REG_D:
		return D_VRT;
	default:
		return r->cmos[idx];
	}
}

static void data_write(struct rtc *r, uint8_t v)
{
	uint8_t idx = r->index;

	if (is_clock_reg(idx)) {
		clock_write(r, idx, v);
		return;
	}
	switch (idx) {
	case REG_A:
		r->cmos[REG_A] = v & ~A_UIP;
		break;
	case REG_B:
		reg_b_write(r, v);
		break;
	case REG_C:
	case REG_D:
		break; /* read-only */
	default:
		r->cmos[idx] = v;
		break;
	}
}

static uint64_t rtc_read(void *dev, uint64_t off, unsigned size)
{
	struct rtc *r = dev;
	uint8_t v = 0xff; /* the index port is write-only */

	(void)size;
	if (off != 1)
		return v;
	pthread_mutex_lock(&r->lock);
	v = data_read(r);
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void rtc_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct rtc *r = dev;

	(void)size;
	pthread_mutex_lock(&r->lock);
	if (off == 0) {
		r->index = val & ~INDEX_NMI & 0xff;
		r->nmi_disabled = val & INDEX_NMI;
	} else {
		data_write(r, (uint8_t)val);
	}
	pthread_mutex_unlock(&r->lock);
}

const struct io_ops rtc_io_ops = {
    .name = "rtc",
    .read = rtc_read,
    .write = rtc_write,
    .min_size = 1,
    .max_size = 1,
};

int rtc_create(const struct rtc_config *cfg, struct rtc **out)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->cfg = *cfg;
	r->cmos[REG_A] = A_RESET;
	r->cmos[REG_B] = B_RESET;
	r->cmos[REG_D] = D_VRT;
	r->last_update = guest_now(r);
	*out = r;
	return 0;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t val)
{
	if (index >= 128 || is_clock_reg(index) || (index >= REG_A && index <= REG_D))
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	r->cmos[index] = val;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* --- state --- */

static void tm_put(struct state_buf *b, const struct tm *tm)
{
	const int f[] = {tm->tm_sec,  tm->tm_min,  tm->tm_hour, tm->tm_mday, tm->tm_mon,
			 tm->tm_year, tm->tm_wday, tm->tm_yday, tm->tm_isdst};

	for (unsigned i = 0; i < 9; i++)
		state_put_u32(b, (uint32_t)f[i]);
}

static void tm_get(struct state_buf *b, struct tm *tm)
{
	int *f[] = {&tm->tm_sec,  &tm->tm_min,	&tm->tm_hour, &tm->tm_mday, &tm->tm_mon,
		    &tm->tm_year, &tm->tm_wday, &tm->tm_yday, &tm->tm_isdst};

	memset(tm, 0, sizeof(*tm));
	for (unsigned i = 0; i < 9; i++)
		*f[i] = (int)state_get_u32(b);
}

void rtc_save(struct rtc *r, struct state_buf *b)
{
	pthread_mutex_lock(&r->lock);
	state_put_u8(b, r->index);
	state_put_u8(b, r->nmi_disabled);
	state_put_bytes(b, r->cmos, sizeof(r->cmos));
	state_put_u64(b, (uint64_t)r->offset_s);
	tm_put(b, &r->staged);
	state_put_u64(b, (uint64_t)r->last_update);
	pthread_mutex_unlock(&r->lock);
}

int rtc_load(struct rtc *r, struct state_buf *b, uint16_t version)
{
	uint8_t index = state_get_u8(b), nmi = state_get_u8(b), cmos[128];
	struct tm staged;
	int64_t offset, last;
	const char *why = NULL;

	state_get_bytes(b, cmos, sizeof(cmos));
	offset = (int64_t)state_get_u64(b);
	tm_get(b, &staged);
	last = (int64_t)state_get_u64(b);
	if (version != RTC_STATE_VERSION)
		why = "unknown section version";
	else if (state_section_done(b))
		why = "section length wrong";
	else if (index >= 128 || nmi > 1)
		why = "index register out of range";
	else if ((cmos[REG_A] & A_UIP) || cmos[REG_C] || cmos[REG_D] != D_VRT)
		why = "registers A/C/D hold values the chip cannot";
	else if (offset > (int64_t)1 << 40 || offset < -((int64_t)1 << 40))
		why = "clock offset beyond 30000 years";
	if (why) {
		state_refuse(b, "rtc: %s", why);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	r->index = index;
	r->nmi_disabled = nmi;
	memcpy(r->cmos, cmos, sizeof(cmos));
	r->offset_s = offset;
	r->staged = staged;
	r->last_update = last;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* --- reset and the board entry --- */

void rtc_reset(struct rtc *r)
{
	pthread_mutex_lock(&r->lock);
	r->index = 0;
	r->nmi_disabled = false;
	r->cmos[REG_A] = A_RESET;
	r->cmos[REG_B] = B_RESET;
	r->cmos[REG_C] = 0;
	r->cmos[REG_D] = D_VRT;
	r->last_update = guest_now(r);
	pthread_mutex_unlock(&r->lock);
}

static int entry_save(void *obj, struct state_buf *b)
{
	rtc_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	return rtc_load(obj, b, version);
}

static void entry_reset(void *obj)
{
	rtc_reset(obj);
}

static void entry_destroy(void *obj)
{
	rtc_destroy(obj);
}

const struct device_ops rtc_device_ops = {
    .kind = "rtc",
    .save = entry_save,
    .load = entry_load,
    .reset = entry_reset,
    .destroy = entry_destroy,
};

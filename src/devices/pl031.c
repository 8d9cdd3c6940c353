/* pl031.c — the Arm PL031 RTC (ARM DDI 0224): a 32-bit seconds counter, a match register and one
 * interrupt, with the PrimeCell ID registers Linux's AMBA bus probes. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "devices/pl031.h"
#include "util/log.h"

enum {
	RTCDR = 0x00,	/* data: the counter (read-only) */
	RTCMR = 0x04,	/* match */
	RTCLR = 0x08,	/* load: sets the counter */
	RTCCR = 0x0c,	/* control: bit 0 start (always running here) */
	RTCIMSC = 0x10, /* interrupt mask set/clear */
	RTCRIS = 0x14,	/* raw interrupt status */
	RTCMIS = 0x18,	/* masked interrupt status */
	RTCICR = 0x1c,	/* interrupt clear (write-only) */
	ID_BASE = 0xfe0,
};

/* PeriphID0-3 (part 0x031, designer ARM, revision 1) and PCellID0-3. */
static const uint8_t pl031_id[8] = {0x31, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

struct pl031 {
	pthread_mutex_t lock;
	struct pl031_config cfg;
	int64_t offset_s; /* guest counter minus host clock */
	uint32_t mr, imsc, ris, cr;
};

static uint32_t counter(const struct pl031 *r)
{
	int64_t now = r->cfg.now ? (int64_t)r->cfg.now(r->cfg.ctx) : (int64_t)time(NULL);

	return (uint32_t)(now + r->offset_s);
}

/* Latch the match and drive the line from RTCMIS; lock held. */
static void update_irq(struct pl031 *r)
{
	if (r->imsc && counter(r) == r->mr)
		r->ris = 1;
	if (irq_line_set(&r->cfg.irq, (r->ris & r->imsc) ? 1 : 0) < 0)
		log_debug("pl031: interrupt line: failed");
}

int pl031_create(const struct pl031_config *cfg, struct pl031 **out)
{
	struct pl031 *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->cfg = *cfg;
	r->cr = 1;
	*out = r;
	return 0;
}

void pl031_destroy(struct pl031 *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static uint32_t reg_read(struct pl031 *r, uint64_t off)
{
	switch (off) {
	case RTCDR:
		return counter(r);
	case RTCMR:
		return r->mr;
	case RTCLR:
		return counter(r);
	case RTCCR:
		return r->cr;
	case RTCIMSC:
		return r->imsc;
	case RTCRIS:
		return r->ris;
	case RTCMIS:
		return r->ris & r->imsc;
	default:
		if (off >= ID_BASE && off < ID_BASE + 4 * sizeof(pl031_id) && off % 4 == 0)
			return pl031_id[(off - ID_BASE) / 4];
		return 0;
	}
}

static uint64_t io_read(void *dev, uint64_t off, unsigned size)
{
	struct pl031 *r = dev;
	uint32_t v;

	(void)size;
	pthread_mutex_lock(&r->lock);
	update_irq(r);
	v = reg_read(r, off);
	pthread_mutex_unlock(&r->lock);
	return v;
}

static void io_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct pl031 *r = dev;
	uint32_t v = (uint32_t)val;

	(void)size;
	pthread_mutex_lock(&r->lock);
	switch (off) {
	case RTCMR:
		r->mr = v;
		break;
	case RTCLR:
		r->offset_s += (int64_t)v - (int64_t)counter(r);
		break;
	case RTCCR:
		r->cr = 1; /* the counter cannot be stopped once started */
		break;
	case RTCIMSC:
		r->imsc = v & 1;
		break;
	case RTCICR:
		if (v & 1)
			r->ris = 0;
		break;
	default: /* read-only and reserved registers */
		break;
	}
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
}

const struct io_ops pl031_io_ops = {
    .name = "pl031", .read = io_read, .write = io_write, .min_size = 4, .max_size = 4};

/* --- the board entry --- */

static int entry_save(void *obj, struct state_buf *b)
{
	struct pl031 *r = obj;

	pthread_mutex_lock(&r->lock);
	state_put_u64(b, (uint64_t)r->offset_s);
	state_put_u32(b, r->mr);
	state_put_u32(b, r->imsc);
	state_put_u32(b, r->ris);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	struct pl031 *r = obj;
	int64_t offset = (int64_t)state_get_u64(b);
	uint32_t mr = state_get_u32(b), imsc = state_get_u32(b), ris = state_get_u32(b);

	if (version != PL031_STATE_VERSION || state_section_done(b) || imsc > 1 || ris > 1) {
		state_refuse(b, "pl031: bad section (version %u)", version);
		return -EINVAL;
	}
	pthread_mutex_lock(&r->lock);
	r->offset_s = offset;
	r->mr = mr;
	r->imsc = imsc;
	r->ris = ris;
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void entry_reset(void *obj)
{
	struct pl031 *r = obj;

	pthread_mutex_lock(&r->lock);
	r->mr = r->imsc = r->ris = 0;
	r->cr = 1;
	update_irq(r);
	pthread_mutex_unlock(&r->lock);
}

static void entry_destroy(void *obj)
{
	pl031_destroy(obj);
}

const struct device_ops pl031_device_ops = {
    .kind = "pl031",
    .save = entry_save,
    .load = entry_load,
    .reset = entry_reset,
    .destroy = entry_destroy,
};

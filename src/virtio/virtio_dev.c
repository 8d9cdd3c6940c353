/* virtio_dev.c — feature negotiation, the status state machine, queue activation and interrupts,
 * shared by every virtio device whatever its transport. */
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "util/log.h"

#include "virtio/virtio_dev.h"

/* Transport-independent features kiln implements for every device. */
#define TRANSPORT_FEATURES                                                                         \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |                    \
	 (1ULL << VIRTIO_RING_F_EVENT_IDX))

int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, void *dev,
		    const struct guest_mem *mem)
{
	if (!ops || ops->nr_queues == 0 || ops->nr_queues > VIRTIO_DEV_MAX_QUEUES ||
	    ops->queue_max == 0 || ops->queue_max > VIRTQ_SIZE_MAX ||
	    (ops->queue_max & (ops->queue_max - 1)) || !ops->features || !ops->config_read ||
	    !ops->activate || !ops->reset || !ops->notify)
		return -EINVAL;
	if (ops->state_name && (!ops->save || !ops->load || ops->state_min_version == 0 ||
				ops->state_min_version > ops->state_version))
		return -EINVAL;
	memset(vd, 0, sizeof(*vd));
	vd->ops = ops;
	vd->dev = dev;
	vd->mem = mem;
	vd->offered = (ops->features(dev) & ~TRANSPORT_FEATURES) | TRANSPORT_FEATURES;
	vd->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	pthread_mutex_init(&vd->lock, NULL);
	return 0;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&vd->vq[i]); /* frees the queues' dirty-tracking records */
	pthread_mutex_destroy(&vd->lock);
}

bool virtio_dev_live(const struct virtio_dev *vd)
{
	return !vd->quiesced && (vd->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vd->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned bit)
{
	return bit < 64 && (vd->features >> bit) & 1;
}

static void interrupt(struct virtio_dev *vd, uint32_t isr_bits, unsigned source)
{
	vd->isr |= isr_bits;
	vd->stats.interrupts++;
	if (vd->raise_irq)
		vd->raise_irq(vd->irq_ctx, source);
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	vd->ops->reset(vd->dev);
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&vd->vq[i]);
	vd->status = 0;
	vd->isr = 0;
	vd->driver_features = 0;
	vd->features = 0;
}

void virtio_dev_set_needs_reset(struct virtio_dev *vd, const char *why)
{
	vd->stats.needs_reset++;
	log_warn_ratelimited(&vd->rl, "%s: %s: device needs reset", vd->ops->name, why);
	if (vd->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vd->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* §2.1.2: if DRIVER_OK was set, the device MUST send a configuration change notification.
	 */
	if (vd->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_config_changed(vd);
}

/* FEATURES_OK: the driver may only accept what was offered, and VERSION_1 is required (kiln
 * has no legacy interface). Returns whether the driver's choice is acceptable. */
static bool features_acceptable(struct virtio_dev *vd)
{
	uint64_t f = vd->driver_features;

	return (f & ~vd->offered) == 0 && (f >> VIRTIO_F_VERSION_1) & 1;
}

static void driver_ok(struct virtio_dev *vd)
{
	/* Queues were activated one by one at QueueReady, after FEATURES_OK (§3.1.1). */
	if (vd->ops->activate(vd->dev) < 0)
		virtio_dev_set_needs_reset(vd, "activation failed");
}

void virtio_dev_write_status(struct virtio_dev *vd, uint32_t status)
{
	uint32_t added;

	if (status == 0) {
		virtio_dev_reset(vd);
		return;
	}
	/* §2.1.2: the driver MUST NOT clear a status bit; treat an attempt as a no-op for it. */
	added = status & ~vd->status;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !(vd->status & VIRTIO_STATUS_DRIVER_OK)) {
		if (!features_acceptable(vd))
			added &=
			    ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
		else
			vd->features = vd->driver_features;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    !((vd->status | added) & VIRTIO_STATUS_FEATURES_OK)) {
		added &= ~VIRTIO_STATUS_DRIVER_OK; /* DRIVER_OK before FEATURES_OK: refuse */
		vd->stats.bad_access++;
	}
	vd->status |= added & ~VIRTIO_STATUS_NEEDS_RESET; /* only the device sets NEEDS_RESET */
	if (added & VIRTIO_STATUS_DRIVER_OK)
		driver_ok(vd);
}

void virtio_dev_queue_ready(struct virtio_dev *vd, unsigned q)
{
	struct virtq *vq;

	if (q >= vd->ops->nr_queues) {
		vd->stats.bad_access++;
		return;
	}
	vq = &vd->vq[q];
	vq->indirect = virtio_dev_has_feature(vd, VIRTIO_RING_F_INDIRECT_DESC);
	vq->event_idx = virtio_dev_has_feature(vd, VIRTIO_RING_F_EVENT_IDX);
	if (virtq_activate(vq, vd->mem) < 0)
		virtio_dev_set_needs_reset(vd, "invalid queue configuration");
}

void virtio_dev_queue_reset(struct virtio_dev *vd, unsigned q)
{
	if (q >= vd->ops->nr_queues) {
		vd->stats.bad_access++;
		return;
	}
	if (vd->ops->queue_reset)
		vd->ops->queue_reset(vd->dev, q);
	virtq_reset(&vd->vq[q]);
}

void virtio_dev_notify(struct virtio_dev *vd, unsigned q)
{
	vd->stats.notifies++;
	if (q >= vd->ops->nr_queues || !vd->vq[q].active || !virtio_dev_live(vd))
		return;
	vd->ops->notify(vd->dev, q);
}

static void set_half(uint64_t *field, bool high, uint32_t v)
{
	*field =
	    high ? (*field & 0xffffffffULL) | ((uint64_t)v << 32) : (*field & ~0xffffffffULL) | v;
}

int virtio_dev_queue_set(struct virtio_dev *vd, unsigned q, enum virtq_field f, bool high,
			 uint32_t v)
{
	struct virtq *vq;

	if (q >= vd->ops->nr_queues)
		return -EINVAL;
	vq = &vd->vq[q];
	if (vq->active)
		return -EBUSY;
	switch (f) {
	case VIRTQ_FIELD_SIZE:
		vq->size = v > vd->ops->queue_max ? 0 : (uint16_t)v;
		break;
	case VIRTQ_FIELD_DESC:
		set_half(&vq->desc_gpa, high, v);
		break;
	case VIRTQ_FIELD_DRIVER:
		set_half(&vq->avail_gpa, high, v);
		break;
	default:
		set_half(&vq->used_gpa, high, v);
		break;
	}
	return 0;
}

int virtio_dev_driver_features(struct virtio_dev *vd, uint32_t sel, uint32_t v)
{
	if (sel >= 2 || (vd->status & VIRTIO_STATUS_FEATURES_OK))
		return -EINVAL;
	set_half(&vd->driver_features, sel == 1, v);
	return 0;
}

void virtio_dev_notify_fd(struct virtio_dev *vd, const int *fds, unsigned nr, int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	for (unsigned q = 0; q < nr; q++) {
		if (fds[q] != fd)
			continue;
		pthread_mutex_lock(&vd->lock);
		virtio_dev_notify(vd, q);
		pthread_mutex_unlock(&vd->lock);
	}
}

void virtio_dev_used(struct virtio_dev *vd, unsigned q)
{
	if (q < vd->ops->nr_queues && virtq_should_interrupt(&vd->vq[q]))
		interrupt(vd, VIRTIO_ISR_USED, q);
}

void virtio_dev_config_changed(struct virtio_dev *vd)
{
	vd->config_generation++;
	vd->stats.config_changes++;
	interrupt(vd, VIRTIO_ISR_CONFIG, VIRTIO_IRQ_CONFIG);
}

/* A chain `ok` refused: back to the driver empty. false if the used ring could not take it. */
static bool refuse(struct virtio_dev *vd, unsigned q, const struct virtq_chain *c,
		   uint64_t *refused)
{
	if (refused)
		(*refused)++;
	log_warn_ratelimited(&vd->rl, "%s: queue %u: a chain with buffers going the wrong way",
			     vd->ops->name, q);
	if (virtq_push(&vd->vq[q], c->head, 0) == 0)
		return true;
	virtio_dev_set_needs_reset(vd, "used ring update failed");
	return false;
}

int virtio_dev_take(struct virtio_dev *vd, unsigned q, struct virtq_chain *c, virtio_chain_ok_fn ok,
		    uint64_t *refused, bool *used)
{
	struct virtq *vq = &vd->vq[q];
	int ret;

	for (;;) {
		ret = virtq_pop(vq, c);
		if (ret == -ENOENT && virtq_enable_notify(vq))
			continue;
		if (ret == -ENOENT)
			return 0;
		if (ret < 0) {
			virtio_dev_set_needs_reset(vd, "malformed descriptor chain");
			return -EIO;
		}
		if (!ok || ok(c, q))
			return 1;
		if (!refuse(vd, q, c, refused))
			return -EIO;
		*used = true;
	}
}

static const struct device_counter common_counters[] = {
    DEVICE_COUNTER(struct virtio_dev_stats, notifies),
    DEVICE_COUNTER(struct virtio_dev_stats, interrupts),
    DEVICE_COUNTER(struct virtio_dev_stats, needs_reset),
    DEVICE_COUNTER(struct virtio_dev_stats, bad_access),
};

void virtio_dev_report_stats(struct virtio_dev *vd, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_dev_stats s;

	pthread_mutex_lock(&vd->lock);
	s = vd->stats;
	pthread_mutex_unlock(&vd->lock);
	device_report_counters(DEVICE_COUNTERS(common_counters), &s, name, fn, ctx);
}

/* --- the board entry --- */

static int entry_save(void *obj, struct state_buf *b)
{
	struct virtio_dev *vd = obj;

	return vd->ops->save(vd->dev, b);
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	struct virtio_dev *vd = obj;

	return vd->ops->load(vd->dev, b, version);
}

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_dev *vd = obj;

	if (vd->ops->stats)
		vd->ops->stats(vd->dev, name, fn, ctx);
}

static void entry_reset(void *obj)
{
	struct virtio_dev *vd = obj;

	pthread_mutex_lock(&vd->lock);
	virtio_dev_reset(vd);
	pthread_mutex_unlock(&vd->lock);
}

static int entry_drain(void *obj, int timeout_ms)
{
	struct virtio_dev *vd = obj;

	return vd->ops->drain ? vd->ops->drain(vd->dev, timeout_ms) : 0;
}

static void entry_restored(void *obj)
{
	struct virtio_dev *vd = obj;

	pthread_mutex_lock(&vd->lock);
	virtio_dev_restored(vd);
	pthread_mutex_unlock(&vd->lock);
}

/* Resuming looks at every queue: what the driver posted and the backend received meanwhile. */
static void entry_quiesce(void *obj, bool on)
{
	struct virtio_dev *vd = obj;

	pthread_mutex_lock(&vd->lock);
	vd->quiesced = on;
	for (unsigned q = 0; !on && virtio_dev_live(vd) && q < vd->ops->nr_queues; q++)
		virtio_dev_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}

static void entry_destroy(void *obj)
{
	struct virtio_dev *vd = obj;

	if (vd->ops->destroy)
		vd->ops->destroy(vd->dev);
}

const struct device_ops virtio_device_ops = {
    .kind = "virtio",
    .save = entry_save,
    .load = entry_load,
    .stats = entry_stats,
    .reset = entry_reset,
    .drain = entry_drain,
    .quiesce = entry_quiesce,
    .restored = entry_restored,
    .destroy = entry_destroy,
};

/* --- state --- */

#define STATUS_KNOWN                                                                               \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK |              \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

void virtio_dev_save(const struct virtio_dev *vd, struct state_buf *b)
{
	state_put_u32(b, vd->ops->device_id);
	state_put_u64(b, vd->offered);
	state_put_u64(b, vd->driver_features);
	state_put_u64(b, vd->features);
	state_put_u32(b, vd->status);
	state_put_u32(b, vd->isr);
	state_put_u32(b, vd->config_generation);
	state_put_u8(b, (uint8_t)vd->ops->nr_queues);
	for (unsigned i = 0; i < vd->ops->nr_queues; i++)
		virtq_save(&vd->vq[i], b);
}

static int dev_fail(struct virtio_dev *vd, struct state_buf *b, const char *name, const char *why)
{
	for (unsigned i = 0; i < VIRTIO_DEV_MAX_QUEUES; i++)
		virtq_reset(&vd->vq[i]);
	return state_refuse(b, "%s (%s): %s", name, vd->ops->name, why);
}

static const char *dev_check(const struct virtio_dev *vd, uint32_t id, uint64_t offered,
			     uint64_t features, uint32_t status, uint32_t isr, unsigned nq)
{
	if (id != vd->ops->device_id)
		return "saved from a different kind of device";
	if (offered != vd->offered)
		return "this device offers different features (another disk mode?)";
	if (features & ~offered)
		return "negotiated features outside the offer";
	if (status & ~STATUS_KNOWN)
		return "unknown status bits";
	if (isr & ~(VIRTIO_ISR_USED | VIRTIO_ISR_CONFIG))
		return "unknown interrupt status bits";
	if (nq != vd->ops->nr_queues)
		return "another number of queues";
	return NULL;
}

int virtio_dev_load(struct virtio_dev *vd, struct state_buf *b, const char *name)
{
	uint32_t id = state_get_u32(b);
	uint64_t offered = state_get_u64(b), drv = state_get_u64(b), features = state_get_u64(b);
	uint32_t status = state_get_u32(b), isr = state_get_u32(b), gen = state_get_u32(b);
	unsigned nq = state_get_u8(b);
	const char *why = b->overflow ? "section truncated"
				      : dev_check(vd, id, offered, features, status, isr, nq);

	if (why)
		return dev_fail(vd, b, name, why);
	for (unsigned i = 0; i < nq; i++)
		if (virtq_load(&vd->vq[i], vd->mem, vd->ops->queue_max, b, &why) < 0)
			return dev_fail(vd, b, name, why);
	vd->driver_features = drv;
	vd->features = features;
	vd->status = status;
	vd->isr = isr;
	vd->config_generation = gen;
	return 0;
}

int virtio_dev_load_end(struct virtio_dev *vd, struct state_buf *b, const char *name)
{
	int ret = virtio_dev_load(vd, b, name);

	if (ret == 0 && state_section_done(b)) {
		state_refuse(b, "%s: section length wrong", name);
		ret = -EINVAL;
	}
	return ret;
}

void virtio_dev_restored(struct virtio_dev *vd)
{
	if (!virtio_dev_live(vd))
		return;
	driver_ok(vd);
	for (unsigned q = 0; q < vd->ops->nr_queues; q++)
		virtio_dev_notify(vd, q);
}

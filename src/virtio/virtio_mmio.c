/* virtio_mmio.c — virtio-mmio version 2 registers (virtio 1.2 §4.2.2), ioeventfd notifications
 * and irqfd interrupts. Register accesses arrive on vCPU threads; everything takes vd->lock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hv/kvm.h"
#include "virtio/virtio_mmio.h"

/* Register offsets (§4.2.2, table "MMIO Device Register Layout"). */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_SHM_SEL = 0x0ac,
	REG_SHM_LEN_LOW = 0x0b0,
	REG_SHM_LEN_HIGH = 0x0b4,
	REG_SHM_BASE_LOW = 0x0b8,
	REG_SHM_BASE_HIGH = 0x0bc,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

static void bad_access(struct virtio_mmio *t, const char *what, uint64_t off)
{
	t->vd->stats.bad_access++;
	log_warn_ratelimited(&t->rl, "%s: virtio-mmio: %s at offset %#llx", t->vd->ops->name, what,
			     (unsigned long long)off);
}

/* The queue QueueSel points at, or NULL (counted) if it does not exist. */
static struct virtq *selected_queue(struct virtio_mmio *t, uint64_t off)
{
	if (t->queue_sel >= t->vd->ops->nr_queues) {
		bad_access(t, "queue register with QueueSel out of range", off);
		return NULL;
	}
	return &t->vd->vq[t->queue_sel];
}

static uint32_t read_queue_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = t->queue_sel < t->vd->ops->nr_queues ? &t->vd->vq[t->queue_sel] : NULL;

	if (off == REG_QUEUE_NUM_MAX) /* §4.2.2: 0 means the queue is not available */
		return q ? t->vd->ops->queue_max : 0;
	return q && q->active; /* REG_QUEUE_READY */
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtio_dev *vd = t->vd;

	switch (off) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID:
		return vd->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		return t->dev_features_sel < 2
			   ? (uint32_t)(vd->offered >> (32 * t->dev_features_sel))
			   : 0;
	case REG_QUEUE_NUM_MAX:
	case REG_QUEUE_READY:
		return read_queue_reg(t, off);
	case REG_INTERRUPT_STATUS: /* a vhost-user backend's interrupts are not seen by kiln */
		return vd->isr | (vd->ops->external_queues ? VIRTIO_ISR_USED : 0);
	case REG_STATUS:
		return vd->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
	case REG_SHM_BASE_LOW:
	case REG_SHM_BASE_HIGH:
		return 0xffffffff; /* §4.2.2: no shared memory regions */
	case REG_CONFIG_GENERATION:
		return vd->config_generation;
	default:
		bad_access(t, "read of a write-only or reserved register", off);
		return 0;
	}
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = selected_queue(t, off);
	enum virtq_field f;

	if (!q)
		return;
	if (off == REG_QUEUE_READY) {
		if (v == 1 && !q->active)
			virtio_dev_queue_ready(t->vd, t->queue_sel);
		else if (v == 0)
			virtio_dev_queue_reset(t->vd, t->queue_sel);
		return;
	}
	f = off == REG_QUEUE_NUM	   ? VIRTQ_FIELD_SIZE
	    : off <= REG_QUEUE_DESC_HIGH   ? VIRTQ_FIELD_DESC
	    : off <= REG_QUEUE_DRIVER_HIGH ? VIRTQ_FIELD_DRIVER
					   : VIRTQ_FIELD_DEVICE;
	/* §4.2.2.3: not while the queue is ready; the high halves are at +4 */
	if (virtio_dev_queue_set(t->vd, t->queue_sel, f, off != REG_QUEUE_NUM && (off & 4), v) < 0)
		bad_access(t, "queue reconfigured while ready", off);
}

static void write_driver_features(struct virtio_mmio *t, uint32_t v)
{
	if (virtio_dev_driver_features(t->vd, t->drv_features_sel, v) < 0)
		bad_access(t, "driver features written out of range or after FEATURES_OK",
			   REG_DRIVER_FEATURES);
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		t->dev_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		write_driver_features(t, v);
		break;
	case REG_DRIVER_FEATURES_SEL:
		t->drv_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
	case REG_QUEUE_READY:
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		write_queue_reg(t, off, v);
		break;
	case REG_QUEUE_NOTIFY:
		virtio_dev_notify(t->vd, v);
		break; /* no ioeventfd took it */
	case REG_INTERRUPT_ACK:
		t->vd->isr &= ~v;
		break;
	case REG_STATUS:
		virtio_dev_write_status(t->vd, v);
		break;
	case REG_SHM_SEL:
		break;
	default:
		bad_access(t, "write to a read-only or reserved register", off);
		break;
	}
}

static uint64_t regs_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_mmio *t = dev;
	uint32_t v;

	(void)size; /* the bus only lets 4-byte accesses through */
	pthread_mutex_lock(&t->vd->lock);
	v = (off & 3) ? (bad_access(t, "misaligned register read", off), 0) : read_reg(t, off);
	pthread_mutex_unlock(&t->vd->lock);
	return v;
}

static void regs_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct virtio_mmio *t = dev;

	(void)size;
	pthread_mutex_lock(&t->vd->lock);
	if (off & 3)
		bad_access(t, "misaligned register write", off);
	else
		write_reg(t, off, (uint32_t)val);
	pthread_mutex_unlock(&t->vd->lock);
}

/* Configuration space: any width up to 4 bytes inside config_len (§4.2.2.2). */
static uint64_t config_read(void *dev, uint64_t off, unsigned size)
{
	struct virtio_mmio *t = dev;
	uint32_t v = 0;

	pthread_mutex_lock(&t->vd->lock);
	if (off + size <= t->vd->ops->config_len)
		t->vd->ops->config_read(t->vd->dev, (uint32_t)off, &v, size);
	else
		bad_access(t, "configuration read past its end", REG_CONFIG + off);
	pthread_mutex_unlock(&t->vd->lock);
	return v;
}

static void config_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct virtio_mmio *t = dev;
	uint32_t v = (uint32_t)val;

	pthread_mutex_lock(&t->vd->lock);
	if (off + size > t->vd->ops->config_len || !t->vd->ops->config_write)
		bad_access(t, "configuration write refused", REG_CONFIG + off);
	else
		t->vd->ops->config_write(t->vd->dev, (uint32_t)off, &v, size);
	pthread_mutex_unlock(&t->vd->lock);
}

static const struct io_ops regs_ops = {
    .name = "virtio-mmio",
    .read = regs_read,
    .write = regs_write,
    .min_size = 4,
    .max_size = 4,
};

static const struct io_ops config_ops = {
    .name = "virtio-mmio-config",
    .read = config_read,
    .write = config_write,
    .min_size = 1,
    .max_size = 4,
};

/* One interrupt line for every source: the driver reads InterruptStatus. */
static void raise_irq(void *ctx, unsigned source)
{
	struct virtio_mmio *t = ctx;
	uint64_t one = 1;

	(void)source;
	if (write(t->irq_fd, &one, sizeof(one)) < 0)
		log_warn_ratelimited(&t->rl, "%s: irqfd write failed", t->vd->ops->name);
}

/* The one line serves every queue: its irqfd's eventfd (-1 without KVM). */
static int queue_call_fd(void *ctx, unsigned q)
{
	struct virtio_mmio *t = ctx;

	(void)q;
	return t->irq_fd;
}

/* The ioeventfd of queue q fired (main loop). */
static void on_notify(void *ctx, int fd, uint32_t events)
{
	struct virtio_mmio *t = ctx;

	(void)events;
	virtio_dev_notify_fd(t->vd, t->notify_fd, t->vd->ops->nr_queues, fd);
}

static int hook_kvm(struct virtio_mmio *t)
{
	int ret;

	t->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->irq_fd < 0)
		return -errno;
	ret = kvm_irqfd(t->cfg.vm_fd, t->irq_fd, t->cfg.gsi, false);
	if (ret < 0)
		return ret;
	t->vd->raise_irq = raise_irq;
	t->vd->queue_call_fd = queue_call_fd;
	t->vd->irq_ctx = t;
	if (!t->cfg.loop)
		return 0;
	for (unsigned q = 0; q < t->vd->ops->nr_queues; q++) {
		int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

		if (fd < 0)
			return -errno;
		t->notify_fd[q] = fd;
		ret = kvm_ioeventfd(t->cfg.vm_fd, t->cfg.base + REG_QUEUE_NOTIFY, 4, q, fd, false);
		if (ret == 0 && !t->vd->ops->external_queues)
			ret = event_loop_add(t->cfg.loop, fd, EPOLLIN, on_notify, t);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int virtio_mmio_create(struct virtio_dev *vd, const struct virtio_mmio_config *cfg,
		       struct virtio_mmio **out)
{
	struct virtio_mmio *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->vd = vd;
	t->cfg = *cfg;
	snprintf(t->name, sizeof(t->name), "%s", cfg->name ? cfg->name : "virtio");
	t->cfg.name = t->name;
	t->irq_fd = -1;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++)
		t->notify_fd[q] = -1;
	ret = io_bus_register(cfg->mmio, cfg->base, REG_CONFIG, &regs_ops, t);
	if (ret == 0)
		ret = io_bus_register(cfg->mmio, cfg->base + REG_CONFIG,
				      VIRTIO_MMIO_WINDOW - REG_CONFIG, &config_ops, t);
	if (ret == 0 && cfg->vm_fd >= 0)
		ret = hook_kvm(t);
	if (ret == 0 && vd->ops->external_queues)
		vd->ops->external_queues(vd->dev, t->notify_fd, vd->ops->nr_queues);
	if (ret < 0) {
		virtio_mmio_destroy(t);
		return ret;
	}
	*out = t;
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	if (!t)
		return;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		if (t->notify_fd[q] < 0)
			continue;
		if (t->cfg.loop)
			event_loop_del(t->cfg.loop, t->notify_fd[q]);
		if (kvm_ioeventfd(t->cfg.vm_fd, t->cfg.base + REG_QUEUE_NOTIFY, 4, q,
				  t->notify_fd[q], true) < 0)
			log_debug("ioeventfd %u: deassign failed", q);
		close(t->notify_fd[q]);
	}
	if (t->irq_fd >= 0) {
		if (kvm_irqfd(t->cfg.vm_fd, t->irq_fd, t->cfg.gsi, true) < 0)
			log_debug("irqfd: deassign failed");
		close(t->irq_fd);
	}
	free(t);
}

int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len)
{
	int n = snprintf(buf, len, "virtio_mmio.device=%u@%#llx:%u", VIRTIO_MMIO_WINDOW,
			 (unsigned long long)t->cfg.base, t->cfg.gsi);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* --- state --- */

void virtio_mmio_save(struct virtio_mmio *t, struct state_buf *b)
{
	pthread_mutex_lock(&t->vd->lock);
	state_put_u32(b, t->dev_features_sel);
	state_put_u32(b, t->drv_features_sel);
	state_put_u32(b, t->queue_sel);
	virtio_dev_save(t->vd, b);
	pthread_mutex_unlock(&t->vd->lock);
}

int virtio_mmio_load(struct virtio_mmio *t, struct state_buf *b, uint16_t version, const char *name)
{
	uint32_t dsel = state_get_u32(b), drsel = state_get_u32(b), qsel = state_get_u32(b);
	int ret;

	if (version != VIRTIO_MMIO_STATE_VERSION) {
		state_refuse(b, "%s: section version %u, kiln reads %u", name, version,
			     VIRTIO_MMIO_STATE_VERSION);
		return -EINVAL;
	}
	pthread_mutex_lock(&t->vd->lock);
	ret = virtio_dev_load_end(t->vd, b, name);
	if (ret == 0) { /* any value is one the driver could have written */
		t->dev_features_sel = dsel;
		t->drv_features_sel = drsel;
		t->queue_sel = qsel;
	}
	pthread_mutex_unlock(&t->vd->lock);
	return ret;
}

/* --- the board entry --- */

static int entry_save(void *obj, struct state_buf *b)
{
	virtio_mmio_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	struct virtio_mmio *t = obj;

	return virtio_mmio_load(t, b, version, t->name);
}

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_mmio *t = obj;

	virtio_dev_report_stats(t->vd, name, fn, ctx);
}

static void entry_destroy(void *obj)
{
	virtio_mmio_destroy(obj);
}

const struct device_ops virtio_mmio_device_ops = {
    .kind = "virtio-mmio",
    .save = entry_save,
    .load = entry_load,
    .stats = entry_stats,
    .destroy = entry_destroy,
};

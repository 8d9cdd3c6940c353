/* virtio_pci.c — the modern virtio-pci transport (virtio 1.2 §4.1; see virtio_pci.h). BAR and
 * configuration accesses arrive on vCPU threads; the device's state is under vd->lock, taken
 * after the bus's lock where both are held (configuration writes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/vm.h"
#include "hv/kvm.h"
#include "virtio/virtio_pci.h"

/* The common configuration structure (§4.1.4.3), offsets in its region. */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10,
	CC_NUM_QUEUES = 0x12,
	CC_STATUS = 0x14,
	CC_CFG_GENERATION = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX_VECTOR = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESC_LO = 0x20,
	CC_Q_DESC_HI = 0x24,
	CC_Q_AVAIL_LO = 0x28,
	CC_Q_AVAIL_HI = 0x2c,
	CC_Q_USED_LO = 0x30,
	CC_Q_USED_HI = 0x34,
	CC_Q_NOTIFY_DATA = 0x38,
	CC_Q_RESET = 0x3a,
	CC_LEN = 0x3c,
};

/* The width of the common configuration field at off (0: none starts there). */
static unsigned cc_width(uint32_t off)
{
	switch (off) {
	case CC_STATUS:
	case CC_CFG_GENERATION:
		return 1;
	case CC_MSIX_CONFIG:
	case CC_NUM_QUEUES:
	case CC_Q_SELECT:
	case CC_Q_SIZE:
	case CC_Q_MSIX_VECTOR:
	case CC_Q_ENABLE:
	case CC_Q_NOFF:
	case CC_Q_NOTIFY_DATA:
	case CC_Q_RESET:
		return 2;
	default:
		return off < CC_LEN && off % 4 == 0 ? 4 : 0;
	}
}

static void bad_access(struct virtio_pci *t, const char *what, uint64_t off)
{
	t->vd->stats.bad_access++;
	log_warn_ratelimited(&t->rl, "%s: virtio-pci: %s at BAR offset %#llx", t->vd->ops->name,
			     what, (unsigned long long)off);
}

static struct virtq *sel_queue(struct virtio_pci *t)
{
	return t->queue_sel < t->vd->ops->nr_queues ? &t->vd->vq[t->queue_sel] : NULL;
}

static uint32_t cc_queue_read(struct virtio_pci *t, uint32_t off)
{
	struct virtq *q = sel_queue(t);

	if (!q) /* §4.1.4.3.2: queue_size 0 for a queue that does not exist */
		return 0;
	switch (off) {
	case CC_Q_SIZE: /* §4.1.4.3: the maximum until the driver writes a size */
		return q->size ? q->size : t->vd->ops->queue_max;
	case CC_Q_MSIX_VECTOR:
		return t->queue_vector[t->queue_sel];
	case CC_Q_ENABLE:
		return q->active;
	case CC_Q_NOFF:
		return t->queue_sel;
	case CC_Q_DESC_LO:
	case CC_Q_DESC_HI:
		return (uint32_t)(q->desc_gpa >> (off == CC_Q_DESC_HI ? 32 : 0));
	case CC_Q_AVAIL_LO:
	case CC_Q_AVAIL_HI:
		return (uint32_t)(q->avail_gpa >> (off == CC_Q_AVAIL_HI ? 32 : 0));
	case CC_Q_USED_LO:
	case CC_Q_USED_HI:
		return (uint32_t)(q->used_gpa >> (off == CC_Q_USED_HI ? 32 : 0));
	default: /* notify data, reset: not offered */
		return 0;
	}
}

static uint32_t cc_read(struct virtio_pci *t, uint32_t off)
{
	struct virtio_dev *vd = t->vd;

	switch (off) {
	case CC_DFSELECT:
		return t->dev_features_sel;
	case CC_DF:
		return t->dev_features_sel < 2
			   ? (uint32_t)(vd->offered >> (32 * t->dev_features_sel))
			   : 0;
	case CC_GFSELECT:
		return t->drv_features_sel;
	case CC_GF:
		return t->drv_features_sel < 2
			   ? (uint32_t)(vd->driver_features >> (32 * t->drv_features_sel))
			   : 0;
	case CC_MSIX_CONFIG:
		return t->config_vector;
	case CC_NUM_QUEUES:
		return vd->ops->nr_queues;
	case CC_STATUS:
		return vd->status;
	case CC_CFG_GENERATION:
		return (uint8_t)vd->config_generation;
	case CC_Q_SELECT:
		return t->queue_sel;
	default:
		return cc_queue_read(t, off);
	}
}

/* A vector the driver may use, or NO_VECTOR (what the device then reads back, §4.1.4.3). */
static uint16_t vector_ok(const struct virtio_pci *t, uint32_t v)
{
	return v < t->nr_vecs ? (uint16_t)v : VIRTIO_PCI_NO_VECTOR;
}

static void cc_queue_write(struct virtio_pci *t, uint32_t off, uint32_t v)
{
	struct virtq *q = sel_queue(t);
	enum virtq_field f;

	if (!q) {
		bad_access(t, "queue field with queue_select out of range", off);
		return;
	}
	if (off == CC_Q_ENABLE) {
		if (v == 1 && !q->active && !q->size)
			q->size = t->vd->ops->queue_max; /* the size it read */
		if (v == 1 && !q->active)
			virtio_dev_queue_ready(t->vd, t->queue_sel);
		return; /* §4.1.4.3.2: the driver MUST NOT write 0 */
	}
	if (off == CC_Q_MSIX_VECTOR) {
		t->queue_vector[t->queue_sel] = vector_ok(t, v);
		return;
	}
	if (off == CC_Q_NOFF || off >= CC_Q_NOTIFY_DATA) {
		bad_access(t, "write to a read-only field", off);
		return;
	}
	f = off == CC_Q_SIZE	   ? VIRTQ_FIELD_SIZE
	    : off <= CC_Q_DESC_HI  ? VIRTQ_FIELD_DESC
	    : off <= CC_Q_AVAIL_HI ? VIRTQ_FIELD_DRIVER
				   : VIRTQ_FIELD_DEVICE;
	/* each address's high half is its second dword */
	if (virtio_dev_queue_set(t->vd, t->queue_sel, f, off != CC_Q_SIZE && (off & 4), v) < 0)
		bad_access(t, "queue reconfigured while enabled", off);
}

/* The driver reset the device: the transport's own fields go back too (§4.1.4.3.1). */
static void transport_reset(struct virtio_pci *t)
{
	t->dev_features_sel = t->drv_features_sel = 0;
	t->queue_sel = 0;
	t->config_vector = VIRTIO_PCI_NO_VECTOR;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++)
		t->queue_vector[q] = VIRTIO_PCI_NO_VECTOR;
}

static void cc_write(struct virtio_pci *t, uint32_t off, uint32_t v)
{
	struct virtio_dev *vd = t->vd;

	switch (off) {
	case CC_DFSELECT:
		t->dev_features_sel = v;
		break;
	case CC_GFSELECT:
		t->drv_features_sel = v;
		break;
	case CC_GF:
		if (virtio_dev_driver_features(vd, t->drv_features_sel, v) < 0)
			bad_access(t, "driver features written out of range or after FEATURES_OK",
				   off);
		break;
	case CC_MSIX_CONFIG:
		t->config_vector = vector_ok(t, v);
		break;
	case CC_STATUS:
		virtio_dev_write_status(vd, v);
		if (vd->status == 0)
			transport_reset(t);
		break;
	case CC_Q_SELECT:
		t->queue_sel = (uint16_t)v;
		break;
	case CC_DF:
	case CC_NUM_QUEUES:
	case CC_CFG_GENERATION:
		bad_access(t, "write to a read-only field", off);
		break;
	default:
		cc_queue_write(t, off, v);
		break;
	}
}

/* --- the BAR --- */

static uint64_t region_read(struct virtio_pci *t, uint64_t off, unsigned size)
{
	struct virtio_dev *vd = t->vd;
	uint32_t v = 0;

	if (off < VIRTIO_PCI_COMMON + CC_LEN) {
		if (cc_width((uint32_t)off) == size)
			return cc_read(t, (uint32_t)off);
		bad_access(t, "common configuration read of a wrong width", off);
	} else if (off == VIRTIO_PCI_ISR && size == 1) {
		v = vd->isr; /* §4.1.4.5: reading clears it */
		vd->isr = 0;
		return v;
	} else if (off >= VIRTIO_PCI_DEVICE_CFG && size <= 4 &&
		   off - VIRTIO_PCI_DEVICE_CFG + size <= vd->ops->config_len) {
		vd->ops->config_read(vd->dev, (uint32_t)(off - VIRTIO_PCI_DEVICE_CFG), &v, size);
		return v;
	} else {
		bad_access(t, "read outside the registers", off);
	}
	return 0;
}

static void region_write(struct virtio_pci *t, uint64_t off, uint64_t val, unsigned size)
{
	struct virtio_dev *vd = t->vd;
	uint32_t v = (uint32_t)val;
	uint64_t nq = vd->ops->nr_queues;

	if (off < VIRTIO_PCI_COMMON + CC_LEN) {
		if (cc_width((uint32_t)off) == size)
			cc_write(t, (uint32_t)off, v);
		else
			bad_access(t, "common configuration write of a wrong width", off);
	} else if (off >= VIRTIO_PCI_NOTIFY &&
		   off < VIRTIO_PCI_NOTIFY + nq * VIRTIO_PCI_NOTIFY_MULT &&
		   off % VIRTIO_PCI_NOTIFY_MULT == 0 && size == 2) {
		/* no ioeventfd took it: the queue is the address's */
		virtio_dev_notify(vd,
				  (unsigned)((off - VIRTIO_PCI_NOTIFY) / VIRTIO_PCI_NOTIFY_MULT));
	} else if (off >= VIRTIO_PCI_DEVICE_CFG && size <= 4 &&
		   off - VIRTIO_PCI_DEVICE_CFG + size <= vd->ops->config_len &&
		   vd->ops->config_write) {
		vd->ops->config_write(vd->dev, (uint32_t)(off - VIRTIO_PCI_DEVICE_CFG), &v, size);
	} else {
		bad_access(t, "write outside the registers", off);
	}
}

static uint64_t bar_read(void *obj, unsigned bar, uint64_t off, unsigned size)
{
	struct virtio_pci *t = obj;
	uint64_t v;

	(void)bar; /* the function has one */
	pthread_mutex_lock(&t->vd->lock);
	if (!msix_bar_read(&t->msix, off, size, &v))
		v = region_read(t, off, size);
	pthread_mutex_unlock(&t->vd->lock);
	return v;
}

static void bar_write(void *obj, unsigned bar, uint64_t off, uint64_t val, unsigned size)
{
	struct virtio_pci *t = obj;

	(void)bar;
	pthread_mutex_lock(&t->vd->lock);
	if (!msix_bar_write(&t->msix, off, size, val))
		region_write(t, off, val, size);
	pthread_mutex_unlock(&t->vd->lock);
}

/* --- notifications: ioeventfds follow the BAR --- */

static void notify_unhook(struct virtio_pci *t)
{
	for (unsigned q = 0; t->notify_base && q < t->vd->ops->nr_queues; q++)
		if (kvm_ioeventfd(t->cfg.vm_fd, t->notify_base + VIRTIO_PCI_NOTIFY_MULT * q, 2, q,
				  t->notify_fd[q], true) < 0)
			log_debug("%s: ioeventfd %u: deassign failed", t->name, q);
	t->notify_base = 0;
}

/* Register the ioeventfds where the BAR decodes now: none while it does not, or while the guest
 * has put it outside the bus's window (over RAM or another device, which it must not reach). */
static void notify_follow(struct virtio_pci *t)
{
	uint64_t bar = pci_cfg_bar_addr(&t->pci, VIRTIO_PCI_BAR);
	uint64_t base = bar + VIRTIO_PCI_NOTIFY;

	if (t->cfg.vm_fd < 0 || t->notify_fd[0] < 0)
		return;
	if (!pci_cfg_bar_active(&t->pci, VIRTIO_PCI_BAR) ||
	    !pci_bus_window_holds(t->cfg.bus, PCI_BAR_MEM32, bar, VIRTIO_PCI_BAR_SIZE))
		base = 0;
	if (base == t->notify_base)
		return;
	notify_unhook(t);
	for (unsigned q = 0; base && q < t->vd->ops->nr_queues; q++) {
		if (kvm_ioeventfd(t->cfg.vm_fd, base + VIRTIO_PCI_NOTIFY_MULT * q, 2, q,
				  t->notify_fd[q], false) < 0) {
			log_warn("%s: ioeventfd at %#llx: notifications exit to kiln instead",
				 t->name, (unsigned long long)base);
			for (unsigned r = 0; r < q; r++) /* all or none */
				if (kvm_ioeventfd(t->cfg.vm_fd, base + VIRTIO_PCI_NOTIFY_MULT * r,
						  2, r, t->notify_fd[r], true) < 0)
					log_debug("%s: ioeventfd %u: deassign failed", t->name, r);
			return;
		}
	}
	t->notify_base = base;
}

/* The ioeventfd of a queue fired (main loop). */
static void on_notify(void *ctx, int fd, uint32_t events)
{
	struct virtio_pci *t = ctx;

	(void)events;
	virtio_dev_notify_fd(t->vd, t->notify_fd, t->vd->ops->nr_queues, fd);
}

/* --- configuration space --- */

/* The PCI configuration access capability (§4.1.4.9): cap.bar, cap.offset, cap.length, then
 * pci_cfg_data at +16, through which the driver reaches the BAR. */
static bool cfg_window(struct virtio_pci *t, uint32_t *off, unsigned *len)
{
	uint16_t c = t->cfg_cap;

	*off = pci_cfg_get32(&t->pci, c + 8);
	*len = pci_cfg_get32(&t->pci, c + 12);
	return pci_cfg_get8(&t->pci, c + 4) == VIRTIO_PCI_BAR &&
	       (*len == 1 || *len == 2 || *len == 4) && *off % *len == 0 &&
	       *off < VIRTIO_PCI_BAR_SIZE;
}

static void cfg_reading(void *obj, uint32_t off, unsigned size)
{
	struct virtio_pci *t = obj;
	uint32_t at;
	unsigned len;
	uint64_t v;

	if (!pci_cfg_overlaps(off, size, t->cfg_cap + 16, 4) || !cfg_window(t, &at, &len))
		return;
	v = bar_read(t, VIRTIO_PCI_BAR, at, len);
	pci_cfg_set32(&t->pci, t->cfg_cap + 16, (uint32_t)v);
}

static void cfg_written(void *obj, uint32_t off, unsigned size, int changed)
{
	struct virtio_pci *t = obj;
	uint32_t at;
	unsigned len;

	pthread_mutex_lock(&t->vd->lock);
	msix_cfg_written(&t->msix, off, size);
	if (changed & (PCI_CFG_CHANGED_COMMAND | PCI_CFG_CHANGED_BAR(VIRTIO_PCI_BAR)))
		notify_follow(t);
	pthread_mutex_unlock(&t->vd->lock);
	if (pci_cfg_overlaps(off, size, t->cfg_cap + 16, 4) && cfg_window(t, &at, &len))
		bar_write(t, VIRTIO_PCI_BAR, at, pci_cfg_get32(&t->pci, t->cfg_cap + 16), len);
}

static const struct pci_function_ops function_ops = {
    .cfg_written = cfg_written,
    .cfg_reading = cfg_reading,
    .bar_read = bar_read,
    .bar_write = bar_write,
};

/* --- interrupts --- */

/* Vector vec's irqfd on or off. Off while the vector is masked: what a vhost-user backend
 * signals meanwhile stays counted in the eventfd, and KVM delivers it when the irqfd is assigned
 * again (kiln's own devices pend it in msix.c instead, delivered at unmask too). */
static void wire(struct virtio_pci *t, unsigned vec, bool on)
{
	if (kvm_irqfd_wire(t->cfg.vm_fd, t->vec_fd[vec], t->vec_gsi[vec], &t->vec_wired[vec], on) <
	    0)
		log_warn_ratelimited(&t->rl, "%s: MSI-X vector %u: irqfd not %s", t->name, vec,
				     on ? "assigned" : "removed");
}

static void msix_update(void *ctx, unsigned vec, const struct msix_msg *msg, bool masked)
{
	struct virtio_pci *t = ctx;
	int ret;

	if (!t->cfg.routes)
		return;
	if (masked)
		wire(t, vec, false);
	ret = masked ? irq_routes_clear(t->cfg.routes, t->vec_gsi[vec])
		     : irq_routes_set_msi_dev(t->cfg.routes, t->vec_gsi[vec], msg->addr, msg->data,
					      pci_requester_id(0, t->slot, 0));
	if (!masked) /* the route first: an assignment delivers what the eventfd counted */
		wire(t, vec, true);
	if (ret < 0)
		log_warn_ratelimited(&t->rl, "%s: MSI-X vector %u: route not updated: %s", t->name,
				     vec, strerror(-ret));
}

static void msix_fire(void *ctx, unsigned vec)
{
	struct virtio_pci *t = ctx;
	uint64_t one = 1;

	if (write(t->vec_fd[vec], &one, sizeof(one)) < 0)
		log_warn_ratelimited(&t->rl, "%s: MSI-X vector %u: eventfd write failed", t->name,
				     vec);
}

static const struct msix_ops msix_ops = {.update = msix_update, .fire = msix_fire};

/* The eventfd of the vector the driver gave queue q (under vd->lock), for a vhost-user backend
 * that signals it directly; -1 for a queue without a vector. */
static int queue_call_fd(void *ctx, unsigned q)
{
	struct virtio_pci *t = ctx;
	uint16_t vec = q < t->vd->ops->nr_queues ? t->queue_vector[q] : VIRTIO_PCI_NO_VECTOR;

	return vec < t->nr_vecs ? t->vec_fd[vec] : -1;
}

static void raise_irq(void *ctx, unsigned source)
{
	struct virtio_pci *t = ctx;
	uint16_t vec = source == VIRTIO_IRQ_CONFIG	? t->config_vector
		       : source < t->vd->ops->nr_queues ? t->queue_vector[source]
							: VIRTIO_PCI_NO_VECTOR;

	if (vec == VIRTIO_PCI_NO_VECTOR || msix_signal(&t->msix, vec) < 0)
		t->lost_irqs++;
}

/* --- creation --- */

uint32_t virtio_pci_class(uint32_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network controller */
	case VIRTIO_ID_BLOCK:
		return 0x010000; /* mass storage: SCSI, as QEMU shows virtio-blk */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* other communication controller */
	default:
		return 0xff0000; /* unassigned class */
	}
}

/* A virtio capability of `len` bytes (16, or 20 with its extra dword) for region type `type`. */
static int add_vcap(struct virtio_pci *t, uint8_t type, uint32_t off, uint32_t length, uint8_t len,
		    uint16_t *at)
{
	int ret = pci_cfg_add_cap(&t->pci, PCI_CAP_ID_VENDOR, len, at);

	if (ret < 0)
		return ret;
	pci_cfg_set8(&t->pci, *at + 2, len); /* cap_len */
	pci_cfg_set8(&t->pci, *at + 3, type);
	pci_cfg_set8(&t->pci, *at + 4, VIRTIO_PCI_BAR);
	pci_cfg_set32(&t->pci, *at + 8, off);
	pci_cfg_set32(&t->pci, *at + 12, length);
	return 0;
}

static int add_caps(struct virtio_pci *t)
{
	static const uint8_t open_bar = 0xff, open32[4] = {0xff, 0xff, 0xff, 0xff};
	uint32_t nq = t->vd->ops->nr_queues;
	uint16_t at;
	int ret = add_vcap(t, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON, CC_LEN, 16, &at);

	if (ret == 0)
		ret = add_vcap(t, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY,
			       nq * VIRTIO_PCI_NOTIFY_MULT, 20, &at);
	if (ret == 0) {
		pci_cfg_set32(&t->pci, at + 16, VIRTIO_PCI_NOTIFY_MULT);
		ret = add_vcap(t, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR, 1, 16, &at);
	}
	if (ret == 0 && t->vd->ops->config_len)
		ret = add_vcap(t, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_CFG,
			       t->vd->ops->config_len, 16, &at);
	if (ret == 0)
		ret = add_vcap(t, VIRTIO_PCI_CAP_PCI_CFG, 0, 0, 20, &t->cfg_cap);
	if (ret < 0)
		return ret;
	/* the driver picks the BAR, offset and length of its access, and the data */
	pci_cfg_set_wmask(&t->pci, t->cfg_cap + 4, &open_bar, 1, false);
	pci_cfg_set_wmask(&t->pci, t->cfg_cap + 8, open32, 4, false);
	pci_cfg_set_wmask(&t->pci, t->cfg_cap + 12, open32, 4, false);
	pci_cfg_set_wmask(&t->pci, t->cfg_cap + 16, open32, 4, false);
	return msix_init(&t->msix, &t->pci, t->nr_vecs, VIRTIO_PCI_BAR, VIRTIO_PCI_MSIX_TABLE,
			 VIRTIO_PCI_MSIX_PBA, &msix_ops, t);
}

static int hook_vectors(struct virtio_pci *t)
{
	for (unsigned v = 0; v < t->nr_vecs; v++) {
		int ret;

		t->vec_fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->vec_fd[v] < 0)
			return -errno;
		if (!t->cfg.routes)
			continue;
		ret = irq_routes_alloc(t->cfg.routes, &t->vec_gsi[v]);
		if (ret < 0)
			return ret; /* the irqfd comes with the guest's unmask (msix_update) */
	}
	return 0;
}

static int hook_notify(struct virtio_pci *t)
{
	if (t->cfg.vm_fd < 0 || !t->cfg.loop)
		return 0;
	for (unsigned q = 0; q < t->vd->ops->nr_queues; q++) {
		t->notify_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (t->notify_fd[q] < 0)
			return -errno;
		if (!t->vd->ops->external_queues && /* a backend's kicks are the backend's */
		    event_loop_add(t->cfg.loop, t->notify_fd[q], EPOLLIN, on_notify, t) < 0)
			return -ENOMEM;
	}
	if (t->vd->ops->external_queues)
		t->vd->ops->external_queues(t->vd->dev, t->notify_fd, t->vd->ops->nr_queues);
	return 0;
}

static int plug(struct virtio_pci *t)
{
	uint32_t id = t->vd->ops->device_id;
	const struct pci_id pid = {
	    .vendor = VIRTIO_PCI_VENDOR,
	    .device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + id),
	    .subsys_vendor = VIRTIO_PCI_VENDOR,
	    .subsys = VIRTIO_PCI_SUBSYS,
	    .revision = 1,
	    .class_code = virtio_pci_class(id),
	};
	const struct pci_function f = {.cfg = &t->pci, .ops = &function_ops, .obj = t};
	uint64_t addr;
	int ret;

	pci_cfg_init(&t->pci, &pid);
	ret = pci_bus_alloc(t->cfg.bus, PCI_WIN_MEM32, VIRTIO_PCI_BAR_SIZE, &addr);
	if (ret == 0)
		ret = pci_cfg_set_bar(&t->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM32, false,
				      VIRTIO_PCI_BAR_SIZE, addr);
	if (ret == 0)
		ret = add_caps(t);
	if (ret == 0)
		ret = hook_vectors(t);
	if (ret == 0)
		ret = hook_notify(t);
	if (ret == 0)
		ret = pci_bus_add(t->cfg.bus, &f, &t->slot);
	return ret;
}

int virtio_pci_create(struct virtio_dev *vd, const struct virtio_pci_config *cfg,
		      struct virtio_pci **out)
{
	struct virtio_pci *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -ENOMEM;
	t->vd = vd;
	t->cfg = *cfg;
	snprintf(t->name, sizeof(t->name), "%s", cfg->name ? cfg->name : "virtio");
	t->cfg.name = t->name;
	t->nr_vecs = vd->ops->nr_queues + 1;
	t->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	for (unsigned i = 0; i < VIRTIO_PCI_MAX_VECTORS; i++)
		t->vec_fd[i] = -1;
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++)
		t->notify_fd[q] = -1;
	transport_reset(t);
	ret = plug(t);
	if (ret < 0) {
		virtio_pci_destroy(t);
		return ret;
	}
	vd->raise_irq = raise_irq;
	vd->queue_call_fd = queue_call_fd;
	vd->irq_ctx = t;
	*out = t;
	return 0;
}

void virtio_pci_destroy(struct virtio_pci *t)
{
	if (!t)
		return;
	if (t->cfg.vm_fd >= 0)
		notify_unhook(t);
	for (unsigned q = 0; q < VIRTIO_DEV_MAX_QUEUES; q++) {
		if (t->notify_fd[q] < 0)
			continue;
		if (t->cfg.loop && !t->vd->ops->external_queues)
			event_loop_del(t->cfg.loop, t->notify_fd[q]);
		close(t->notify_fd[q]);
	}
	for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++) {
		if (t->vec_fd[v] < 0)
			continue;
		if (kvm_irqfd_wire(t->cfg.vm_fd, t->vec_fd[v], t->vec_gsi[v], &t->vec_wired[v],
				   false) < 0)
			log_debug("%s: irqfd %u: deassign failed", t->name, v);
		close(t->vec_fd[v]);
	}
	msix_destroy(&t->msix);
	free(t);
}

/* --- state --- */

void virtio_pci_save(struct virtio_pci *t, struct state_buf *b)
{
	pthread_mutex_lock(&t->vd->lock);
	state_put_u32(b, t->dev_features_sel);
	state_put_u32(b, t->drv_features_sel);
	state_put_u16(b, t->queue_sel);
	state_put_u16(b, t->config_vector);
	for (unsigned q = 0; q < t->vd->ops->nr_queues; q++)
		state_put_u16(b, t->queue_vector[q]);
	state_put_bytes(b, t->pci.data, PCI_CFG_LEGACY_END);
	msix_save(&t->msix, b);
	virtio_dev_save(t->vd, b);
	pthread_mutex_unlock(&t->vd->lock);
}

int virtio_pci_load(struct virtio_pci *t, struct state_buf *b, uint16_t version, const char *name)
{
	uint32_t dsel = state_get_u32(b), drsel = state_get_u32(b);
	uint16_t qsel = state_get_u16(b), cvec = state_get_u16(b), qvec[VIRTIO_DEV_MAX_QUEUES];
	uint8_t cfg[PCI_CFG_LEGACY_END];
	int ret;

	if (version != VIRTIO_PCI_STATE_VERSION) {
		state_refuse(b, "%s: section version %u, kiln reads %u", name, version,
			     VIRTIO_PCI_STATE_VERSION);
		return -EINVAL;
	}
	for (unsigned q = 0; q < t->vd->ops->nr_queues; q++)
		qvec[q] = state_get_u16(b);
	state_get_bytes(b, cfg, sizeof(cfg));
	pthread_mutex_lock(&t->vd->lock);
	msix_load(&t->msix, b);
	ret = virtio_dev_load_end(t->vd, b, name);
	if (ret == 0) { /* any selector is one the driver could have written */
		pci_cfg_load(&t->pci, cfg, sizeof(cfg));
		t->dev_features_sel = dsel;
		t->drv_features_sel = drsel;
		t->queue_sel = qsel;
		t->config_vector = vector_ok(t, cvec);
		for (unsigned q = 0; q < t->vd->ops->nr_queues; q++)
			t->queue_vector[q] = vector_ok(t, qvec[q]);
	}
	pthread_mutex_unlock(&t->vd->lock);
	return ret;
}

/* --- the board entry --- */

static int entry_save(void *obj, struct state_buf *b)
{
	virtio_pci_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	struct virtio_pci *t = obj;

	return virtio_pci_load(t, b, version, t->name);
}

/* The loaded BAR and vectors take effect: ioeventfds where the BAR decodes, every route. */
static void entry_restored(void *obj)
{
	struct virtio_pci *t = obj;

	pthread_mutex_lock(&t->vd->lock);
	msix_restored(&t->msix);
	notify_follow(t);
	pthread_mutex_unlock(&t->vd->lock);
}

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_pci *t = obj;
	uint64_t lost;

	virtio_dev_report_stats(t->vd, name, fn, ctx);
	pthread_mutex_lock(&t->vd->lock);
	lost = t->lost_irqs;
	pthread_mutex_unlock(&t->vd->lock);
	fn(ctx, name, "lost_irqs", lost);
}

static void entry_destroy(void *obj)
{
	virtio_pci_destroy(obj);
}

const struct device_ops virtio_pci_device_ops = {
    .kind = "virtio-pci",
    .save = entry_save,
    .load = entry_load,
    .stats = entry_stats,
    .restored = entry_restored,
    .destroy = entry_destroy,
};

int virtio_pci_attach(struct vm *vm, const struct virtio_pci_config *cfg, unsigned n,
		      struct virtio_dev *vd, const char *name)
{
	char section[STATE_NAME_MAX], dev_section[STATE_NAME_MAX];
	struct virtio_pci_config c = *cfg;
	struct virtio_pci *t;
	int ret = device_list_reserve(&vm->devices, 2);

	snprintf(section, sizeof(section), "virtio.%u", n);
	snprintf(dev_section, sizeof(dev_section), "virtio.%u.%s", n,
		 vd->ops->state_name ? vd->ops->state_name : "");
	c.name = section;
	if (ret == 0)
		ret = virtio_pci_create(vd, &c, &t);
	if (ret < 0)
		return ret;
	ret = device_list_add_ops(&vm->devices, &virtio_pci_device_ops, t, name, section,
				  VIRTIO_PCI_STATE_VERSION, VIRTIO_PCI_STATE_VERSION);
	if (ret == 0)
		ret = device_list_add_ops(&vm->devices, &virtio_device_ops, vd, name,
					  vd->ops->state_name ? dev_section : NULL,
					  vd->ops->state_version, vd->ops->state_min_version);
	if (ret < 0) { /* not after the reservation, but never leave half a pair or a stale slot */
		if (vm->devices.nr && vm->devices.dev[vm->devices.nr - 1].obj == t)
			vm->devices.nr--;
		pci_bus_remove(cfg->bus, t->slot);
		virtio_pci_destroy(t);
	}
	return ret;
}

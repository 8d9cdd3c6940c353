/* virtio_mmio.h — the virtio-mmio transport, version 2 (virtio 1.2 §4.2): a register window on
 * the MMIO bus, queue notifications through ioeventfd and interrupts through irqfd. */
#ifndef KILN_VIRTIO_VIRTIO_MMIO_H
#define KILN_VIRTIO_VIRTIO_MMIO_H

#include <stddef.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "core/io_bus.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
#define VIRTIO_MMIO_VENDOR  0x4e4c494b /* "KILN" */
#define VIRTIO_MMIO_WINDOW  0x200      /* registers 0x000-0x0ff, configuration 0x100-0x1ff */

struct virtio_mmio_config {
	uint64_t base;		 /* guest-physical base of the window */
	uint32_t gsi;		 /* interrupt line */
	int vm_fd;		 /* KVM VM for ioeventfd/irqfd; -1: no KVM (host-side tests) */
	struct io_bus *mmio;	 /* where the window is registered */
	struct event_loop *loop; /* where ioeventfds are watched; NULL: notify from the vCPU */
	const char *name;	 /* its state section ("virtio.0"), for messages; NULL: "virtio" */
};

struct virtio_mmio {
	struct virtio_dev *vd;
	struct virtio_mmio_config cfg;
	char name[STATE_NAME_MAX]; /* cfg.name, copied */
	uint32_t dev_features_sel, drv_features_sel, queue_sel;
	int irq_fd;			      /* irqfd eventfd, -1 without KVM */
	int notify_fd[VIRTIO_DEV_MAX_QUEUES]; /* ioeventfd per queue, -1 without KVM */
	struct log_ratelimit rl;
};

/*
 * Expose vd through a virtio-mmio window: register the window on cfg->mmio (32-bit register
 * accesses, 1/2/4-byte configuration accesses), one ioeventfd per queue on QueueNotify matched
 * by queue index and watched on cfg->loop, and an irqfd on cfg->gsi. Returns 0 or -errno
 * (-EEXIST if the window overlaps something).
 */
int virtio_mmio_create(struct virtio_dev *vd, const struct virtio_mmio_config *cfg,
		       struct virtio_mmio **out) MUST_CHECK;

/* Unhook from KVM and the loop and free. The bus range stays (buses are not shrunk). */
void virtio_mmio_destroy(struct virtio_mmio *t);

/* The kernel command-line token announcing this device: "virtio_mmio.device=512@0x...:gsi". */
int virtio_mmio_cmdline(const struct virtio_mmio *t, char *buf, size_t len);

#define VIRTIO_MMIO_STATE_VERSION 1

/* Put the transport's selectors (DeviceFeaturesSel, DriverFeaturesSel, QueueSel), then the
 * device's common state (virtio_dev_save) into the open section. Takes vd->lock. */
void virtio_mmio_save(struct virtio_mmio *t, struct state_buf *b);

/* Load the selected section (version `version`) written by virtio_mmio_save; name is the section
 * name for messages. 0 or -EINVAL (logged). Takes vd->lock. */
int virtio_mmio_load(struct virtio_mmio *t, struct state_buf *b, uint16_t version,
		     const char *name) MUST_CHECK;

/* The board entry of a transport (obj: its struct virtio_mmio): save and load as above under
 * the transport's name, the device's transport-independent counters, destroy. Register it before
 * the device's own entry (virtio_device_ops): loads then follow that order, and the transport is
 * destroyed before the device. */
extern const struct device_ops virtio_mmio_device_ops;

#endif

/* virtio_pci.h — the virtio-pci transport, modern (virtio 1.2 §4.1): a PCI function on a
 * pci_bus whose one memory BAR holds the common configuration, the ISR, the device-specific
 * configuration, the notification addresses and the MSI-X table, each found through a
 * vendor-specific capability. Queue notifications through ioeventfd at their addresses (moved
 * with the BAR), interrupts through MSI-X: one vector per queue and one for configuration
 * changes, each an irqfd on an MSI route of its own. No INTx: a driver that cannot enable
 * MSI-X gets no interrupts (Linux always enables it). */
#ifndef KILN_VIRTIO_VIRTIO_PCI_H
#define KILN_VIRTIO_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "hv/irq_routes.h"
#include "pci/msix.h"
#include "pci/pci_bus.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_PCI_VENDOR      0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* + the virtio device ID: a modern-only device */
#define VIRTIO_PCI_SUBSYS      0x0040 /* §4.1.2.1: 0x40 or higher */
#define VIRTIO_PCI_BAR	       0
#define VIRTIO_PCI_BAR_SIZE    0x8000
#define VIRTIO_PCI_COMMON      0x0000 /* region offsets in the BAR */
#define VIRTIO_PCI_ISR	       0x1000
#define VIRTIO_PCI_DEVICE_CFG  0x2000
#define VIRTIO_PCI_NOTIFY      0x3000
#define VIRTIO_PCI_NOTIFY_MULT 4 /* notify_off_multiplier: queue q at NOTIFY + 4 q */
#define VIRTIO_PCI_MSIX_TABLE  0x4000
#define VIRTIO_PCI_MSIX_PBA    0x6000
#define VIRTIO_PCI_NO_VECTOR   0xffff
#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_DEV_MAX_QUEUES + 1)

/* Capability types (§4.1.4). */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5

struct virtio_pci_config {
	struct pci_bus *bus; /* plugged in here; its BAR from the bus's 32-bit window */
	int vm_fd;	     /* KVM VM for ioeventfds and irqfds; -1: none (host-side tests) */
	struct irq_routes *routes; /* the VM's MSI routes; NULL without KVM */
	struct event_loop *loop;   /* where ioeventfds are watched; NULL: notify from the vCPU */
	const char *name;	   /* its state section ("virtio.0"), for messages */
};

struct virtio_pci {
	struct virtio_dev *vd;
	struct virtio_pci_config cfg;
	char name[STATE_NAME_MAX];
	struct pci_cfg pci;
	struct msix msix;
	unsigned slot;	  /* on cfg.bus */
	uint16_t cfg_cap; /* offset of the PCI configuration access capability */
	unsigned nr_vecs; /* one per queue, one for configuration changes */
	/* common configuration, as the driver set it (under vd->lock) */
	uint32_t dev_features_sel, drv_features_sel;
	uint16_t queue_sel, config_vector, queue_vector[VIRTIO_DEV_MAX_QUEUES];
	/* MSI-X delivery: per vector an eventfd, with KVM an irqfd on its own GSI */
	int vec_fd[VIRTIO_PCI_MAX_VECTORS];
	uint32_t vec_gsi[VIRTIO_PCI_MAX_VECTORS];
	bool vec_wired[VIRTIO_PCI_MAX_VECTORS]; /* its irqfd assigned: while the vector is unmasked
						 */
	/* notifications: per queue an ioeventfd at notify_base + 4 q while the BAR decodes */
	int notify_fd[VIRTIO_DEV_MAX_QUEUES];
	uint64_t notify_base; /* 0: not registered */
	uint64_t lost_irqs; /* interrupts with MSI-X off or no vector: the driver polls, or hangs */
	struct log_ratelimit rl;
};

/* Put vd on cfg->bus as a virtio-pci function: its BAR allocated from the bus's 32-bit window,
 * its capabilities, MSI-X with a vector per queue plus one, and with KVM an eventfd, GSI and
 * irqfd per vector and an ioeventfd per queue (registered when the guest enables the BAR).
 * Returns 0 or -errno (-ENOSPC: no slot or window space). */
int virtio_pci_create(struct virtio_dev *vd, const struct virtio_pci_config *cfg,
		      struct virtio_pci **out) MUST_CHECK;

/* Unhook from KVM and the loop and free. The bus slot stays (a board is torn down whole). */
void virtio_pci_destroy(struct virtio_pci *t);

/* The PCI class code a virtio device of this ID shows (network, storage, communication, other). */
uint32_t virtio_pci_class(uint32_t device_id);

struct vm;

/* Put vd on cfg->bus (virtio_pci_create; cfg->name is set here to "virtio.N") and register in
 * vm->devices the transport (section "virtio.N") and then the device (virtio_device_ops,
 * "virtio.N.<state_name>"), both under counter name `name`. On success the list owns both.
 * 0 or -errno (nothing registered: the caller still owns the device). */
int virtio_pci_attach(struct vm *vm, const struct virtio_pci_config *cfg, unsigned n,
		      struct virtio_dev *vd, const char *name) MUST_CHECK;

#define VIRTIO_PCI_STATE_VERSION 1

/* Put the transport (its fields, the first 256 bytes of configuration space, the MSI-X table
 * and pending bits) and the device's common state (virtio_dev_save) into the open section. Takes
 * vd->lock. */
void virtio_pci_save(struct virtio_pci *t, struct state_buf *b);

/* Load what virtio_pci_save wrote: configuration bytes through the guest's write masks (what
 * identifies the function stays its own), the MSI-X table through the rules of a table write,
 * vectors the function has. The BAR's ioeventfds and the vectors' routes follow in the entry's
 * restored hook. 0 or -EINVAL (logged). Takes vd->lock. */
int virtio_pci_load(struct virtio_pci *t, struct state_buf *b, uint16_t version,
		    const char *name) MUST_CHECK;

/* The board entry of a transport (obj: its struct virtio_pci): save, load and restored as
 * above, the device's transport-independent counters plus lost_irqs, destroy. Register it before
 * the device's own entry. */
extern const struct device_ops virtio_pci_device_ops;

#endif

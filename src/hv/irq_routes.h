/* irq_routes.h — the VM's GSI routing table. KVM_SET_GSI_ROUTING replaces the whole table at
 * once, so one owner keeps it: the in-kernel irqchip's default routes (kvm_default_routes) plus
 * one MSI route per MSI or MSI-X vector a device uses, each on a GSI of its own above the
 * irqchip's, which an irqfd then raises without an exit (a device's eventfd, a vhost backend's,
 * a VFIO device's). Thread-safe: vCPU threads reprogram vectors as the guest writes them. */
#ifndef KILN_HV_IRQ_ROUTES_H
#define KILN_HV_IRQ_ROUTES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "util/compiler.h"

#define IRQ_ROUTES_MAX 1024 /* entries; KVM takes up to KVM_MAX_IRQ_ROUTES (4096) */

struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd; /* -1: no KVM (the table is kept, nothing committed) */
	struct kvm_irq_routing *table;
	uint32_t first_gsi, next_gsi; /* GSIs handed out for MSI routes: [first_gsi, next_gsi) */
	uint32_t nr_default;	      /* the irqchip's routes, at the table's start */
	bool devid;		      /* MSI routes carry the writer's device ID (arm64's ITS) */
	uint64_t commits;
};

/* A table holding the irqchip's default routes (nr_spis: arm64's vGIC SPIs, ignored on x86);
 * nothing is committed (KVM has these routes already). 0, -ENOMEM or -ENOSPC. */
int irq_routes_init(struct irq_routes *r, int vm_fd, unsigned nr_spis) MUST_CHECK;

void irq_routes_destroy(struct irq_routes *r);

/* A GSI of its own for an MSI vector, with no route yet (an irqfd on it raises nothing until
 * irq_routes_set_msi). 0 or -ENOSPC. */
int irq_routes_alloc(struct irq_routes *r, uint32_t *gsi) MUST_CHECK;

/* From now on every MSI route carries the device ID of the function that writes the MSI
 * (KVM_MSI_VALID_DEVID): what KVM asks for once the VM has a GICv3 ITS, which translates an MSI by
 * (device ID, data). Before the first route. */
void irq_routes_require_devid(struct irq_routes *r);

/* Route gsi (from irq_routes_alloc) to the MSI (addr, data), replacing its route, and commit
 * the table. For a table without device IDs (x86); one that requires them refuses the route
 * (-EINVAL): use irq_routes_set_msi_dev. 0, -EINVAL (not an allocated GSI), -ENOSPC (table
 * full) or KVM's -errno (the table is then as before). */
int irq_routes_set_msi(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data) MUST_CHECK;

/* irq_routes_set_msi for an MSI written by the device with ID devid (PCI: its requester ID,
 * pci_requester_id): the route carries devid if the table requires device IDs
 * (irq_routes_require_devid), and is exactly irq_routes_set_msi's otherwise. Same returns. */
int irq_routes_set_msi_dev(struct irq_routes *r, uint32_t gsi, uint64_t addr, uint32_t data,
			   uint32_t devid) MUST_CHECK;

/* Drop gsi's route (a masked or disabled vector) and commit. 0, -EINVAL or KVM's -errno. */
int irq_routes_clear(struct irq_routes *r, uint32_t gsi) MUST_CHECK;

/* Entries in the table now. */
unsigned irq_routes_count(struct irq_routes *r);

#endif

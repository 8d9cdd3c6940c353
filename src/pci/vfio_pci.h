/* vfio_pci.h — a host PCI device passed through to the guest with VFIO: a function on kiln's
 * pci_bus whose configuration space is the device's own, seen through a shadow in which kiln
 * emulates what the guest must not reach (the BARs, the expansion ROM, the interrupt line, the
 * MSI and MSI-X capabilities) and forwards the rest. Its BARs are the device's regions: mmapped
 * into KVM memory slots wherever VFIO allows and the BAR decodes inside the bus window (the MSI-X
 * table and PBA pages excepted), read and written through VFIO otherwise. Its interrupts reach
 * the guest without an exit: INTx through an irqfd with KVM's resample fd wired to VFIO's
 * unmask, MSI and MSI-X through one eventfd per vector on an MSI route of its own. All guest RAM
 * is mapped for the device's DMA at IOVA = guest-physical by the board (vfio_pci_map_ram).
 * Snapshots and migration of a VM with a passthrough device are refused: the device's own state
 * cannot be saved. */
#ifndef KILN_PCI_VFIO_PCI_H
#define KILN_PCI_VFIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "hv/irq_routes.h"
#include "hv/vfio.h"
#include "pci/msix.h"
#include "pci/pci_bus.h"
#include "util/compiler.h"
#include "util/log.h"

#define VFIO_PCI_MAX_PIECES 12 /* memory slots per device: BAR areas split around MSI-X */
#define VFIO_PCI_MSI_MAX    32
#define VFIO_PCI_MSIX_MAX   64 /* vectors kiln wires (a larger table: the rest stay silent) */

struct vm;

struct vfio_pci_config {
	struct pci_bus *bus;
	struct vfio_container *container; /* the VM's, groups join it */
	int vm_fd;
	struct irq_routes *routes;
	uint32_t memslot_base; /* KVM slots [base, base + VFIO_PCI_MAX_PIECES) are its own */
	/* INTx: the GSI of INTA..INTD for the function's slot is intx_gsi[(slot + pin - 1) % 4]
	 * (the swizzle the board's _PRT describes); 0 entries: no INTx */
	uint32_t intx_gsi[4];
	const char *sysfs; /* /sys/bus/pci/devices/DDDD:BB:DD.F */
	const char *name;  /* "vfio0": messages, counters */
};

/* A page-aligned piece of a BAR that VFIO lets kiln mmap, and its memory slot. */
struct vfio_piece {
	unsigned bar;
	uint64_t off, len; /* in the BAR */
	void *host;	   /* the mmap */
	uint32_t slot;
	uint64_t gpa; /* where it is mapped now; valid when mapped */
	bool mapped;
};

struct vfio_pci_stats {
	uint64_t bar_reads, bar_writes; /* trapped BAR accesses */
	uint64_t cfg_errors;		/* configuration accesses the device failed */
	uint64_t irq_errors;		/* interrupt wiring the host refused */
	uint64_t slot_errors;		/* BAR pieces left trapped: a memory slot refused */
};

struct vfio_pci {
	struct vfio_pci_config cfg;
	char name[24], sysfs[256];
	pthread_mutex_t lock; /* interrupt wiring, BAR pieces, MSI-X table (vCPU threads) */
	struct vfio_device dev;
	struct pci_cfg pci;	    /* the shadow the guest reads */
	uint8_t live[PCI_CFG_SIZE]; /* 1: this byte reads from the device */
	uint8_t fwd[PCI_CFG_SIZE];  /* 1: a guest write of this byte goes to the device */
	unsigned slot;
	struct vfio_piece piece[VFIO_PCI_MAX_PIECES];
	unsigned nr_pieces;
	/* MSI */
	uint16_t msi_cap; /* 0: none */
	unsigned msi_max; /* vectors the device offers (Multiple Message Capable) */
	bool msi_on;
	unsigned msi_nr;
	int msi_fd[VFIO_PCI_MSI_MAX];
	uint32_t msi_gsi[VFIO_PCI_MSI_MAX];
	bool msi_wired[VFIO_PCI_MSI_MAX];
	/* MSI-X */
	bool has_msix, msix_on;
	struct msix msix;
	unsigned msix_nr;
	int msix_fd[VFIO_PCI_MSIX_MAX];
	uint32_t msix_gsi[VFIO_PCI_MSIX_MAX];
	bool msix_wired[VFIO_PCI_MSIX_MAX];
	/* INTx */
	uint32_t intx_gsi; /* 0: none */
	int intx_fd, intx_unmask_fd;
	bool intx_on;
	struct vfio_pci_stats stats;
	struct log_ratelimit rl;
};

/* Open the device at cfg->sysfs (bound to vfio-pci on the host), join its group to the
 * container, read its configuration space, give its BARs addresses in the bus's windows, mmap
 * what VFIO allows, plug it into the bus and arm INTx. 0, or -errno with one line in *err
 * naming the device and what failed. */
int vfio_pci_create(const struct vfio_pci_config *cfg, struct vfio_pci **out, char *err,
		    size_t errlen) MUST_CHECK;

/* As vfio_pci_create, for a device already open: dev (its fd, regions and interrupt counts)
 * is the function's from now on, closed on failure too; cfg->container is not used. For
 * vfio_pci_create, and for the unit tests and the fuzzer, which stand a file in for a device. */
int vfio_pci_create_dev(const struct vfio_pci_config *cfg, const struct vfio_device *dev,
			struct vfio_pci **out, char *err, size_t errlen) MUST_CHECK;

/* Unwire its interrupts and memory slots, close the device. NULL: nothing. */
void vfio_pci_destroy(struct vfio_pci *d);

/* Map every RAM region of m into the container for DMA at IOVA = guest-physical. 0 or -errno
 * (*err says which region). */
int vfio_pci_map_ram(struct vfio_container *c, const struct guest_mem *m, char *err,
		     size_t errlen) MUST_CHECK;

/* The board's entry: vfio_pci_create, then the device joins vm's list ("vfio", its counters,
 * reset, teardown) under `name`. 0 or -errno (vm->err set). */
int vfio_pci_attach(struct vm *vm, const struct vfio_pci_config *cfg, const char *name) MUST_CHECK;

extern const struct pci_function_ops vfio_pci_function_ops;

#endif

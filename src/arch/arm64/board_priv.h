/* board_priv.h — the arm64 board's own data, shared by its assembly (board.c) and its state
 * (board_state.c). Nothing outside src/arch/arm64/ includes this. */
#ifndef KILN_ARCH_ARM64_BOARD_PRIV_H
#define KILN_ARCH_ARM64_BOARD_PRIV_H

#include <stdint.h>
#include <linux/kvm.h>

#include "arch/arm64/cpu.h"
#include "arch/arm64/image.h"
#include "arch/arm64/layout.h"
#include "core/board_util.h"
#include "hv/irq_routes.h"
#include "pci/pci_bus.h"
#include "virtio/slots.h"

/* What the arm64 board keeps beside vm->devices (which owns every device). */
struct board {
	struct arm64_topology topo;
	uint64_t *mpidr;	     /* per vCPU */
	struct kvm_vcpu_init target; /* KVM_ARM_PREFERRED_TARGET */
	int gic_fd;
	int its_fd;		  /* the GICv3's ITS, with PCI only; -1: none */
	struct board_uarts uarts; /* both 16550As, the console among them */
	struct virtio_slots virtio;
	uint32_t virtio_spis[ARM64_VIRTIO_SLOTS];
	struct pci_bus *pci;	  /* with --virtio-transport pci, else NULL */
	struct irq_routes routes; /* with pci: the SPIs' routes and the MSI-X vectors' */
	unsigned nr_pci;	  /* virtio-pci functions so far */
	struct arm64_boot_layout boot;
};

#endif

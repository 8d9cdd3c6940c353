/* fdt.h — the arm64 board's device tree, built with libfdt from a description of the machine.
 * Pure: no KVM, so the unit tests build and parse it on any host. */
#ifndef KILN_ARCH_ARM64_FDT_H
#define KILN_ARCH_ARM64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"
#include "virtio/slots.h"

#define ARM64_FDT_CPUS_MAX 512

/* An MMIO device with one interrupt (a GIC SPI number). */
struct arm64_fdt_mmio {
	uint64_t base, size;
	uint32_t spi;
};

/* The machine the tree describes. */
struct arm64_fdt_desc {
	uint64_t mem_base, mem_size; /* one DRAM range */
	unsigned nr_cpus;	     /* 1..ARM64_FDT_CPUS_MAX */
	const uint64_t *mpidr;	     /* each vCPU's MPIDR_EL1: its affinity is the cpu node's reg */
	unsigned sockets, cores, threads; /* sockets*cores*threads == nr_cpus: the cpu-map */
	uint64_t gicd_base, gicd_size;	  /* GICv3 distributor */
	uint64_t gicr_base, gicr_size;	  /* one redistributor region for every vCPU */
	struct arm64_fdt_mmio uart[2];	  /* 16550A UARTs, ns16550a, 1-byte registers */
	unsigned nr_uart;		  /* 0..2 */
	int stdout_uart;		  /* index into uart for /chosen stdout-path, -1: none */
	bool rtc;			  /* a PL031 at rtc (with its APB clock) */
	struct arm64_fdt_mmio rtc_dev;
	const struct virtio_slot *virtio; /* virtio,mmio nodes; gsi is the SPI, edge rising */
	unsigned nr_virtio;
	bool its;				 /* a GICv3 ITS (msi-controller) under the GIC */
	uint64_t its_base, its_size;		 /* its frames */
	bool pci;				 /* a PCIe host bridge (needs its: MSIs go there) */
	uint64_t ecam_base, ecam_size;		 /* bus 0's ECAM */
	uint64_t pci_mem32_base, pci_mem32_size; /* the BAR window, identity-mapped, below 4 GiB */
	const char *bootargs;			 /* /chosen bootargs (may be NULL) */
	uint64_t initrd_start, initrd_end;	 /* /chosen linux,initrd-*; both 0: no initrd */
};

/*
 * Write the flattened device tree for d into buf (len bytes): root with the "linux,dummy-virt"
 * compatible, /chosen, memory, cpus with their cpu-map, psci (0.2 and 1.0, hvc), the architected
 * timer, the GICv3 (with its ITS if d->its), the UARTs, the RTC and its clock, one node per
 * virtio slot, and with d->pci a pci-host-ecam-generic host bridge whose MSIs go to the ITS
 * (msi-map: device ID = requester ID). Returns 0 (the tree's size is fdt_totalsize(buf)),
 * -EINVAL for a description that cannot be right (no CPU, a topology that does not multiply
 * out, too many UARTs, PCI without an ITS or with a window above 4 GiB), or -ENOSPC if buf is
 * too small.
 */
int arm64_fdt_build(const struct arm64_fdt_desc *d, void *buf, size_t len) MUST_CHECK;

#endif

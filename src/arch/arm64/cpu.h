/* cpu.h — arm64 vCPUs: MPIDR affinity from the topology, KVM_ARM_VCPU_INIT with PSCI 0.2, the
 * boot registers, and the GICv3 the vCPUs share. */
#ifndef KILN_ARCH_ARM64_CPU_H
#define KILN_ARCH_ARM64_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

struct kvm_vcpu_init;

/* sockets x cores x threads; vCPU index = (socket * cores + core) * threads + thread. */
struct arm64_topology {
	unsigned sockets, cores, threads;
};

/*
 * MPIDR_EL1 of the vCPU with KVM id `index`: KVM gives each vCPU this value at every reset (a
 * PSCI CPU_ON included), RES1 bit 31 with Aff0 = id % 16, Aff1 = (id / 16) % 256, Aff2 =
 * (id / 4096) % 256, and a value set through ONE_REG would not survive that reset in Linux 6.1.
 * So the topology is not in MPIDR: the guest learns it from the device tree's cpu-map (Linux
 * reads MPIDR only as each CPU's hardware id). Pure.
 */
uint64_t arm64_mpidr(unsigned index);

/* Initialise vCPU fd (its index `index`) for target `init` with PSCI 0.2, powered off unless it
 * is the boot vCPU, and check KVM gave it the MPIDR `mpidr` the device tree names. 0, -EPROTO
 * if the MPIDR differs, or -errno (logged). */
int arm64_vcpu_init(int fd, const struct kvm_vcpu_init *target, unsigned index,
		    uint64_t mpidr) MUST_CHECK;

/* The boot vCPU's entry as booting.rst wants it: PC = entry, x0 = the device tree, x1-x3 zero
 * (PSTATE is already EL1h with DAIF masked after KVM_ARM_VCPU_INIT). 0 or -errno (logged). */
int arm64_boot_regs_set(int fd, uint64_t entry, uint64_t fdt_gpa) MUST_CHECK;

/* The vCPU's PC. 0 or -errno (logged). */
int arm64_vcpu_pc(int fd, uint64_t *pc) MUST_CHECK;

/* --- the GICv3 (KVM's vgic-v3) --- */

/* Create the GICv3 with its distributor and one redistributor region for nr_vcpus vCPUs at the
 * layout's addresses; *fd set. Before the vCPUs. 0 or -errno (logged). */
int arm64_gic_create(int vm_fd, unsigned nr_vcpus, int *fd) MUST_CHECK;
/* After every vCPU exists: the number of interrupts and KVM_DEV_ARM_VGIC_CTRL_INIT. */
int arm64_gic_init(int fd) MUST_CHECK;

/* Create the GICv3's ITS (KVM_DEV_TYPE_ARM_VGIC_ITS) with its frames at the layout's
 * ARM64_ITS_GPA; *fd set. After arm64_gic_create. From then on KVM requires a device ID with
 * every MSI route (irq_routes_require_devid). 0 or -errno (logged). */
int arm64_its_create(int vm_fd, int *fd) MUST_CHECK;
/* After arm64_gic_init: KVM_DEV_ARM_VGIC_CTRL_INIT of the ITS. 0 or -errno (logged). */
int arm64_its_init(int fd) MUST_CHECK;

/* The KVM_IRQ_LINE number of SPI `spi` (INTID 32 + spi). */
uint32_t arm64_irq_line_spi(uint32_t spi);

#endif

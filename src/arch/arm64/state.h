/* state.h — arm64 vCPU and GICv3 state (state.c has the section formats). Every function runs
 * with the VM paused (no vCPU in KVM_RUN: KVM refuses GIC access otherwise). */
#ifndef KILN_ARCH_ARM64_STATE_H
#define KILN_ARCH_ARM64_STATE_H

#include <stdint.h>

#include "state/state.h"
#include "util/compiler.h"

#define ARM64_VCPU_STATE_VERSION 1
#define ARM64_GIC_STATE_VERSION	 1
#define ARM64_ITS_STATE_VERSION	 1

/* Append vCPU fd's registers and power state to the open section. 0 or -errno (logged). */
int arm64_vcpu_save(int fd, struct state_buf *b) MUST_CHECK;
/* Load the selected section (saved at `version`) into vCPU fd (number `index`, for messages).
 * 0 or -EINVAL (state_refuse: a bad section, or a register KVM refused). */
int arm64_vcpu_load(int fd, unsigned index, struct state_buf *b, uint16_t version) MUST_CHECK;

/* Append the GICv3's state (gic fd, the vCPUs' MPIDRs) to the open section. 0 or -errno. */
int arm64_gic_save(int fd, const uint64_t *mpidr, unsigned nr_vcpus,
		   struct state_buf *b) MUST_CHECK;
/* Load the selected section into the GIC. 0 or -EINVAL (state_refuse). */
int arm64_gic_load(int fd, const uint64_t *mpidr, unsigned nr_vcpus, struct state_buf *b,
		   uint16_t version) MUST_CHECK;

/* With an ITS (its fd; gic fd its GICv3): write the ITS's tables and the LPIs' pending bits
 * into guest memory (so save guest memory after this), then append each vCPU's redistributor
 * LPI registers and the ITS's registers to the open section. 0 or -errno (logged). */
int arm64_its_save(int gic_fd, int its_fd, const uint64_t *mpidr, unsigned nr_vcpus,
		   struct state_buf *b) MUST_CHECK;
/* Load the selected section, after arm64_gic_load and with guest memory in place, in the order
 * KVM's documentation gives: the redistributors' LPI registers, GITS_IIDR, the other ITS
 * registers (GITS_CBASER before GITS_CREADR), the tables from guest memory, GITS_CTLR last.
 * 0 or -EINVAL (state_refuse). */
int arm64_its_load(int gic_fd, int its_fd, const uint64_t *mpidr, unsigned nr_vcpus,
		   struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

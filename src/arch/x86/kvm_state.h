/* kvm_state.h — save and load the state KVM keeps for an x86 VM: per vCPU (registers, special
 * registers, XSAVE or FPU, XCRs, MSRs, LAPIC, events, MP state, debug registers) and per VM (PIC,
 * IOAPIC, PIT, kvm-clock), as sections of a state stream (state/state.h). */
#ifndef KILN_ARCH_X86_KVM_STATE_H
#define KILN_ARCH_X86_KVM_STATE_H

#include <stdint.h>

#include "hv/kvm.h"
#include "state/state.h"
#include "util/compiler.h"

#define X86_VCPU_STATE_VERSION	  1
#define X86_IRQCHIP_STATE_VERSION 1
#define X86_PIT_STATE_VERSION	  1
#define X86_CLOCK_STATE_VERSION	  1

/*
 * Put the payload of vCPU `vcpu_fd` (KVM id `kvm_id`) into the open section of b. The vCPU must
 * not be in KVM_RUN and must have no I/O exit pending completion (a paused kiln vCPU). MSRs: every
 * MSR in KVM's index list and feature-MSR list that KVM_GET_MSRS reads (those it refuses are left
 * out). Returns 0 or -errno (logged).
 */
int x86_vcpu_save(const struct kvm_sys *k, int vcpu_fd, uint32_t kvm_id,
		  struct state_buf *b) MUST_CHECK;

/*
 * Load the selected section (version `version`) into a freshly created vCPU. Checks every length,
 * the KVM id, the MP state, event flags, RFLAGS reserved bits and that every MSR is one this host
 * lists and appears once; a value KVM refuses is an error too. Returns 0, or -EINVAL with a
 * one-line message naming what was wrong ("vcpu.N: ..."), or -errno of a failed ioctl.
 */
int x86_vcpu_load(const struct kvm_sys *k, int vcpu_fd, uint32_t kvm_id, struct state_buf *b,
		  uint16_t version) MUST_CHECK;

/* VM-wide sections: "irqchip" (PIC master, PIC slave, IOAPIC), "pit" (KVM_GET_PIT2), "clock"
 * (KVM_GET_CLOCK). Save writes all three sections itself; load reads them and validates (IOAPIC
 * base, PIT flags and modes, lengths). 0 or -errno (-EINVAL with a message for bad input). */
int x86_vm_save(int vm_fd, struct state_buf *b) MUST_CHECK;
int x86_vm_load(int vm_fd, struct state_buf *b) MUST_CHECK;

#endif

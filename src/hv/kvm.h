/* kvm.h — thin, named wrappers around the KVM ioctls kiln uses; the only place they are issued. */
#ifndef KILN_HV_KVM_H
#define KILN_HV_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "util/compiler.h"

#if defined(__x86_64__)
#define KVM_CPUID1_ECX_TSC_DEADLINE (1u << 24) /* CPUID.1:ECX: TSC-deadline LAPIC timer mode */
#endif

/* The host's KVM: /dev/kvm and what it reports once. */
struct kvm_sys {
	int fd;
	size_t run_size; /* KVM_GET_VCPU_MMAP_SIZE */
	int max_vcpus;
#if defined(__x86_64__)
	struct kvm_cpuid2 *cpuid;  /* KVM_GET_SUPPORTED_CPUID, plus TSC-deadline if KVM has it */
	struct kvm_msr_list *msrs; /* KVM_GET_MSR_INDEX_LIST */
#endif
};

/* Open /dev/kvm (path overridable with KILN_KVM_DEV), check the API version and the capabilities
 * kiln needs, and read what the architecture reports once (x86: supported CPUID and MSRs).
 * Returns 0 or -errno (message logged). */
int kvm_sys_open(struct kvm_sys *k) MUST_CHECK;
void kvm_sys_close(struct kvm_sys *k);

/* KVM_CHECK_EXTENSION on fd (system or VM fd): the capability's value, 0 if absent. */
int kvm_cap(int fd, long cap);

/* Create a VM; *vm_fd set on success. */
int kvm_vm_create(const struct kvm_sys *k, int *vm_fd) MUST_CHECK;

/* KVM_SET_USER_MEMORY_REGION; size 0 deletes the slot. */
int kvm_set_memory_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
			  void *host) MUST_CHECK;

/* KVM_GET_DIRTY_LOG of a slot registered with KVM_MEM_LOG_DIRTY_PAGES: copy its bitmap (one bit
 * per 4 KiB page, 64-bit aligned) into bitmap and reset it (without MANUAL_DIRTY_LOG_PROTECT2
 * enabled the kernel write-protects the pages again in the same ioctl). 0 or -errno. */
int kvm_get_dirty_log(int vm_fd, uint32_t slot, uint64_t *bitmap) MUST_CHECK;

/* Drive a GSI line of the in-kernel irqchip. */
int kvm_irq_line(int vm_fd, uint32_t gsi, int level) MUST_CHECK;

/* KVM_IOEVENTFD: signal `fd` when the guest writes `len` bytes equal to `datamatch` at MMIO address
 * `addr` (the write completes in the kernel, no exit). deassign removes it. */
int kvm_ioeventfd(int vm_fd, uint64_t addr, uint32_t len, uint64_t datamatch, int fd,
		  bool deassign) MUST_CHECK;
/* KVM_IRQFD: a write to `fd` raises GSI `gsi` (edge). deassign removes it. */
int kvm_irqfd(int vm_fd, int fd, uint32_t gsi, bool deassign) MUST_CHECK;

/* An MSI vector's irqfd, assigned only while the vector is unmasked: assign (on) or deassign fd
 * on gsi unless *wired already says so, and record it in *wired. What fd counts while it is not
 * assigned is delivered when it is assigned again (KVM checks the eventfd on assignment). 0 or
 * KVM's -errno (*wired unchanged). */
int kvm_irqfd_wire(int vm_fd, int fd, uint32_t gsi, bool *wired, bool on) MUST_CHECK;

/* KVM_IRQFD with KVM_IRQFD_FLAG_RESAMPLE, for a level-triggered line (INTx): a write to `fd`
 * asserts GSI `gsi`; when the guest acknowledges the interrupt KVM lowers the line and signals
 * `resample_fd` (the source re-asserts if it is still pending). deassign removes it. */
int kvm_irqfd_resample(int vm_fd, int fd, int resample_fd, uint32_t gsi, bool deassign) MUST_CHECK;

/* KVM_SET_GSI_ROUTING: the VM's whole routing table becomes `r` (nr entries). */
int kvm_set_gsi_routing(int vm_fd, const struct kvm_irq_routing *r) MUST_CHECK;

/* The routes KVM sets up with the in-kernel irqchip (x86: GSI 0-15 to both PICs and the IOAPIC,
 * 16-23 to the IOAPIC; arm64: GSI n to SPI n for the vGIC's nr_spis), written to e (room for
 * cap entries): how many, or -ENOSPC. A routing table kiln sets must keep them. */
int kvm_default_routes(struct kvm_irq_routing_entry *e, unsigned cap, unsigned nr_spis);

/* Create vCPU `id` and map its kvm_run; *fd and *run set on success. */
int kvm_vcpu_create(const struct kvm_sys *k, int vm_fd, unsigned id, int *fd,
		    struct kvm_run **run) MUST_CHECK;
void kvm_vcpu_destroy(const struct kvm_sys *k, int fd, struct kvm_run *run);

/* KVM_RUN: 0 after an exit, -EINTR when interrupted by a signal or immediate_exit, else -errno. */
int kvm_vcpu_run(int vcpu_fd);

/* KVM_GET/SET_MP_STATE (x86: APs waiting for INIT/SIPI; arm64: vCPUs powered off by PSCI). */
int kvm_set_mp_state(int vcpu_fd, uint32_t state) MUST_CHECK;
int kvm_get_mp_state(int vcpu_fd, uint32_t *state) MUST_CHECK;

#if defined(__x86_64__)
#include "hv/kvm_x86.h"
#elif defined(__aarch64__)
#include "hv/kvm_arm64.h"
#endif

#endif

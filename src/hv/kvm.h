/* kvm.h — thin, named wrappers around the KVM ioctls kiln uses; the only place they are issued. */
#ifndef KILN_HV_KVM_H
#define KILN_HV_KVM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "util/compiler.h"

/* The host's KVM: /dev/kvm and what it reports once. */
struct kvm_sys {
	int fd;
	size_t run_size;	   /* KVM_GET_VCPU_MMAP_SIZE */
	struct kvm_cpuid2 *cpuid;  /* KVM_GET_SUPPORTED_CPUID */
	struct kvm_msr_list *msrs; /* KVM_GET_MSR_INDEX_LIST */
	int max_vcpus;
};

/* Open /dev/kvm (path overridable with KILN_KVM_DEV), check the API version and the capabilities
 * kiln needs, and read supported CPUID and MSRs. Returns 0 or -errno (message logged). */
int kvm_sys_open(struct kvm_sys *k) MUST_CHECK;
void kvm_sys_close(struct kvm_sys *k);

/* KVM_CHECK_EXTENSION on fd (system or VM fd): the capability's value, 0 if absent. */
int kvm_cap(int fd, long cap);

/* Non-zero if msr is in the host's KVM_GET_MSR_INDEX_LIST. */
int kvm_msr_supported(const struct kvm_sys *k, uint32_t msr);

/* Create a VM; *vm_fd set on success. */
int kvm_vm_create(const struct kvm_sys *k, int *vm_fd) MUST_CHECK;

/* KVM_SET_USER_MEMORY_REGION; size 0 deletes the slot. */
int kvm_set_memory_region(int vm_fd, uint32_t slot, uint32_t flags, uint64_t gpa, uint64_t size,
			  void *host) MUST_CHECK;

/* x86 board pieces (each logs its own failure). */
int kvm_set_tss_addr(int vm_fd, uint64_t gpa) MUST_CHECK;
int kvm_set_identity_map_addr(int vm_fd, uint64_t gpa) MUST_CHECK;
int kvm_create_irqchip(int vm_fd) MUST_CHECK;
int kvm_create_pit2(int vm_fd) MUST_CHECK;
/* Drive a GSI line of the in-kernel irqchip. */
int kvm_irq_line(int vm_fd, uint32_t gsi, int level) MUST_CHECK;

/* KVM_IOEVENTFD: signal `fd` when the guest writes `len` bytes equal to `datamatch` at MMIO address
 * `addr` (the write completes in the kernel, no exit). deassign removes it. */
int kvm_ioeventfd(int vm_fd, uint64_t addr, uint32_t len, uint64_t datamatch, int fd,
		  bool deassign) MUST_CHECK;
/* KVM_IRQFD: a write to `fd` raises GSI `gsi` (edge). deassign removes it. */
int kvm_irqfd(int vm_fd, int fd, uint32_t gsi, bool deassign) MUST_CHECK;

/* Create vCPU `id` and map its kvm_run; *fd and *run set on success. */
int kvm_vcpu_create(const struct kvm_sys *k, int vm_fd, unsigned id, int *fd,
		    struct kvm_run **run) MUST_CHECK;
void kvm_vcpu_destroy(const struct kvm_sys *k, int fd, struct kvm_run *run);

/* KVM_RUN: 0 after an exit, -EINTR when interrupted by a signal or immediate_exit, else -errno. */
int kvm_vcpu_run(int vcpu_fd);

int kvm_get_regs(int vcpu_fd, struct kvm_regs *r) MUST_CHECK;
int kvm_set_regs(int vcpu_fd, const struct kvm_regs *r) MUST_CHECK;
int kvm_get_sregs(int vcpu_fd, struct kvm_sregs *s) MUST_CHECK;
int kvm_set_sregs(int vcpu_fd, const struct kvm_sregs *s) MUST_CHECK;
int kvm_get_fpu(int vcpu_fd, struct kvm_fpu *f) MUST_CHECK;
int kvm_set_fpu(int vcpu_fd, const struct kvm_fpu *f) MUST_CHECK;
int kvm_set_cpuid(int vcpu_fd, const struct kvm_cpuid2 *c) MUST_CHECK;
/* KVM_GET_CPUID2 into c (c->nent = room on entry, entries filled on return); -E2BIG if short. */
int kvm_get_cpuid(int vcpu_fd, struct kvm_cpuid2 *c) MUST_CHECK;
/* KVM_SET_MSRS; returns 0 only if all nmsrs were set. */
int kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *m) MUST_CHECK;
/* KVM_GET_MSRS of m->entries[].index; returns 0 only if all nmsrs were read. */
int kvm_get_msrs(int vcpu_fd, struct kvm_msrs *m) MUST_CHECK;
int kvm_get_lapic(int vcpu_fd, struct kvm_lapic_state *l) MUST_CHECK;
int kvm_set_lapic(int vcpu_fd, const struct kvm_lapic_state *l) MUST_CHECK;
int kvm_set_mp_state(int vcpu_fd, uint32_t state) MUST_CHECK;

/* --- state capture (snapshots, migration); each logs its own failure --- */

/* KVM_GET_MSR_FEATURE_INDEX_LIST: a malloc'ed list (free it), or NULL if KVM has none. */
struct kvm_msr_list *kvm_feature_msr_list(const struct kvm_sys *k);
int kvm_get_mp_state(int vcpu_fd, uint32_t *state) MUST_CHECK;
/* XSAVE area of `len` bytes: KVM_GET_XSAVE2 when len > 4096 or KVM_CAP_XSAVE2 is present (pass
 * xsave2 true), else KVM_GET_XSAVE; KVM_SET_XSAVE reads len bytes. buf is len bytes. */
int kvm_get_xsave(int vcpu_fd, void *buf, bool xsave2) MUST_CHECK;
int kvm_set_xsave(int vcpu_fd, const void *buf) MUST_CHECK;
int kvm_get_xcrs(int vcpu_fd, struct kvm_xcrs *x) MUST_CHECK;
int kvm_set_xcrs(int vcpu_fd, const struct kvm_xcrs *x) MUST_CHECK;
int kvm_get_vcpu_events(int vcpu_fd, struct kvm_vcpu_events *e) MUST_CHECK;
int kvm_set_vcpu_events(int vcpu_fd, const struct kvm_vcpu_events *e) MUST_CHECK;
int kvm_get_debugregs(int vcpu_fd, struct kvm_debugregs *d) MUST_CHECK;
int kvm_set_debugregs(int vcpu_fd, const struct kvm_debugregs *d) MUST_CHECK;
/* KVM_GET_MSRS that may stop early: the number of MSRs read (0..nmsrs) or -errno. Quiet. */
int kvm_get_msrs_partial(int vcpu_fd, struct kvm_msrs *m);
/* KVM_SET_MSRS that may stop early: the number of MSRs written or -errno. Quiet. */
int kvm_set_msrs_partial(int vcpu_fd, const struct kvm_msrs *m);
/* VM-wide: in-kernel irqchips (chip_id set by the caller), PIT, kvm-clock. */
int kvm_get_irqchip(int vm_fd, struct kvm_irqchip *c) MUST_CHECK;
int kvm_set_irqchip(int vm_fd, const struct kvm_irqchip *c) MUST_CHECK;
int kvm_get_pit2(int vm_fd, struct kvm_pit_state2 *p) MUST_CHECK;
int kvm_set_pit2(int vm_fd, const struct kvm_pit_state2 *p) MUST_CHECK;
int kvm_get_clock(int vm_fd, struct kvm_clock_data *c) MUST_CHECK;
int kvm_set_clock(int vm_fd, const struct kvm_clock_data *c) MUST_CHECK;

#endif

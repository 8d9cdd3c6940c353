/* kvm_x86.h — the x86-only KVM ioctl wrappers (kvm_x86.c); included by hv/kvm.h on x86_64. */
#ifndef KILN_HV_KVM_X86_H
#define KILN_HV_KVM_X86_H

/* Non-zero if msr is in the host's KVM_GET_MSR_INDEX_LIST. */
int kvm_msr_supported(const struct kvm_sys *k, uint32_t msr);

/* x86 board pieces (each logs its own failure). */
int kvm_set_tss_addr(int vm_fd, uint64_t gpa) MUST_CHECK;
int kvm_set_identity_map_addr(int vm_fd, uint64_t gpa) MUST_CHECK;
int kvm_create_irqchip(int vm_fd) MUST_CHECK;
int kvm_create_pit2(int vm_fd) MUST_CHECK;
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
/* --- state capture (snapshots, migration); each logs its own failure --- */
/* KVM_GET_MSR_FEATURE_INDEX_LIST: a malloc'ed list (free it), or NULL if KVM has none. */
struct kvm_msr_list *kvm_feature_msr_list(const struct kvm_sys *k);
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

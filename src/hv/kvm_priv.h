/* kvm_priv.h — what the KVM wrapper files (kvm.c and kvm_<arch>.c) share; nothing else includes
 * it. */
#ifndef KILN_HV_KVM_PRIV_H
#define KILN_HV_KVM_PRIV_H

#include "hv/kvm.h"

/* ioctl(fd, req, arg), retried on EINTR (except KVM_RUN); on failure logs "what: cause" and
 * returns -errno, else the ioctl's result. */
int kvm_xioctl(int fd, unsigned long req, void *arg, const char *what);
/* As kvm_xioctl, but 0 on success: for ioctls whose positive results carry nothing. */
int kvm_xioctl0(int fd, unsigned long req, void *arg, const char *what);
#define IOCTL(fd, req, arg) kvm_xioctl0(fd, req, (void *)(arg), #req)

/* One capability kiln cannot work without. */
struct kvm_need {
	long cap;
	const char *name;
};

/* The architecture's part of kvm_sys_open: the capabilities it needs (a table ending with a
 * zero cap) ... */
extern const struct kvm_need kvm_arch_needs[];
/* ... and what it reads from the system fd once (x86: supported CPUID and MSRs). 0 or -errno,
 * logged; kvm_arch_close frees it, also after a failure. */
int kvm_arch_open(struct kvm_sys *k) MUST_CHECK;
void kvm_arch_close(struct kvm_sys *k);

#endif

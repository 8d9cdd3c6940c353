/* seccomp_ioctls.c — the x86 KVM ioctls in kiln's seccomp allow-lists (src/seccomp/rules.h). */
#include <linux/kvm.h>
#include <ucontext.h>

#include "seccomp/rules.h"

#define GET (SC_VMM | SC_MIG | SC_REBUILD) /* state reads: snapshots and migration */

static const struct seccomp_ioctl x86_ioctls[] = {
    SC_IOCTL(KVM_GET_REGS, GET | SC_VCPU), /* a vCPU reports its RIP when it fails */
    SC_IOCTL(KVM_GET_SREGS, GET | SC_VCPU),
    SC_IOCTL(KVM_GET_FPU, GET),
    SC_IOCTL(KVM_GET_MSRS, GET),
    SC_IOCTL(KVM_GET_LAPIC, GET),
    SC_IOCTL(KVM_GET_XSAVE, GET),
    SC_IOCTL(KVM_GET_XSAVE2, GET),
    SC_IOCTL(KVM_GET_XCRS, GET),
    SC_IOCTL(KVM_GET_VCPU_EVENTS, GET),
    SC_IOCTL(KVM_GET_DEBUGREGS, GET),
    SC_IOCTL(KVM_GET_CPUID2, GET),
    SC_IOCTL(KVM_GET_IRQCHIP, GET),
    SC_IOCTL(KVM_GET_PIT2, GET),
    SC_IOCTL(KVM_GET_CLOCK, GET),
    SC_IOCTL(KVM_SET_CLOCK, SC_VMM | SC_REBUILD), /* the guest's clock on resume */
    /* building a VM and loading its state (a restart) */
    SC_IOCTL(KVM_SET_REGS, SC_REBUILD),
    SC_IOCTL(KVM_SET_SREGS, SC_REBUILD),
    SC_IOCTL(KVM_SET_FPU, SC_REBUILD),
    SC_IOCTL(KVM_SET_MSRS, SC_REBUILD),
    SC_IOCTL(KVM_SET_LAPIC, SC_REBUILD),
    SC_IOCTL(KVM_SET_XSAVE, SC_REBUILD),
    SC_IOCTL(KVM_SET_XCRS, SC_REBUILD),
    SC_IOCTL(KVM_SET_VCPU_EVENTS, SC_REBUILD),
    SC_IOCTL(KVM_SET_DEBUGREGS, SC_REBUILD),
    SC_IOCTL(KVM_SET_CPUID2, SC_REBUILD),
    SC_IOCTL(KVM_SET_IRQCHIP, SC_REBUILD),
    SC_IOCTL(KVM_SET_PIT2, SC_REBUILD),
    SC_IOCTL(KVM_GET_SUPPORTED_CPUID, GET), /* read-only questions to /dev/kvm */
    SC_IOCTL(KVM_GET_MSR_INDEX_LIST, GET),
    SC_IOCTL(KVM_GET_MSR_FEATURE_INDEX_LIST, GET), /* which MSRs a snapshot saves */
    SC_IOCTL(KVM_SET_TSS_ADDR, SC_REBUILD),
    SC_IOCTL(KVM_SET_IDENTITY_MAP_ADDR, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_IRQCHIP, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_PIT2, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_DEVICE, SC_REBUILD), /* KVM's VFIO device (passthrough) */
    SC_IOCTL(KVM_SET_DEVICE_ATTR, SC_REBUILD),
};

const struct seccomp_ioctl *arch_seccomp_ioctls(size_t *n)
{
	*n = sizeof(x86_ioctls) / sizeof(x86_ioctls[0]);
	return x86_ioctls;
}

unsigned long arch_seccomp_arg1(const void *uc)
{
	return (unsigned long)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI];
}

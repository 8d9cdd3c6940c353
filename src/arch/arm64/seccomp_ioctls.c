/* seccomp_ioctls.c — the arm64 KVM ioctls in kiln's seccomp allow-lists (src/seccomp/rules.h). */
#include <linux/kvm.h>
#include <ucontext.h>

#include "seccomp/rules.h"

#define GET (SC_VMM | SC_MIG | SC_REBUILD) /* state reads: snapshots and migration */

static const struct seccomp_ioctl arm64_ioctls[] = {
    SC_IOCTL(KVM_GET_ONE_REG, GET | SC_VCPU), /* a vCPU reports its PC when it fails */
    SC_IOCTL(KVM_GET_REG_LIST, GET),
    SC_IOCTL(KVM_GET_DEVICE_ATTR, GET), /* the GIC's state */
    SC_IOCTL(KVM_HAS_DEVICE_ATTR, GET),
    /* the ITS's tables and the LPIs' pending bits written to guest memory before a save; and
     * building a VM and loading its state */
    SC_IOCTL(KVM_SET_DEVICE_ATTR, GET | SC_REBUILD),
    /* building a VM and loading its state (a restart) */
    SC_IOCTL(KVM_SET_ONE_REG, SC_REBUILD),
    SC_IOCTL(KVM_ARM_PREFERRED_TARGET, SC_REBUILD),
    SC_IOCTL(KVM_ARM_VCPU_INIT, SC_REBUILD),
    SC_IOCTL(KVM_CREATE_DEVICE, SC_REBUILD),
};

const struct seccomp_ioctl *arch_seccomp_ioctls(size_t *n)
{
	*n = sizeof(arm64_ioctls) / sizeof(arm64_ioctls[0]);
	return arm64_ioctls;
}

unsigned long arch_seccomp_arg1(const void *uc)
{
	return (unsigned long)((const ucontext_t *)uc)->uc_mcontext.regs[1];
}

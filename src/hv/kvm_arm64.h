/* kvm_arm64.h — the arm64-only KVM ioctl wrappers (kvm_arm64.c); included by hv/kvm.h on
 * aarch64. Each logs its own failure and returns 0 or -errno. */
#ifndef KILN_HV_KVM_ARM64_H
#define KILN_HV_KVM_ARM64_H

/* KVM_ARM_PREFERRED_TARGET: the vCPU target (and features) this host suggests. */
int kvm_arm_preferred_target(int vm_fd, struct kvm_vcpu_init *init) MUST_CHECK;
/* KVM_ARM_VCPU_INIT: reset the vCPU to `init`'s target with its feature bits. */
int kvm_arm_vcpu_init(int vcpu_fd, const struct kvm_vcpu_init *init) MUST_CHECK;

/* KVM_GET_ONE_REG / KVM_SET_ONE_REG of register `id` (its size is encoded in the id; val points
 * at that many bytes). */
int kvm_get_one_reg(int vcpu_fd, uint64_t id, void *val) MUST_CHECK;
int kvm_set_one_reg(int vcpu_fd, uint64_t id, const void *val) MUST_CHECK;
/* KVM_GET_REG_LIST: a malloc'ed list of every register id of the vCPU (free it), or NULL. */
struct kvm_reg_list *kvm_get_reg_list(int vcpu_fd);

/* KVM_CREATE_DEVICE of `type` (e.g. KVM_DEV_TYPE_ARM_VGIC_V3); *fd set on success. */
int kvm_create_device(int vm_fd, uint32_t type, int *fd) MUST_CHECK;
/* KVM_SET_DEVICE_ATTR / KVM_GET_DEVICE_ATTR of (group, attr) with the value at addr (NULL for
 * attributes without one). */
int kvm_set_device_attr(int dev_fd, uint32_t group, uint64_t attr, const void *addr) MUST_CHECK;
int kvm_get_device_attr(int dev_fd, uint32_t group, uint64_t attr, void *addr) MUST_CHECK;
/* kvm_get_device_attr without the error log, for optional registers: 0 or -errno. */
int kvm_get_device_attr_quiet(int dev_fd, uint32_t group, uint64_t attr, void *addr) MUST_CHECK;
/* KVM_HAS_DEVICE_ATTR: true if the device knows (group, attr). Quiet. */
bool kvm_has_device_attr(int dev_fd, uint32_t group, uint64_t attr);

#endif

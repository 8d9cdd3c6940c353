/* kvm_arm64.c — the arm64-only KVM ioctl wrappers: vCPU targets and features, ONE_REG register
 * access, and in-kernel devices (the GICv3) with their attributes; each logs the failing ioctl
 * with its cause and returns -errno, as in kvm.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/kvm.h"
#include "hv/kvm_priv.h"
#include "util/log.h"

const struct kvm_need kvm_arch_needs[] = {
    {KVM_CAP_ONE_REG, "KVM_CAP_ONE_REG"},	    {KVM_CAP_DEVICE_CTRL, "KVM_CAP_DEVICE_CTRL"},
    {KVM_CAP_ARM_PSCI_0_2, "KVM_CAP_ARM_PSCI_0_2"}, {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},	    {0, NULL},
};

int kvm_arch_open(struct kvm_sys *k)
{
	(void)k;
	return 0;
}

void kvm_arch_close(struct kvm_sys *k)
{
	(void)k;
}

int kvm_arm_preferred_target(int vm_fd, struct kvm_vcpu_init *init)
{
	return IOCTL(vm_fd, KVM_ARM_PREFERRED_TARGET, init);
}

int kvm_arm_vcpu_init(int vcpu_fd, const struct kvm_vcpu_init *init)
{
	return IOCTL(vcpu_fd, KVM_ARM_VCPU_INIT, init);
}

int kvm_get_one_reg(int vcpu_fd, uint64_t id, void *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)val};

	return IOCTL(vcpu_fd, KVM_GET_ONE_REG, &r);
}

int kvm_set_one_reg(int vcpu_fd, uint64_t id, const void *val)
{
	struct kvm_one_reg r = {.id = id, .addr = (uint64_t)(uintptr_t)val};

	return IOCTL(vcpu_fd, KVM_SET_ONE_REG, &r);
}

struct kvm_reg_list *kvm_get_reg_list(int vcpu_fd)
{
	struct kvm_reg_list probe = {.n = 0}, *l;

	if (ioctl(vcpu_fd, KVM_GET_REG_LIST, &probe) < 0 && errno != E2BIG) {
		log_err("KVM_GET_REG_LIST: %s", strerror(errno));
		return NULL;
	}
	l = calloc(1, sizeof(*l) + probe.n * sizeof(l->reg[0]));
	if (!l)
		return NULL;
	l->n = probe.n;
	if (IOCTL(vcpu_fd, KVM_GET_REG_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int kvm_default_routes(struct kvm_irq_routing_entry *e, unsigned cap, unsigned nr_spis)
{
	if (cap < nr_spis)
		return -ENOSPC;
	for (uint32_t gsi = 0; gsi < nr_spis; gsi++) /* vgic_irqfd.c: GSI n is SPI n */
		e[gsi] = (struct kvm_irq_routing_entry){.gsi = gsi,
							.type = KVM_IRQ_ROUTING_IRQCHIP,
							.u.irqchip = {.irqchip = 0, .pin = gsi}};
	return (int)nr_spis;
}

int kvm_create_device(int vm_fd, uint32_t type, int *fd)
{
	struct kvm_create_device d = {.type = type};
	int ret = IOCTL(vm_fd, KVM_CREATE_DEVICE, &d);

	if (ret == 0)
		*fd = (int)d.fd;
	return ret;
}

int kvm_set_device_attr(int dev_fd, uint32_t group, uint64_t attr, const void *addr)
{
	struct kvm_device_attr a = {
	    .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr};

	return IOCTL(dev_fd, KVM_SET_DEVICE_ATTR, &a);
}

int kvm_get_device_attr(int dev_fd, uint32_t group, uint64_t attr, void *addr)
{
	struct kvm_device_attr a = {
	    .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr};

	return IOCTL(dev_fd, KVM_GET_DEVICE_ATTR, &a);
}

int kvm_get_device_attr_quiet(int dev_fd, uint32_t group, uint64_t attr, void *addr)
{
	struct kvm_device_attr a = {
	    .group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)addr};

	return ioctl(dev_fd, KVM_GET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

bool kvm_has_device_attr(int dev_fd, uint32_t group, uint64_t attr)
{
	struct kvm_device_attr a = {.group = group, .attr = attr};

	return ioctl(dev_fd, KVM_HAS_DEVICE_ATTR, &a) == 0;
}

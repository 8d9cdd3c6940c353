/* cpu.c — arm64 vCPU setup (target, PSCI, MPIDR, entry registers) and the in-kernel GICv3 and
 * its ITS. */
#include <errno.h>
#include <stddef.h>

#include "arch/arm64/cpu.h"
#include "arch/arm64/layout.h"
#include "hv/kvm.h"
#include "util/log.h"

/* ONE_REG ids: a core register (struct kvm_regs offset in 32-bit words) and MPIDR_EL1. */
#define CORE_REG(field)                                                                            \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |                                     \
	 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))
#define REG_MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

int arm64_vcpu_init(int fd, const struct kvm_vcpu_init *target, unsigned index, uint64_t mpidr)
{
	struct kvm_vcpu_init init = *target;
	uint64_t got = 0;
	int ret;

	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (index > 0) /* secondaries wait for the guest's PSCI CPU_ON */
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	ret = kvm_arm_vcpu_init(fd, &init);
	if (ret == 0)
		ret = kvm_get_one_reg(fd, REG_MPIDR_EL1, &got);
	if (ret == 0 && got != mpidr) {
		log_err("vCPU %u: KVM gave it MPIDR %#llx, the device tree names %#llx", index,
			(unsigned long long)got, (unsigned long long)mpidr);
		return -EPROTO;
	}
	return ret;
}

int arm64_boot_regs_set(int fd, uint64_t entry, uint64_t fdt_gpa)
{
	uint64_t zero = 0;
	int ret = kvm_set_one_reg(fd, CORE_REG(regs.pc), &entry);

	if (ret == 0)
		ret = kvm_set_one_reg(fd, CORE_REG(regs.regs[0]), &fdt_gpa);
	for (unsigned i = 1; i <= 3 && ret == 0; i++)
		ret = kvm_set_one_reg(fd, CORE_REG(regs.regs[0]) + 2 * i, &zero);
	return ret;
}

int arm64_vcpu_pc(int fd, uint64_t *pc)
{
	return kvm_get_one_reg(fd, CORE_REG(regs.pc), pc);
}

int arm64_gic_create(int vm_fd, unsigned nr_vcpus, int *fd)
{
	uint64_t dist = ARM64_GICD_GPA, redist = ARM64_GICR_GPA;
	int ret;

	if (nr_vcpus > ARM64_MAX_VCPUS) {
		log_err("GICv3: %u vCPUs, the redistributor region holds %llu", nr_vcpus,
			(unsigned long long)ARM64_MAX_VCPUS);
		return -EINVAL;
	}
	ret = kvm_create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_V3, fd);
	if (ret < 0)
		return ret;
	ret =
	    kvm_set_device_attr(*fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
	if (ret == 0)
		ret = kvm_set_device_attr(*fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
					  KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
	return ret;
}

int arm64_gic_init(int fd)
{
	uint32_t nr_irqs = ARM64_NR_IRQS;
	int ret = kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);

	if (ret == 0)
		ret = kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
					  NULL);
	return ret;
}

int arm64_its_create(int vm_fd, int *fd)
{
	uint64_t base = ARM64_ITS_GPA;
	int ret = kvm_create_device(vm_fd, KVM_DEV_TYPE_ARM_VGIC_ITS, fd);

	if (ret == 0)
		ret = kvm_set_device_attr(*fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE,
					  &base);
	return ret;
}

int arm64_its_init(int fd)
{
	return kvm_set_device_attr(fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL);
}

uint32_t arm64_irq_line_spi(uint32_t spi)
{
	return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT | (32 + spi);
}

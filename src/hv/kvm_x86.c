/* kvm_x86.c — the x86-only KVM ioctl wrappers (CPUID, MSRs, the PC platform, x86 vCPU state);
 * each logs the failing ioctl with its cause and returns -errno, as in kvm.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hv/kvm.h"
#include "hv/kvm_priv.h"
#include "util/log.h"

const struct kvm_need kvm_arch_needs[] = {
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {0, NULL},
};

static struct kvm_cpuid2 *get_supported_cpuid(int fd)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			break;
	}
	log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	return NULL;
}

static struct kvm_msr_list *get_msr_list(int fd)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *l;

	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		log_err("KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
		free(l);
		return NULL;
	}
	return l;
}

/* KVM_GET_SUPPORTED_CPUID left the TSC-deadline timer out of leaf 1 until KVM commit
 * 9be4ec35d668 (December 2024; Debian 12's 6.1 still does): KVM_CAP_TSC_DEADLINE_TIMER told it
 * instead, although the in-kernel LAPIC emulates it. Without it Linux programs its one-shot LAPIC
 * timer through the TMICT register, an MMIO exit KVM must decode and emulate, at every timer
 * event; with it, a WRMSR KVM takes on its fast path. QEMU and Firecracker set the bit the same
 * way. */
static void add_tsc_deadline(int fd, struct kvm_cpuid2 *c)
{
	if (kvm_cap(fd, KVM_CAP_TSC_DEADLINE_TIMER) <= 0)
		return;
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= KVM_CPUID1_ECX_TSC_DEADLINE;
}

int kvm_arch_open(struct kvm_sys *k)
{
	k->cpuid = get_supported_cpuid(k->fd);
	if (k->cpuid)
		add_tsc_deadline(k->fd, k->cpuid);
	k->msrs = get_msr_list(k->fd);
	return k->cpuid && k->msrs ? 0 : -EIO;
}

void kvm_arch_close(struct kvm_sys *k)
{
	free(k->cpuid);
	free(k->msrs);
	k->cpuid = NULL;
	k->msrs = NULL;
}

int kvm_msr_supported(const struct kvm_sys *k, uint32_t msr)
{
	for (uint32_t i = 0; k->msrs && i < k->msrs->nmsrs; i++)
		if (k->msrs->indices[i] == msr)
			return 1;
	return 0;
}

int kvm_set_tss_addr(int vm_fd, uint64_t gpa)
{
	return kvm_xioctl0(vm_fd, KVM_SET_TSS_ADDR, (void *)(uintptr_t)gpa, "KVM_SET_TSS_ADDR");
}

int kvm_set_identity_map_addr(int vm_fd, uint64_t gpa)
{
	return IOCTL(vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &gpa);
}

int kvm_create_irqchip(int vm_fd)
{
	return IOCTL(vm_fd, KVM_CREATE_IRQCHIP, NULL);
}

/* A route from gsi to pin of an in-kernel irqchip. */
static struct kvm_irq_routing_entry chip_route(uint32_t gsi, uint32_t chip, uint32_t pin)
{
	return (struct kvm_irq_routing_entry){.gsi = gsi,
					      .type = KVM_IRQ_ROUTING_IRQCHIP,
					      .u.irqchip = {.irqchip = chip, .pin = pin}};
}

int kvm_default_routes(struct kvm_irq_routing_entry *e, unsigned cap, unsigned nr_spis)
{
	unsigned n = 0;

	(void)nr_spis;
	if (cap < 16 * 2 + 8)
		return -ENOSPC;
	for (uint32_t gsi = 0; gsi < 24; gsi++) { /* KVM's default_routing (irq_comm.c) */
		if (gsi < 16)
			e[n++] = chip_route(
			    gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
		e[n++] = chip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi);
	}
	return (int)n;
}

int kvm_create_pit2(int vm_fd)
{
	struct kvm_pit_config cfg = {.flags = KVM_PIT_SPEAKER_DUMMY};

	return IOCTL(vm_fd, KVM_CREATE_PIT2, &cfg);
}

#define WRAP(fn, req, type)                                                                        \
	int fn(int vcpu_fd, type arg)                                                              \
	{                                                                                          \
		return kvm_xioctl0(vcpu_fd, req, (void *)arg, #req);                               \
	}

WRAP(kvm_get_regs, KVM_GET_REGS, struct kvm_regs *)
WRAP(kvm_set_regs, KVM_SET_REGS, const struct kvm_regs *)
WRAP(kvm_get_sregs, KVM_GET_SREGS, struct kvm_sregs *)
WRAP(kvm_set_sregs, KVM_SET_SREGS, const struct kvm_sregs *)
WRAP(kvm_get_fpu, KVM_GET_FPU, struct kvm_fpu *)
WRAP(kvm_set_fpu, KVM_SET_FPU, const struct kvm_fpu *)
WRAP(kvm_set_cpuid, KVM_SET_CPUID2, const struct kvm_cpuid2 *)
WRAP(kvm_get_cpuid, KVM_GET_CPUID2, struct kvm_cpuid2 *)
WRAP(kvm_get_lapic, KVM_GET_LAPIC, struct kvm_lapic_state *)
WRAP(kvm_set_lapic, KVM_SET_LAPIC, const struct kvm_lapic_state *)

int kvm_set_msrs(int vcpu_fd, const struct kvm_msrs *m)
{
	int n = kvm_xioctl(vcpu_fd, KVM_SET_MSRS, (void *)m, "KVM_SET_MSRS");

	if (n < 0)
		return n;
	if ((uint32_t)n != m->nmsrs) {
		log_err("KVM_SET_MSRS: MSR %#x refused", m->entries[n].index);
		return -EINVAL;
	}
	return 0;
}

int kvm_get_msrs(int vcpu_fd, struct kvm_msrs *m)
{
	int n = kvm_xioctl(vcpu_fd, KVM_GET_MSRS, m, "KVM_GET_MSRS");

	if (n < 0)
		return n;
	if ((uint32_t)n != m->nmsrs) {
		log_err("KVM_GET_MSRS: MSR %#x refused", m->entries[n].index);
		return -EINVAL;
	}
	return 0;
}

/* --- state capture --- */

struct kvm_msr_list *kvm_feature_msr_list(const struct kvm_sys *k)
{
	struct kvm_msr_list probe = {.nmsrs = 0}, *l;

	if (ioctl(k->fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return NULL;
	l = calloc(1, sizeof(*l) + probe.nmsrs * sizeof(l->indices[0]));
	if (!l)
		return NULL;
	l->nmsrs = probe.nmsrs;
	if (ioctl(k->fd, KVM_GET_MSR_FEATURE_INDEX_LIST, l) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int kvm_get_xsave(int vcpu_fd, void *buf, bool xsave2)
{
	if (xsave2)
		return IOCTL(vcpu_fd, KVM_GET_XSAVE2, buf);
	return IOCTL(vcpu_fd, KVM_GET_XSAVE, buf);
}

int kvm_set_xsave(int vcpu_fd, const void *buf)
{
	return IOCTL(vcpu_fd, KVM_SET_XSAVE, buf);
}

WRAP(kvm_get_xcrs, KVM_GET_XCRS, struct kvm_xcrs *)
WRAP(kvm_set_xcrs, KVM_SET_XCRS, const struct kvm_xcrs *)
WRAP(kvm_get_vcpu_events, KVM_GET_VCPU_EVENTS, struct kvm_vcpu_events *)
WRAP(kvm_set_vcpu_events, KVM_SET_VCPU_EVENTS, const struct kvm_vcpu_events *)
WRAP(kvm_get_debugregs, KVM_GET_DEBUGREGS, struct kvm_debugregs *)
WRAP(kvm_set_debugregs, KVM_SET_DEBUGREGS, const struct kvm_debugregs *)
WRAP(kvm_get_irqchip, KVM_GET_IRQCHIP, struct kvm_irqchip *)
WRAP(kvm_set_irqchip, KVM_SET_IRQCHIP, const struct kvm_irqchip *)
WRAP(kvm_get_pit2, KVM_GET_PIT2, struct kvm_pit_state2 *)
WRAP(kvm_set_pit2, KVM_SET_PIT2, const struct kvm_pit_state2 *)
WRAP(kvm_get_clock, KVM_GET_CLOCK, struct kvm_clock_data *)
WRAP(kvm_set_clock, KVM_SET_CLOCK, const struct kvm_clock_data *)

int kvm_get_msrs_partial(int vcpu_fd, struct kvm_msrs *m)
{
	int n = ioctl(vcpu_fd, KVM_GET_MSRS, m);

	return n < 0 ? -errno : n;
}

int kvm_set_msrs_partial(int vcpu_fd, const struct kvm_msrs *m)
{
	int n = ioctl(vcpu_fd, KVM_SET_MSRS, m);

	return n < 0 ? -errno : n;
}

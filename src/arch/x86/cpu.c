/* cpu.c — per-vCPU x86 set-up through KVM: CPUID, boot MSRs, FPU defaults and LAPIC LINT pins. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/cpu.h"
#include "util/err.h"
#include "util/log.h"

#define MSR_IA32_SYSENTER_CS  0x174u
#define MSR_IA32_SYSENTER_ESP 0x175u
#define MSR_IA32_SYSENTER_EIP 0x176u
#define MSR_IA32_MISC_ENABLE  0x1a0u
#define MSR_MTRR_DEF_TYPE     0x2ffu
#define MSR_STAR	      0xc0000081u
#define MSR_LSTAR	      0xc0000082u
#define MSR_CSTAR	      0xc0000083u
#define MSR_SYSCALL_MASK      0xc0000084u
#define MSR_KERNEL_GS_BASE    0xc0000102u

#define MISC_ENABLE_FAST_STRING	 0x1ull
#define MISC_ENABLE_BTS_UNAVAIL	 (1ull << 11)
#define MISC_ENABLE_PEBS_UNAVAIL (1ull << 12)
#define MTRR_DEF_TYPE_E		 (1ull << 11) /* MTRRs enabled */
#define MTRR_TYPE_WB		 0x6ull

/* x87 control word after FNINIT (all exceptions masked, 64-bit precision); MXCSR after reset.
 * These equal the XSAVE init values, so they hold even where KVM's XRSTOR of a fresh vCPU treats
 * the x87/SSE components as in their init state. */
#define FPU_FCW_DEFAULT	  0x37f
#define FPU_MXCSR_DEFAULT 0x1f80

/* LVT delivery modes, bits 10:8; mask (bit 16) left clear (SDM vol. 3A, 11.5.1). */
#define LVT_DM_NMI    (0x4u << 8)
#define LVT_DM_EXTINT (0x7u << 8)

/*
 * IA32_TSC is not in this list on purpose. KVM sets every new vCPU's TSC to 0 and matches the
 * offsets of vCPUs created close together into one synchronised generation. Writing IA32_TSC
 * from userspace one vCPU at a time (as Firecracker does) would, on kernels that do not treat a
 * host write of 0 as a synchronisation request, give each vCPU a slightly different offset and
 * an unsynchronised TSC.
 */
static const struct kvm_msr_entry boot_msrs[] = {
    {.index = MSR_IA32_SYSENTER_CS},
    {.index = MSR_IA32_SYSENTER_ESP},
    {.index = MSR_IA32_SYSENTER_EIP},
    {.index = MSR_STAR},
    {.index = MSR_LSTAR},
    {.index = MSR_CSTAR},
    {.index = MSR_SYSCALL_MASK},
    {.index = MSR_KERNEL_GS_BASE},
    /* KVM resets it to BTS and PEBS unavailable; keep that true while adding fast strings. */
    {.index = MSR_IA32_MISC_ENABLE,
     .data = MISC_ENABLE_FAST_STRING | MISC_ENABLE_BTS_UNAVAIL | MISC_ENABLE_PEBS_UNAVAIL},
    {.index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_E | MTRR_TYPE_WB},
};

_Static_assert(ARRAY_SIZE(boot_msrs) <= X86_BOOT_MSRS_MAX, "X86_BOOT_MSRS_MAX too small");

size_t x86_boot_msrs(const struct kvm_sys *k, struct kvm_msr_entry *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(boot_msrs) && n < max; i++)
		if (kvm_msr_supported(k, boot_msrs[i].index))
			out[n++] = boot_msrs[i];
	return n;
}

static uint32_t lapic_get(const struct kvm_lapic_state *l, unsigned off)
{
	uint32_t v;

	memcpy(&v, &l->regs[off], sizeof(v));
	return v;
}

static void lapic_set(struct kvm_lapic_state *l, unsigned off, uint32_t v)
{
	memcpy(&l->regs[off], &v, sizeof(v));
}

void x86_lapic_boot_setup(struct kvm_lapic_state *l, uint32_t apic_id)
{
	/* Virtual wire mode (MP spec 3.6.2.2): the 8259 reaches the CPU through LINT0 as ExtINT,
	 * NMI through LINT1. Unmasked on every vCPU; Linux masks LINT0 on APs itself. */
	lapic_set(l, X86_LAPIC_ID, (apic_id & 0xffu) << 24);
	lapic_set(l, X86_LAPIC_LVT0, LVT_DM_EXTINT);
	lapic_set(l, X86_LAPIC_LVT1, LVT_DM_NMI);
}

static int cpuid_set(const struct kvm_sys *k, int vcpu_fd, const struct x86_topology *t,
		     unsigned index)
{
	struct kvm_cpuid2 *c = x86_cpuid_build(k->cpuid, t, index);
	int ret;

	if (!c) {
		log_err("vCPU %u: CPUID table: %s", index, strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = kvm_set_cpuid(vcpu_fd, c);
	free(c);
	return ret;
}

static int msrs_set(const struct kvm_sys *k, int vcpu_fd, unsigned index)
{
	struct kvm_msrs *m = calloc(1, sizeof(*m) + X86_BOOT_MSRS_MAX * sizeof(m->entries[0]));
	int ret = 0;

	if (!m) {
		log_err("vCPU %u: MSR list: %s", index, strerror(ENOMEM));
		return -ENOMEM;
	}
	m->nmsrs = (uint32_t)x86_boot_msrs(k, m->entries, X86_BOOT_MSRS_MAX);
	if (m->nmsrs)
		ret = kvm_set_msrs(vcpu_fd, m);
	free(m);
	return ret;
}

static int fpu_set(int vcpu_fd)
{
	struct kvm_fpu f;

	memset(&f, 0, sizeof(f));
	f.fcw = FPU_FCW_DEFAULT;
	f.mxcsr = FPU_MXCSR_DEFAULT;
	return kvm_set_fpu(vcpu_fd, &f);
}

static int lapic_set_boot(int vcpu_fd, uint32_t apic_id, unsigned index)
{
	struct kvm_lapic_state l;
	int ret = kvm_get_lapic(vcpu_fd, &l);

	if (ret < 0)
		return ret;
	/* KVM gives each LAPIC its vCPU id; the x2APIC ID always follows the vCPU id. */
	if (lapic_get(&l, X86_LAPIC_ID) >> 24 != apic_id)
		log_warn("vCPU %u: KVM vCPU id differs from APIC ID %u; x2APIC mode will disagree",
			 index, apic_id);
	x86_lapic_boot_setup(&l, apic_id);
	return kvm_set_lapic(vcpu_fd, &l);
}

int x86_vcpu_init(const struct kvm_sys *k, int vcpu_fd, const struct x86_topology *t,
		  unsigned index, struct kiln_err *err)
{
	uint32_t apic_id = x86_apic_id(t, index);
	int ret;

	if (apic_id >= 0xff) { /* 0xff is the xAPIC broadcast ID */
		return err_set(err, -ERANGE,
			       "vCPU %u: APIC ID %u needs x2APIC, which kiln does not set up "
			       "(choose a topology with fewer sockets or cores)",
			       index, apic_id);
	}
	ret = cpuid_set(k, vcpu_fd, t, index);
	if (ret == 0)
		ret = msrs_set(k, vcpu_fd, index);
	if (ret == 0)
		ret = fpu_set(vcpu_fd);
	if (ret == 0)
		ret = lapic_set_boot(vcpu_fd, apic_id, index);
	return ret;
}

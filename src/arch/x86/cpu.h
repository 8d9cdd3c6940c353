/* cpu.h — per-vCPU x86 set-up: CPUID with topology, MSRs, FPU and LAPIC; APIC ID numbering. */
#ifndef KILN_ARCH_X86_CPU_H
#define KILN_ARCH_X86_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "hv/kvm.h"
#include "util/compiler.h"

struct kiln_err;

struct x86_topology {
	unsigned sockets, cores, threads; /* threads per core, cores per socket */
};

/* Widths of the APIC ID fields for a topology (CPUID leaf 0xB/0x1F semantics). */
struct x86_apic_shifts {
	unsigned thread_bits; /* ceil(log2(threads)): SMT ID width, shift of the core ID */
	unsigned core_bits;   /* ceil(log2(cores)) */
	unsigned pkg_shift;   /* thread_bits + core_bits: shift of the package (socket) ID */
};

/* Fill *s for t (every count in t must be >= 1). */
void x86_apic_shifts(const struct x86_topology *t, struct x86_apic_shifts *s);

/* Number of vCPUs described by t (sockets * cores * threads), 0 on overflow of 32 bits. */
unsigned x86_topology_vcpus(const struct x86_topology *t);

/* APIC ID of vCPU `index` (0-based, socket-major): thread, core and package fields each as wide
 * as needed for their count (CPUID leaf 0xB/0x1F semantics). Increases with index. The caller
 * should create KVM vCPU `index` with this value as its KVM vCPU id: KVM derives the x2APIC ID
 * from the vCPU id. */
uint32_t x86_apic_id(const struct x86_topology *t, unsigned index);

/*
 * Build the CPUID table for vCPU `index` from the host-supported list `supported` (not
 * modified): KVM's hypervisor leaves 0x40000000.. passed through untouched, leaf 1 with the
 * initial APIC ID and logical count, leaves 4, 0xB (and 0x1F if supported) and 0x8000001E
 * describing the topology. Returns a malloc'd table (caller frees) or NULL on allocation
 * failure. Pure: unit-testable with a synthetic `supported`.
 *
 * Details: the vendor (leaf 0) decides between Intel-style (leaf 4 cache sharing and core
 * counts) and AMD-style (0x80000001 CmpLegacy, 0x80000008 NC/ApicIdCoreIdSize, 0x8000001D cache
 * sharing, 0x8000001E) fix-ups; leaf 0xB is described for both. Existing 0xB/0x1F entries are
 * replaced by SMT, core and terminating subleaves; 0xB (and 0x8000001E on AMD) is added when
 * missing but within the maximum basic (extended) leaf. No other leaf is ever added. Flags of
 * every kept entry are preserved.
 */
struct kvm_cpuid2 *x86_cpuid_build(const struct kvm_cpuid2 *supported, const struct x86_topology *t,
				   unsigned index);

/* Most entries x86_boot_msrs can produce. */
#define X86_BOOT_MSRS_MAX 16

/*
 * Fill out[] (room for `max` entries) with the boot values of the MSRs kiln initialises, keeping
 * only those in k->msrs (KVM_GET_MSR_INDEX_LIST): SYSENTER_CS/ESP/EIP, STAR, LSTAR, CSTAR, SFMASK
 * and KERNEL_GS_BASE = 0, MISC_ENABLE = fast strings + BTS/PEBS unavailable (0x1801), MTRR
 * default type = enabled + WB (0x806). IA32_TSC is deliberately not written (KVM zeroes and
 * synchronises it at vCPU creation). Returns the number of entries written (never more than max).
 */
size_t x86_boot_msrs(const struct kvm_sys *k, struct kvm_msr_entry *out, size_t max);

/* Offsets of LAPIC registers in struct kvm_lapic_state.regs. */
#define X86_LAPIC_ID   0x20
#define X86_LAPIC_LVT0 0x350
#define X86_LAPIC_LVT1 0x360

/*
 * Edit a KVM_GET_LAPIC image for boot: xAPIC ID register = apic_id (bits 31:24; apic_id must be
 * < 256), LINT0 = ExtINT and LINT1 = NMI, both unmasked, edge, active high (virtual wire mode,
 * as the MP table's local interrupt entries declare).
 */
void x86_lapic_boot_setup(struct kvm_lapic_state *l, uint32_t apic_id);

/*
 * Set up vCPU `index`: CPUID, the boot MSRs (only those in KVM's MSR index list), FPU defaults,
 * and LAPIC ID register, LVT LINT0 = ExtINT, LINT1 = NMI (x86_lapic_boot_setup). Warns if KVM's
 * LAPIC ID (the KVM vCPU id) differs from x86_apic_id. Returns 0, -ERANGE if the vCPU's APIC ID
 * is 255 or more (xAPIC only for now: reported through err_set, err may be NULL), or -errno of
 * the failing ioctl (logged).
 */
int x86_vcpu_init(const struct kvm_sys *k, int vcpu_fd, const struct x86_topology *t,
		  unsigned index, struct kiln_err *err) MUST_CHECK;

#endif

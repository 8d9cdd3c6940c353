/* cpu.h — per-vCPU x86 set-up: CPUID with topology, MSRs, FPU and LAPIC; APIC ID numbering. */
#ifndef KILN_ARCH_X86_CPU_H
#define KILN_ARCH_X86_CPU_H

#include <stdint.h>
#include <linux/kvm.h>

#include "hv/kvm.h"
#include "util/compiler.h"

struct x86_topology {
	unsigned sockets, cores, threads; /* threads per core, cores per socket */
};

/* APIC ID of vCPU `index` (0-based, socket-major): thread, core and package fields each as wide
 * as needed for their count (CPUID leaf 0xB/0x1F semantics). */
uint32_t x86_apic_id(const struct x86_topology *t, unsigned index);

/*
 * Build the CPUID table for vCPU `index` from the host-supported list `supported` (not
 * modified): KVM's hypervisor leaves 0x40000000.. passed through untouched, leaf 1 with the
 * initial APIC ID and logical count, leaves 4, 0xB (and 0x1F if supported) and 0x8000001E
 * describing the topology. Returns a malloc'd table (caller frees) or NULL on allocation
 * failure. Pure: unit-testable with a synthetic `supported`.
 */
struct kvm_cpuid2 *x86_cpuid_build(const struct kvm_cpuid2 *supported, const struct x86_topology *t,
				   unsigned index);

/*
 * Set up vCPU `index`: CPUID, the boot MSRs (only those in KVM's MSR index list), FPU defaults,
 * and LAPIC LVT LINT0 = ExtINT, LINT1 = NMI. Returns 0 or -errno (logged).
 */
int x86_vcpu_init(const struct kvm_sys *k, int vcpu_fd, const struct x86_topology *t,
		  unsigned index) MUST_CHECK;

#endif

/* mptable.h — Intel MultiProcessor Specification 1.4 tables: CPUs, IOAPIC, ISA interrupts. */
#ifndef KILN_ARCH_X86_MPTABLE_H
#define KILN_ARCH_X86_MPTABLE_H

#include "arch/x86/cpu.h"
#include "core/guest_mem.h"
#include "util/compiler.h"

/*
 * Write the MP floating pointer and configuration table at LAYOUT_MPTABLE_GPA: one processor
 * entry per vCPU (APIC IDs from x86_apic_id, BSP flagged), an ISA bus, the IOAPIC (ID after the
 * last APIC ID) and interrupt entries for ISA IRQs 0-15 plus local ExtINT/NMI. Checksums set.
 * The table may run past the 1 KiB EBDA into the reserved area below LAYOUT_BIOS_GPA.
 * Returns 0, -E2BIG if it would not fit below LAYOUT_BIOS_GPA, -EFAULT if memory is missing,
 * -EINVAL for a zero count in t, -ERANGE if an APIC ID or the IOAPIC ID would reach 0xff (MP
 * tables hold 8-bit IDs; 0xff is the broadcast ID), -ENOMEM.
 *
 * ISA IRQ n goes to IOAPIC pin n for all 16 IRQs, IRQ 0 (the PIT) included: that is KVM's
 * default GSI routing. Entries carry a fixed CPU signature (family 6) and feature flags (FPU,
 * APIC); the guest reads the real ones with CPUID.
 */
int mptable_write(struct guest_mem *m, const struct x86_topology *t) MUST_CHECK;

#endif

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
 * Returns 0, -E2BIG if it would not fit below LAYOUT_BIOS_GPA, -EFAULT if memory is missing.
 */
int mptable_write(struct guest_mem *m, const struct x86_topology *t) MUST_CHECK;

#endif

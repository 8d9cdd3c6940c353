/* acpi.h — ACPI tables for a hardware-reduced x86 machine: RSDP, XSDT, FADT, DSDT (virtio-mmio
 * devices as LNRO0005, COM ports), MADT (LAPICs per topology, IOAPIC, NMI). */
#ifndef KILN_ARCH_X86_ACPI_H
#define KILN_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpu.h"
#include "core/guest_mem.h"
#include "util/compiler.h"
#include "virtio/slots.h"

struct acpi_config {
	const struct x86_topology *topo;
	const struct virtio_slot
	    *virtio; /* windows below 4 GiB; described as \_SB.VR00, VR01, ... in this order */
	unsigned nr_virtio;    /* at most LAYOUT_VIRTIO_SLOTS */
	bool com[2];	       /* COM1 (0x3f8, IRQ 4) and COM2 (0x2f8, IRQ 3) present */
	bool rtc;	       /* the CMOS RTC at 0x70 */
	bool kbd;	       /* the i8042 at 0x60/0x64 with a keyboard on IRQ 1 */
	uint16_t pvpanic_port; /* 0: no pvpanic device */
	/* a PCI host bridge (\_SB.PCI0: bus 0, configuration ports 0xcf8-0xcff, this 32-bit
	 * memory window); pci_mem_len 0: none */
	uint32_t pci_mem_base, pci_mem_len;
	uint32_t pci_intx_gsi[4]; /* its _PRT: slot s's pin p (0-3) on pci_intx_gsi[(s + p) % 4] */
	uint32_t pci_ecam_base;	  /* its bus 0's ECAM (1 MiB): MCFG and \_SB.MRES; 0: none */
};

/*
 * Write the ACPI 6.3 tables into the reserved BIOS area [LAYOUT_ACPI_GPA, LAYOUT_ACPI_END), each
 * 16-byte aligned, in this order: RSDP (revision 2, at LAYOUT_ACPI_GPA, where a scan of
 * 0xe0000-0xfffff finds it), XSDT (-> FADT, MADT), FADT, DSDT, MADT. Sets *rsdp_gpa.
 *
 * What they describe:
 * - FADT 6.3, HW_REDUCED_ACPI: no PM timer, no SCI, no FACS. IA-PC boot flags: legacy devices
 *   (COM ports, RTC), 8042 present when cfg->kbd, no VGA; CMOS century at index 0x32. RESET_REG =
 * I/O port LAYOUT_I8042_CMD_PORT, value 0xfe (reboot=acpi). SLEEP_CONTROL_REG / SLEEP_STATUS_REG =
 * I/O ports LAYOUT_ACPI_SLEEP_PORT and +1: the board must register the acpi_sleep device there.
 * - DSDT: \_S5 = {ACPI_SLEEP_S5_TYP, 0, 0, 0}; \_SB.COM1/COM2 (PNP0501: IO + IRQNoFlags) for
 *   each cfg->com[i]; \_SB.RTC_ (PNP0B00: IO 0x70-0x71, no IRQ) with cfg->rtc; \_SB.PS2K
 *   (PNP0303: IO 0x60, IO 0x64, IRQNoFlags 1) with cfg->kbd; \_SB.PEVT (QEMU0001: IO at
 *   cfg->pvpanic_port) when set; \_SB.VRnn (LNRO0005, _UID nn: Memory32Fixed + edge/active-high
 *   exclusive Interrupt) per virtio device. A hardware-reduced machine has no preallocated ISA
 *   IRQs in Linux: it maps each device's interrupt from these _CRS, so every legacy device an
 *   OS should use must be here.
 * - MADT: LAPIC at LAYOUT_LAPIC_GPA, PCAT_COMPAT (KVM's in-kernel irqchip has the dual 8259).
 *   One Processor Local APIC per vCPU (APIC ID = x86_apic_id, ACPI processor UID = index,
 *   enabled); vCPUs whose APIC ID is 255 or more get a Processor Local x2APIC entry instead.
 *   One I/O APIC (GSI base 0) with the ID after the last APIC ID (or, if that is not below 255,
 *   the highest free ID below 255). No interrupt source overrides: kiln routes ISA IRQ n to
 *   IOAPIC pin n, edge/high (the PIT on pin 0; see mptable.c), which is what an OS assumes
 *   without overrides. Local APIC NMI on LINT1 (edge, high) for all processors, plus a Local
 *   x2APIC NMI when there are x2APIC entries.
 *
 * Returns 0; -EINVAL for a bad topology or virtio list (too many, window not below 4 GiB or
 * empty); -ERANGE if no I/O APIC ID is free; -E2BIG if the tables do not fit the area; -ENOMEM;
 * -EFAULT if guest memory does not cover the area.
 */
int acpi_write(struct guest_mem *m, const struct acpi_config *cfg, uint64_t *rsdp_gpa) MUST_CHECK;

#endif

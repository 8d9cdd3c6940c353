/* acpi.h — ACPI tables for a hardware-reduced x86 machine: RSDP, XSDT, FADT, DSDT (virtio-mmio
 * devices as LNRO0005, COM ports), MADT (LAPICs per topology, IOAPIC, overrides). */
#ifndef KILN_ARCH_X86_ACPI_H
#define KILN_ARCH_X86_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/cpu.h"
#include "core/guest_mem.h"
#include "util/compiler.h"

/* One virtio-mmio device to describe: register window and interrupt. */
struct acpi_virtio_dev {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
};

struct acpi_config {
	const struct x86_topology *topo;
	const struct acpi_virtio_dev *virtio;
	unsigned nr_virtio;
	bool com[2]; /* COM1 (0x3f8, IRQ 4) and COM2 (0x2f8, IRQ 3) present */
};

#endif

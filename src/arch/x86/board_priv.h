/* board_priv.h — the x86 board's own data, shared by its assembly (board.c) and its state
 * (board_state.c). Nothing outside src/arch/x86/ includes this: the rest of kiln sees the board
 * through core/board.h. */
#ifndef KILN_ARCH_X86_BOARD_PRIV_H
#define KILN_ARCH_X86_BOARD_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/boot.h"
#include "arch/x86/cpu.h"
#include "core/board_util.h"
#include "devices/acpi_sleep.h"
#include "devices/boot_timer.h"
#include "devices/debug_exit.h"
#include "devices/pvpanic.h"
#include "devices/testdev.h"
#include "hv/irq_routes.h"
#include "hv/vfio.h"
#include "pci/pci_bus.h"
#include "virtio/slots.h"

struct i8042;

/* What the x86 board keeps beside vm->devices (which owns every device): the devices it reaches
 * by kind (the console UART for stdin, the i8042 for Ctrl+Alt+Del), the small devices it embeds,
 * and what its tables and loaders need. */
struct board {
	struct x86_topology topo;
	struct boot_entry entry;
	struct board_uarts uarts; /* both 16550As, the console among them */
	struct i8042 *i8042;
	struct debug_exit debug_exit;
	struct testdev testdev;
	struct acpi_sleep acpi_sleep;
	struct pvpanic pvpanic;
	struct boot_timer boot_timer;
	struct virtio_slots virtio; /* transports: ACPI entries, cmdline tokens */
	/* --virtio-transport pci or --vfio: bus 0 (configuration mechanism #1, one 32-bit window)
	 * and the MSI routes of its functions' vectors; NULL otherwise */
	struct pci_bus *pci;
	struct irq_routes routes;
	unsigned nr_pci;	    /* virtio functions on the bus: the next one's "virtio.N" */
	struct vfio_container vfio; /* --vfio: the VM's container (fd -1 without) */
	uint64_t rsdp_gpa;	    /* 0: no ACPI tables */
};

#endif

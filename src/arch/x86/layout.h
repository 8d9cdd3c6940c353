/* layout.h — every fixed guest-physical address of the x86 board, in one place. */
#ifndef KILN_ARCH_X86_LAYOUT_H
#define KILN_ARCH_X86_LAYOUT_H

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/*
 * Low memory (all inside the first RAM region, which always starts at 0):
 *
 *   0x0040e  BIOS data area: EBDA segment (0x9fc0)
 *   0x00500  GDT (boot descriptors: 0x10 code, 0x18 data, 0x20 TSS)
 *   0x00520  IDT (empty; the guest installs its own)
 *   0x06000  PVH hvm_start_info, then its memory map and module list
 *   0x07000  Linux boot_params ("zero page")
 *   0x08ff0  initial stack pointer for raw and Linux 64-bit entries
 *   0x09000  PML4, 0x0a000 PDPT, 0x0b000-0x0efff four PDs: identity map of 0-4 GiB, 2 MiB pages
 *   0x20000  kernel command line (up to LAYOUT_CMDLINE_MAX bytes)
 *   0x9fc00  EBDA: MP floating pointer and MP configuration table
 *   0xe0000  BIOS area, reserved: ACPI tables (RSDP first, at 0xe0000; see acpi.h)
 *   0x100000 high memory: the kernel image is loaded here or at its ELF addresses
 */
#define LAYOUT_BDA_EBDA_PTR_GPA 0x40eULL /* BIOS data area word: the EBDA segment */
#define LAYOUT_GDT_GPA		0x500ULL
#define LAYOUT_IDT_GPA		0x520ULL
#define LAYOUT_PVH_INFO_GPA	0x6000ULL
#define LAYOUT_PVH_INFO_SIZE	0x1000ULL
#define LAYOUT_ZERO_PAGE_GPA	0x7000ULL
#define LAYOUT_BOOT_STACK_GPA	0x8ff0ULL
#define LAYOUT_PML4_GPA		0x9000ULL
#define LAYOUT_PDPT_GPA		0xa000ULL
#define LAYOUT_PD_GPA		0xb000ULL /* four consecutive pages */
#define LAYOUT_CMDLINE_GPA	0x20000ULL
#define LAYOUT_CMDLINE_MAX	0x10000ULL /* including the terminating NUL */
#define LAYOUT_EBDA_GPA		0x9fc00ULL
#define LAYOUT_MPTABLE_GPA	LAYOUT_EBDA_GPA
#define LAYOUT_LOWMEM_END	0xa0000ULL /* end of conventional memory */
#define LAYOUT_BIOS_GPA		0xe0000ULL
#define LAYOUT_BIOS_END		0x100000ULL
#define LAYOUT_ACPI_GPA		LAYOUT_BIOS_GPA /* RSDP, then XSDT, FADT, DSDT, MADT */
#define LAYOUT_ACPI_END		LAYOUT_BIOS_END
#define LAYOUT_HIMEM_GPA	0x100000ULL
#define LAYOUT_KERNEL_GPA	LAYOUT_HIMEM_GPA

/* RAM: [0, min(size, 3 GiB)) then the rest from 4 GiB. The hole between is for MMIO. */
#define LAYOUT_RAM_LOW_MAX    GiB(3)
#define LAYOUT_MMIO_HOLE_GPA  GiB(3)
#define LAYOUT_MMIO_HOLE_SIZE GiB(1)
#define LAYOUT_RAM_HIGH_GPA   GiB(4)
#define LAYOUT_MEM_MIN	      MiB(2) /* the boot structures and a tiny guest need this */
#define LAYOUT_MEM_MAX	      GiB(1024)

/* Inside the MMIO hole. */
#define LAYOUT_BOOT_TIMER_GPA	0xc0000000ULL /* --boot-timer: Firecracker's address, 4 KiB */
#define LAYOUT_VIRTIO_MMIO_GPA	0xd0000000ULL /* virtio-mmio slots, 4 KiB each */
#define LAYOUT_VIRTIO_SLOT_SIZE 0x1000ULL
#define LAYOUT_VIRTIO_SLOTS	18 /* one per GSI in LAYOUT_VIRTIO_GSIS */
/* Interrupt (IOAPIC pin = GSI) of virtio slot i: ISA IRQs no kiln device uses (not 0-4, 8), then
 * 16-23. Edge-triggered through irqfd, active high. */
/* clang-format off */
#define LAYOUT_VIRTIO_GSIS {5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
/* clang-format on */
/* With a PCI bus the last four of those GSIs are its INTx lines instead (level-triggered, shared:
 * INTA-INTD of slot s on LAYOUT_PCI_INTX_GSIS[(s + pin - 1) % 4], as the DSDT's _PRT says), and
 * the virtio-mmio slots stop short of them. */
#define LAYOUT_PCI_INTX_GSIS                                                                       \
	{                                                                                          \
		20, 21, 22, 23                                                                     \
	}
#define LAYOUT_VIRTIO_SLOTS_PCI (LAYOUT_VIRTIO_SLOTS - 4)
#define LAYOUT_PCI_MEM32_GPA	0xe0000000ULL /* --virtio-transport pci: the BARs' window */
#define LAYOUT_PCI_MEM32_SIZE	0x10000000ULL
#define LAYOUT_PCI_ECAM_GPA	0xf0000000ULL /* with a PCI bus: bus 0's ECAM, 1 MiB (MCFG) */
#define LAYOUT_TESTDEV_MMIO_GPA 0xd8000000ULL /* test device (--test-device), 4 KiB */
#define LAYOUT_TESTDEV_MMIO_LEN 0x1000ULL
#define LAYOUT_IOAPIC_GPA	0xfec00000ULL
#define LAYOUT_LAPIC_GPA	0xfee00000ULL
#define LAYOUT_IDENTITY_MAP_GPA 0xfffbc000ULL /* KVM_SET_IDENTITY_MAP_ADDR: one page */
#define LAYOUT_VFIO_MEMSLOT	64 /* KVM slots from here: passthrough BARs (guest_mem: < 32) */
#define LAYOUT_TSS_GPA		0xfffbd000ULL /* KVM_SET_TSS_ADDR: three pages */

/* Port I/O. */
#define LAYOUT_COM1_PORT       0x3f8
#define LAYOUT_I8042_IRQ       1
#define LAYOUT_COM1_IRQ	       4
#define LAYOUT_COM2_PORT       0x2f8
#define LAYOUT_COM2_IRQ	       3
#define LAYOUT_I8042_PORT      0x60 /* data 0x60, command/status 0x64 */
#define LAYOUT_I8042_CMD_PORT  0x64 /* 0xfe written here resets: the FADT's RESET_REG */
#define LAYOUT_RTC_PORT	       0x70 /* index 0x70, data 0x71 */
#define LAYOUT_RTC_IRQ	       8
#define LAYOUT_DEBUG_EXIT_PORT 0xf4 /* default; --debug-exit-port changes it */
#define LAYOUT_TESTDEV_PORT    0xe0 /* test device (--test-device), 16 ports */
#define LAYOUT_TESTDEV_PORTS   16
#define LAYOUT_ACPI_SLEEP_PORT 0x600 /* ACPI sleep control, status at +1 (with ACPI) */
#define LAYOUT_PVPANIC_PORT    0x505 /* --pvpanic (QEMU's default port) */

/* Interrupts: GSIs 0-23 route to the in-kernel IOAPIC pins. */
#define LAYOUT_IOAPIC_PINS 24

#endif

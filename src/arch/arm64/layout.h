/* layout.h — the arm64 board's guest-physical memory map and interrupt numbers: every fixed
 * address of src/arch/arm64/ is here.
 *
 *   0x0800_0000  GICv3 distributor (64 KiB)
 *   0x0808_0000  GICv3 ITS (128 KiB: control and translation frames), with PCI only
 *   0x080a_0000  GICv3 redistributors, 128 KiB per vCPU, up to 0x0900_0000 (123 vCPUs)
 *   0x0900_0000  16550A UART 0 (the console), 0x0900_1000 UART 1 (application output)
 *   0x0901_0000  PL031 real-time clock
 *   0x0a00_0000  virtio-mmio slots, 4 KiB each (a 512-byte register window)
 *   0x1000_0000  PCI: the 32-bit memory window for BARs (256 MiB), with PCI only
 *   0x3000_0000  PCI: ECAM configuration space of bus 0 (1 MiB), with PCI only
 *   0x4000_0000  DRAM: the kernel at its text_offset, the initrd and the device tree at its end
 *
 * Interrupts are GIC SPIs (INTID = 32 + SPI): UARTs 1 and 2, the RTC 3 (level, active high),
 * the virtio slots 16.. (edge, rising). The architected timer uses PPIs 13, 14, 11, 10. PCI
 * functions interrupt through MSI-X only, translated by the ITS into LPIs (no INTx).
 */
#ifndef KILN_ARCH_ARM64_LAYOUT_H
#define KILN_ARCH_ARM64_LAYOUT_H

#define ARM64_GICD_GPA	  0x08000000ULL
#define ARM64_GICD_SIZE	  0x10000ULL
#define ARM64_ITS_GPA	  0x08080000ULL /* 64 KiB-aligned, between distributor and GICR */
#define ARM64_ITS_SIZE	  0x20000ULL
#define ARM64_GICR_GPA	  0x080a0000ULL
#define ARM64_GICR_STRIDE 0x20000ULL /* RD_base + SGI_base frames of one vCPU */
#define ARM64_GICR_END	  0x09000000ULL
#define ARM64_MAX_VCPUS	  ((ARM64_GICR_END - ARM64_GICR_GPA) / ARM64_GICR_STRIDE)

#define ARM64_UART0_GPA 0x09000000ULL
#define ARM64_UART1_GPA 0x09001000ULL
#define ARM64_UART_SIZE 0x1000ULL /* the 8 registers, one byte apart, in a 4 KiB page */
#define ARM64_RTC_GPA	0x09010000ULL
#define ARM64_RTC_SIZE	0x1000ULL

#define ARM64_VIRTIO_GPA    0x0a000000ULL
#define ARM64_VIRTIO_STRIDE 0x1000ULL
#define ARM64_VIRTIO_SLOTS  32

#define ARM64_PCI_MEM32_GPA  0x10000000ULL
#define ARM64_PCI_MEM32_SIZE 0x10000000ULL
#define ARM64_PCI_ECAM_GPA   0x30000000ULL
#define ARM64_PCI_ECAM_SIZE  0x100000ULL /* bus 0 only: 32 devices x 8 functions x 4 KiB */

#define ARM64_DRAM_GPA 0x40000000ULL
#define ARM64_DRAM_MAX (1ULL << 39) /* 512 GiB: inside KVM's default 40-bit IPA space */

#define ARM64_FDT_MAX 0x200000ULL /* Linux maps at most 2 MiB of device tree */

#define ARM64_SPI_UART0	  1
#define ARM64_SPI_UART1	  2
#define ARM64_SPI_RTC	  3
#define ARM64_SPI_VIRTIO0 16  /* slot n: SPI 16 + n */
#define ARM64_NR_IRQS	  128 /* GIC interrupt IDs: 32 private, then 96 SPIs */

/* Architected timer PPIs (INTID = 16 + PPI): secure, non-secure, virtual, hypervisor. */
#define ARM64_PPI_TIMER_SEC  13
#define ARM64_PPI_TIMER_PHYS 14
#define ARM64_PPI_TIMER_VIRT 11
#define ARM64_PPI_TIMER_HYP  10
#define ARM64_PPI_GIC_MAINT  9

#endif

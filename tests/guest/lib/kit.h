/* kit.h — fixed addresses and selectors of the guest test kit, shared by entry.S and C. */
#ifndef GUEST_KIT_H
#define GUEST_KIT_H

/*
 * Guest-physical layout used by the kit (kiln's own boot structures are in kiln's
 * src/arch/x86/layout.h; the kit only reads them):
 *
 *   0x010000  AP real-mode trampoline (SIPI vector 0x10), copied there by guest_smp code
 *   0x100000  image start: PVH 32-bit entry (offset 0), Linux 64-bit entry (offset 0x200)
 *   0x101000  exception/interrupt stubs, 16 bytes per vector (KIT_VECTORS of them)
 *   0x101400  TSS: 104 bytes, an all-zero 8 KiB I/O bitmap, the trailing 0xff byte
 *   0x104000  text, data (GDT, IDT, page tables), bss, stacks; the image ends below 0x300000
 *   0x300000  GUEST_COUNTER_GPA (the count guest's counter)
 *   0x400000  virtio region up to 0x1000000: rings and buffers of lib/virtio.c's allocator
 *             (the virtio guests need at least 16 MiB of RAM)
 */
#define KIT_LOAD_GPA	    0x100000
#define KIT_LINUX_ENTRY_OFF 0x200 /* bzImage: startup_64 is 0x200 past the load address */
#define KIT_ISR_BASE	    0x101000
#define KIT_ISR_STRIDE	    16
#define KIT_VECTORS	    64 /* IDT entries 0-63: exceptions 0-31, interrupts 32-63 */
#define KIT_TSS_BASE	    0x101400
#define KIT_TSS_IOMAP_OFF   104
#define KIT_TSS_LIMIT	    (KIT_TSS_IOMAP_OFF + 8192) /* includes the trailing 0xff byte */
#define KIT_IMAGE_END_MAX   0x300000
#define KIT_AP_TRAMPOLINE   0x10000
#define KIT_VIRTIO_GPA	    0x400000
#define KIT_VIRTIO_END	    0x1000000
#define KIT_SPURIOUS_VECTOR 0x3f
#define KIT_LAPIC_GPA	    0xfee00000
#define KIT_MAX_CPUS	    256

/* GDT selectors. */
#define KIT_SEL_KCODE64 0x08
#define KIT_SEL_KDATA	0x10
#define KIT_SEL_KCODE32 0x18
#define KIT_SEL_UDATA	0x23 /* GDT slot 0x20, RPL 3 */
#define KIT_SEL_UCODE64 0x2b /* GDT slot 0x28, RPL 3 */
#define KIT_SEL_TSS	0x30

/* guest_boot_proto values. */
#define KIT_BOOT_PVH   1
#define KIT_BOOT_LINUX 2

#endif

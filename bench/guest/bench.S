/* bench.S — the benchmark guest: a PVH ELF that runs in 32-bit protected mode at ring 0 (no
 * paging, no interrupts) and does one thing, chosen at build time:
 *   BENCH_FIRST_BYTE  write one byte to COM1, then exit through the debug-exit port
 *   BENCH_EXIT        exit through the debug-exit port at once
 *   BENCH_PIO=N       N 1-byte OUTs to port 0x4f0 (no device there), then exit
 *   BENCH_MMIO=N      N 4-byte writes to 0xd8000000 (kiln's test device), then exit
 *   BENCH_TOUCH=MiB   write one byte in every 4 KiB page of [16 MiB, 16 MiB + MiB), then exit
 *   BENCH_IDLE        write one byte to COM1, then halt with interrupts off: never exits, and
 *                     its vCPU stays blocked in KVM (the density benchmark's idle VM)
 * The same ELF boots unchanged on kiln, the floor program and QEMU (-M microvm -kernel). */
#define COM1       0x3f8
#define DEBUG_EXIT 0xf4
#define PIO_PORT   0x4f0
#define MMIO_ADDR  0xd8000000

	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18		/* name size, descriptor size, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long bench_start

	.text
	.code32
	.globl bench_start
bench_start:
#if defined(BENCH_FIRST_BYTE)
	mov $COM1, %dx
	mov $'K', %al
	outb %al, %dx
#elif defined(BENCH_IDLE)
	mov $COM1, %dx
	mov $'I', %al
	outb %al, %dx
	cli
3:	hlt
	jmp 3b
#elif defined(BENCH_PIO)
	mov $BENCH_PIO, %ecx
	mov $PIO_PORT, %dx
1:	outb %al, %dx
	dec %ecx
	jnz 1b
#elif defined(BENCH_MMIO)
	mov $BENCH_MMIO, %ecx
	mov $MMIO_ADDR, %edi
1:	movl %ecx, (%edi)
	dec %ecx
	jnz 1b
#elif defined(BENCH_TOUCH)
	mov $0x1000000, %edi
	mov $(BENCH_TOUCH * 256), %ecx	/* pages */
1:	movb %cl, (%edi)
	add $0x1000, %edi
	dec %ecx
	jnz 1b
#endif
	xor %eax, %eax
	outb %al, $DEBUG_EXIT	/* status 1 on kiln and QEMU's isa-debug-exit */
2:	hlt
	jmp 2b

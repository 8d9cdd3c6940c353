/*
 * entry.S — the kit's ring-0 part: PVH and Linux 64-bit entries, static GDT/TSS/IDT/page
 * tables, exception and interrupt stubs, the drop to CPL3, and the AP bring-up path.
 *
 * Ring 0 is emulated instruction by instruction under PVM (about 1.4M instructions/s), so
 * everything here is table-driven: descriptors and page tables are assembled into .data, and
 * the boot path runs a few dozen instructions before it leaves for CPL3 with iretq.
 */
#include "kit.h"

#define MSR_EFER  0xc0000080
#define EFER_LME  0x100
#define CR0_PE_PG 0x80000001
#define CR4_PAE	  0x20
#define PTE_2M	  0x87 /* present, writable, user, 2 MiB page */
#define PTE_UC	  0x18 /* PWT | PCD: the MMIO hole */
#define PTE_DIR	  0x07 /* present, writable, user */
#define KIT_PDS	  5    /* page directories: identity map of 0-5 GiB */

/* ---- the PVH ELF note: XEN_ELFNOTE_PHYS32_ENTRY (18) -------------------------------------- */
	.section .note.Xen, "a"
	.balign 4
	.long 4, 4, 18
	.asciz "Xen"
	.balign 4
	.long pvh_entry

/* ---- entries, at the image start --------------------------------------------------------- */
	.section .head, "ax"
	.code32
	.globl pvh_entry
pvh_entry:			/* 32-bit protected mode, paging off, %ebx = hvm_start_info */
	cli
	movl %ebx, guest_boot_info
	movl $KIT_BOOT_PVH, guest_boot_proto
	lgdt gdtr
	movw $KIT_SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PE_PG, %eax
	movl %eax, %cr0
	ljmp $KIT_SEL_KCODE64, $bsp64

	.org KIT_LINUX_ENTRY_OFF
	.code64
	.globl linux_entry64
linux_entry64:			/* 64-bit mode on kiln's page tables, %rsi = boot_params */
	cli
	movq %rsi, guest_boot_info
	movl $KIT_BOOT_LINUX, guest_boot_proto
	lgdt gdtr
	movl $pml4, %eax
	movq %rax, %cr3
	pushq $KIT_SEL_KCODE64	/* reload CS from our GDT */
	pushq $bsp64
	lretq

bsp64:				/* common ring-0 setup, then iretq to CPL3 */
	movw $KIT_SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq $guest_stack0_top, %rsp
	lidt idtr
	movw $KIT_SEL_TSS, %ax
	ltr %ax
	pushq $KIT_SEL_UDATA
	pushq $guest_ustack_top
	pushq $0x202		/* IF=1: interrupts reach CPL3 */
	pushq $KIT_SEL_UCODE64
	pushq $user_entry
	iretq

/* ---- stubs: one per vector at KIT_ISR_BASE + v * 16 (the IDT below is static) ----------- */
	.section .isr, "ax"
	.globl guest_isr_stubs
guest_isr_stubs:
	.set v, 0
	.rept KIT_VECTORS
	.org v * KIT_ISR_STRIDE
	.if v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30
	nop			/* the CPU pushed an error code */
	nop
	.else
	pushq $0
	.endif
	pushq $v
	jmp trap_common
	.set v, v + 1
	.endr
	.org KIT_VECTORS * KIT_ISR_STRIDE

	.text
/*
 * Stack here: vector, error, rip, cs, rflags, rsp, ss. Interrupts from CPL3 are counted,
 * acknowledged and returned from at once; everything else goes to guest_trap() in C, which
 * either ends the test or returns (a guest_ring0_call), and then we iretq back to CPL3.
 */
trap_common:
	cmpq $32, (%rsp)
	jb 1f
	testb $3, 24(%rsp)	/* interrupted CS: an interrupt in ring 0 is a kit bug */
	jz 1f
	pushq %rax
	movq 8(%rsp), %rax
	lock incq guest_irq_count(, %rax, 8)
	cmpq $KIT_SPURIOUS_VECTOR, %rax
	je 2f
	movl $KIT_LAPIC_GPA + 0xb0, %eax
	movl $0, (%rax)		/* LAPIC EOI */
2:	popq %rax
	addq $16, %rsp
	iretq
1:	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	call guest_trap		/* the stack is 16-byte aligned here: 22 quadwords below RSP0 */
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* CPL3 starts here, on guest_ustack_top. */
user_entry:
	call guest_start
	ud2

/* guest_ring0_call(fn): the #UD handler recognises this ud2 and runs fn at ring 0. */
	.globl guest_ring0_call, guest_ring0_ud2
guest_ring0_call:
	movq %rdi, guest_ring0_fn
guest_ring0_ud2:
	ud2
	movq $0, guest_ring0_fn
	ret

/* ---- application processors --------------------------------------------------------------
 * guest_ap_trampoline..guest_ap_trampoline_end is copied to KIT_AP_TRAMPOLINE; the SIPI
 * starts it in real mode with CS = KIT_AP_TRAMPOLINE >> 4. It loads the kit's GDT, enters
 * protected mode and jumps to ap32 in the image, which enters long mode on the kit's page
 * tables. ap64 records what the AP sees, counts it and halts with interrupts off.
 */
	.code16
	.globl guest_ap_trampoline, guest_ap_trampoline_end
guest_ap_trampoline:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_gdtr - guest_ap_trampoline
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $KIT_SEL_KCODE32, $ap32
	.balign 8
ap_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
guest_ap_trampoline_end:

	.code32
ap32:
	movw $KIT_SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $CR0_PE_PG, %eax
	movl %eax, %cr0
	ljmp $KIT_SEL_KCODE64, $ap64

	.code64
ap64:
	movl $1, %edi
	lock xaddl %edi, guest_ap_next	/* %edi = this AP's slot */
	cmpl $KIT_MAX_CPUS, %edi
	jae 3f
	movl $KIT_LAPIC_GPA + 0x20, %eax
	movl (%rax), %eax
	shrl $24, %eax
	movl %eax, guest_ap_lapic_id(, %rdi, 4)
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	movl %ebx, guest_ap_cpuid1_id(, %rdi, 4)
	xorl %eax, %eax
	cpuid
	movl $0xffffffff, %edx	/* "no leaf 0xb" */
	cmpl $0xb, %eax
	jb 2f
	movl $0xb, %eax
	xorl %ecx, %ecx
	cpuid
2:	movl %edx, guest_ap_cpuidb_id(, %rdi, 4)
	lock incl guest_ap_reported
3:	cli
	hlt
	jmp 3b

/* ---- descriptor tables and page tables, all static ---------------------------------------- */
	.data
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cf9a000000ffff	/* 0x18 kernel code, 32-bit (AP bring-up) */
	.quad 0x00cff2000000ffff	/* 0x20 user data */
	.quad 0x00affa000000ffff	/* 0x28 user code, 64-bit */
	/* 0x30: 64-bit available TSS at KIT_TSS_BASE */
	.word KIT_TSS_LIMIT & 0xffff
	.word KIT_TSS_BASE & 0xffff
	.byte (KIT_TSS_BASE >> 16) & 0xff
	.byte 0x89
	.byte (KIT_TSS_LIMIT >> 16) & 0xf
	.byte (KIT_TSS_BASE >> 24) & 0xff
	.long 0, 0
gdt_end:

	.balign 16
idt:
	.set v, 0
	.rept KIT_VECTORS
	.word (KIT_ISR_BASE + v * KIT_ISR_STRIDE) & 0xffff
	.word KIT_SEL_KCODE64
	.byte 0, 0x8e			/* present, DPL 0, 64-bit interrupt gate */
	.word ((KIT_ISR_BASE + v * KIT_ISR_STRIDE) >> 16) & 0xffff
	.long 0, 0
	.set v, v + 1
	.endr
idt_end:

	.balign 8
	.word 0, 0, 0
gdtr:	.word gdt_end - gdt - 1
	.quad gdt
	.word 0, 0, 0
idtr:	.word idt_end - idt - 1
	.quad idt

	.globl guest_boot_info, guest_boot_proto, guest_ring0_fn
	.balign 8
guest_boot_info:	.quad 0	/* hvm_start_info (PVH) or boot_params (Linux) address */
guest_boot_proto:	.long 0	/* KIT_BOOT_PVH or KIT_BOOT_LINUX */
	.long 0
guest_ring0_fn:		.quad 0

	.balign 4096
pml4:	.quad pdpt + PTE_DIR
	.fill 511, 8, 0
pdpt:
	.set i, 0
	.rept KIT_PDS
	.quad pd + i * 4096 + PTE_DIR
	.set i, i + 1
	.endr
	.fill 512 - KIT_PDS, 8, 0
pd:
	.set i, 0
	.rept KIT_PDS * 512
	.if i >= 1536 && i < 2048
	.quad (i << 21) + PTE_2M + PTE_UC
	.else
	.quad (i << 21) + PTE_2M
	.endif
	.set i, i + 1
	.endr

/* The TSS: RSP0 for faults and interrupts from CPL3, and an I/O bitmap allowing every port. */
	.section .tss, "aw"
	.globl guest_tss
guest_tss:
	.long 0
	.quad guest_stack0_top		/* RSP0 */
	.fill 88, 1, 0
	.word 0
	.word KIT_TSS_IOMAP_OFF
	.fill 8192, 1, 0
	.byte 0xff

	.section .stacks, "aw", @nobits
	.balign 16
	.space 16384
	.globl guest_stack0_top
guest_stack0_top:
	.space 65536
	.globl guest_ustack_top
guest_ustack_top:

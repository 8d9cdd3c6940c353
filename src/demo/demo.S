/* demo.S — the built-in demo guest: a PVH ELF that greets on COM1 and resets the machine. */
#define COM1 0x3f8

	.section .note.Xen, "a"
	.balign 4
	.long 4			/* name size: "Xen\0" */
	.long 4			/* descriptor size */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long pvh_start

	.text
	.code32
	.globl pvh_start
pvh_start:
	mov $banner, %esi
next:
	lodsb
	test %al, %al
	jz done
	mov %al, %bl
	mov $COM1 + 5, %dx	/* line status: wait for the transmitter to take the byte */
wait:
	inb %dx, %al
	test $0x20, %al
	jz wait
	mov $COM1, %dx
	mov %bl, %al
	outb %al, %dx
	jmp next
done:
	mov $0xfe, %al		/* i8042: pulse the reset line; kiln stops the VM (status 0) */
	outb %al, $0x64
	hlt
	jmp done

	.section .rodata
banner:
	.ascii "\r\nHello from the kiln demo guest.\r\n"
	.ascii "It booted through kiln's PVH loader in 32-bit protected mode, wrote\r\n"
	.ascii "this text through the emulated 16550 UART on COM1, and now resets the\r\n"
	.ascii "machine through the i8042 controller, which stops the VM.\r\n"
	.asciz "Boot your own kernel with: kiln run --kernel PATH [--initrd PATH] [--cmdline STR]\r\n"

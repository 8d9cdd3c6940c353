/* uart_rx.c — COM1 receive interrupts through the IOAPIC reach CPL3; the bytes read from RBR
 * after each interrupt equal the runner's stdin line (`expect=<text>`, newline-terminated). */
#include "guest.h"

#define COM1	    0x3f8
#define UART_IER    (COM1 + 1)
#define UART_LCR    (COM1 + 3)
#define UART_MCR    (COM1 + 4)
#define UART_LSR    (COM1 + 5)
#define IER_ERBFI   0x01
#define LCR_8N1	    0x03
#define MCR_DTR_RTS 0x03
#define MCR_OUT2    0x08 /* gates the UART's interrupt line on PC hardware */
#define LSR_DR	    0x01
#define COM1_GSI    4
#define RX_VECTOR   0x24
#define RX_WAIT_MS  10000

int main(void)
{
	char expect[64], got[64];
	unsigned n = 0;
	uint64_t seen = 0, end;
	uint32_t me;

	GUEST_ASSERT(guest_cmdline_get("expect", expect, sizeof(expect)));
	pic_mask_all();
	me = lapic_enable();
	ioapic_route(COM1_GSI, RX_VECTOR, (uint8_t)me);
	outb(UART_LCR, LCR_8N1);
	outb(UART_MCR, MCR_DTR_RTS | MCR_OUT2);
	outb(UART_IER, IER_ERBFI);
	guest_printf("uart_rx: waiting for \"%s\\n\" on COM1 (vector %#x, APIC %u)\n", expect,
		     RX_VECTOR, me);

	/* Read RBR only after an interrupt: with the FIFO off each byte raises a new one. */
	end = guest_rdtsc() + guest_tsc_per_ms() * RX_WAIT_MS;
	while (n == 0 || got[n - 1] != '\n') {
		if (guest_rdtsc() > end) {
			got[n] = '\0';
			guest_fail("timed out after %u interrupts with %u bytes \"%s\"",
				   (unsigned)guest_irq_count[RX_VECTOR], n, got);
		}
		if (guest_irq_count[RX_VECTOR] == seen) {
			guest_pause();
			continue;
		}
		seen = guest_irq_count[RX_VECTOR];
		while ((inb(UART_LSR) & LSR_DR) && n + 1 < sizeof(got))
			got[n++] = (char)inb(COM1);
	}
	outb(UART_IER, 0);
	got[n - 1] = '\0';
	guest_printf("uart_rx: %lu interrupts, received \"%s\"\n", guest_irq_count[RX_VECTOR], got);
	GUEST_ASSERT(guest_irq_count[RX_VECTOR] >= 1);
	GUEST_ASSERT(strcmp(got, expect) == 0);
	return 0;
}

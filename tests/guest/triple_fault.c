/* triple_fault.c — an exception with an empty IDT escalates to a triple fault (a shutdown),
 * which kiln treats as a reset: with the default --on-reset stop, it exits with status 0. */
#include "guest.h"

static void fault_without_idt(void)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty = {0, 0};

	__asm__ volatile("lidt %0\n\tud2" ::"m"(empty));
}

int main(void)
{
	guest_printf("triple_fault: loading an empty IDT and faulting\n");
	guest_ring0_call(fault_without_idt);
	guest_fail("the fault came back");
}

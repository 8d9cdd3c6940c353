/* crash.c — a fatal exit kiln cannot continue from: int3 at ring 0 is an instruction PVM's
 * ring-0 emulator cannot execute (KVM_EXIT_INTERNAL_ERROR). kiln must stop with status 6 and
 * name the vCPU and its RIP. */
#include "guest.h"

static void int3_in_ring0(void)
{
	__asm__ volatile("int3");
}

int main(void)
{
	guest_printf("crash: executing int3 at ring 0\n");
	guest_ring0_call(int3_in_ring0);
	guest_fail("int3 at ring 0 came back");
}

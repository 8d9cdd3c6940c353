/* crash.c — a fatal exit kiln cannot continue from: kiln must stop with status 6 and name the
 * vCPU and its RIP. Two triggers, `kind=` on the command line:
 * - `mmio-fetch` (default): a ring-0 jump into the MMIO hole, where no RAM and no device is. KVM
 *   cannot fetch an instruction from there and reports an emulation failure
 *   (KVM_EXIT_INTERNAL_ERROR) on every KVM: hardware-style ones and PVM alike.
 * - `int3`: int3 at ring 0, which PVM's ring-0 emulator cannot execute (an internal error there);
 *   a hardware-style KVM delivers #BP to the guest instead, so this case is PVM-specific. */
#include "guest.h"

/* Nothing is at 0xe0000000: kiln's MMIO hole is 0xc0000000-0xffffffff and its devices sit at
 * 0xd0000000 (virtio), 0xd8000000 (test device) and 0xfec00000+ (IOAPIC, LAPIC). The kit's page
 * tables map it, so the fetch reaches KVM instead of faulting in the guest. */
#define CRASH_MMIO_GPA 0xe0000000UL

static void int3_in_ring0(void)
{
	__asm__ volatile("int3");
}

static void fetch_from_mmio(void)
{
	((void (*)(void))CRASH_MMIO_GPA)();
}

int main(void)
{
	char kind[16] = "mmio-fetch";

	guest_cmdline_get("kind", kind, sizeof(kind));
	if (strcmp(kind, "int3") == 0) {
		guest_printf("crash: executing int3 at ring 0\n");
		guest_ring0_call(int3_in_ring0);
	} else {
		guest_printf("crash: jumping to %#lx at ring 0\n", CRASH_MMIO_GPA);
		guest_ring0_call(fetch_from_mmio);
	}
	guest_fail("the %s crash came back", kind);
}

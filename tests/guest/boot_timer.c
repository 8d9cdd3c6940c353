/* boot_timer.c — tell Firecracker's boot timer (--boot-timer) that the guest has booted: the
 * byte 123 at offset 0 of the page at 0xc0000000. kiln then logs the boot time. */
#include "guest.h"

int main(void)
{
	mmio_write8(0xc0000000ULL, 123);
	guest_printf("boot timer signalled\n");
	return 0;
}

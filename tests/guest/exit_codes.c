/* exit_codes.c — exit with the debug-exit value from the cmdline (`code=N`), or reset. */
#include "guest.h"

int main(void)
{
	char word[16];
	uint64_t code;

	if (guest_cmdline_get("code", word, sizeof(word)) && strcmp(word, "reset") == 0) {
		guest_printf("exit_codes: resetting through the i8042\n");
		outb(0x64, 0xfe); /* pulse the reset line: kiln stops with status 0 */
		for (;;)
			guest_pause();
	}
	GUEST_ASSERT(guest_cmdline_u64("code", &code));
	guest_printf("exit_codes: writing %lu to the debug-exit port\n", code);
	guest_exit((unsigned)code);
}

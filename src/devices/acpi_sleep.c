/* acpi_sleep.c — ACPI sleep control/status registers: S5 powers the VM off. */
#include "devices/acpi_sleep.h"

static uint64_t sleep_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void sleep_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct acpi_sleep *s = dev;
	unsigned typ = (unsigned)(val & ACPI_SLEEP_TYP_MASK) >> ACPI_SLEEP_TYP_SHIFT;

	(void)size;
	if (off != 0 || !(val & ACPI_SLEEP_EN))
		return; /* the status register, or SLP_TYP written without SLP_EN */
	if (typ != ACPI_SLEEP_S5_TYP) {
		log_warn_ratelimited(
		    &s->rl, "ACPI sleep control: sleep type %u is not supported (only S5 = %u)",
		    typ, ACPI_SLEEP_S5_TYP);
		return;
	}
	if (s->on_poweroff)
		s->on_poweroff(s->ctx);
}

const struct io_ops acpi_sleep_io_ops = {
    .name = "acpi-sleep",
    .read = sleep_read,
    .write = sleep_write,
    .min_size = 1,
    .max_size = 1,
};

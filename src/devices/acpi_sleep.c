/* acpi_sleep.c — ACPI sleep control/status registers: S5 powers the VM off. */
#include <errno.h>

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

/* --- the board entry: no state is kept, the empty section records that the device exists --- */

static int entry_save(void *obj, struct state_buf *b)
{
	(void)obj;
	(void)b;
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	(void)obj;
	(void)version;
	if (state_section_done(b)) {
		state_refuse(b, "acpi_sleep: section length wrong");
		return -EINVAL;
	}
	return 0;
}

const struct device_ops acpi_sleep_device_ops = {
    .kind = "acpi_sleep",
    .save = entry_save,
    .load = entry_load,
};

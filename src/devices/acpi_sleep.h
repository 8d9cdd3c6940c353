/* acpi_sleep.h — the hardware-reduced ACPI sleep control and status registers (ACPI 6.3 §4.8.3.7):
 * writing SLP_TYP = S5 with SLP_EN powers the VM off. */
#ifndef KILN_DEVICES_ACPI_SLEEP_H
#define KILN_DEVICES_ACPI_SLEEP_H

#include "core/device.h"
#include "core/io_bus.h"
#include "util/log.h"

/* Two 8-bit registers: sleep control at +0, sleep status at +1 (the FADT's SLEEP_CONTROL_REG and
 * SLEEP_STATUS_REG point at them). */
#define ACPI_SLEEP_PORTS 2

/* Sleep control register fields (ACPI 6.3 table 4-20). */
#define ACPI_SLEEP_TYP_SHIFT 2
#define ACPI_SLEEP_TYP_MASK  0x1c
#define ACPI_SLEEP_EN	     0x20

/* The SLP_TYP value of S5 (soft off); the DSDT's \_S5 package gives the guest this value. */
#define ACPI_SLEEP_S5_TYP 5

struct acpi_sleep {
	void (*on_poweroff)(void *ctx); /* called on a write of SLP_EN with SLP_TYP = S5 */
	void *ctx;
	struct log_ratelimit rl; /* LOG_RATELIMIT_INIT: warnings about unsupported sleep types */
};

/*
 * Bus handlers for the 2-port window, 1-byte accesses only. Control: a write with SLP_EN and
 * SLP_TYP = ACPI_SLEEP_S5_TYP calls on_poweroff; other sleep types are not offered (the DSDT has
 * no \_S1-\_S4) and are ignored with a warning. Status: WAK_STS never becomes set (there is no
 * wake from S5); writes (write-one-to-clear) are accepted and ignored. Both read 0.
 */
extern const struct io_ops acpi_sleep_io_ops;

#define ACPI_SLEEP_STATE_VERSION 1

/* The board entry (obj: a struct acpi_sleep, owned by the caller): an empty state section that
 * records the device, so a snapshot taken with ACPI does not restore without it. */
extern const struct device_ops acpi_sleep_device_ops;

#endif

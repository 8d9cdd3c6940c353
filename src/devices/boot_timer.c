/* boot_timer.c — the guest says it has booted; kiln logs how long that took. */
#include <time.h>

#include "devices/boot_timer.h"
#include "util/log.h"

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void boot_timer_init(struct boot_timer *t)
{
	t->start_ns = clock_ns(CLOCK_MONOTONIC);
	t->start_cpu_ns = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	t->boot_us = 0;
}

static uint64_t bt_read(void *dev, uint64_t off, unsigned size)
{
	(void)dev;
	(void)off;
	(void)size;
	return 0;
}

static void bt_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct boot_timer *t = dev;
	uint64_t us, cpu_us;

	if (size != 1 || off != 0 || val != BOOT_TIMER_MAGIC)
		return;
	us = (clock_ns(CLOCK_MONOTONIC) - t->start_ns) / 1000;
	cpu_us = (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_ns) / 1000;
	t->boot_us = us ? us : 1;
	log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		 (unsigned long long)us, (unsigned long long)(us / 1000),
		 (unsigned long long)cpu_us, (unsigned long long)(cpu_us / 1000));
}

const struct io_ops boot_timer_io_ops = {
    .name = "boot-timer",
    .read = bt_read,
    .write = bt_write,
    .min_size = 1,
    .max_size = 8,
};

const struct device_ops boot_timer_device_ops = {.kind = "boot_timer"};

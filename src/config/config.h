/* config.h — the VM configuration, and the `kiln run` command-line parser that fills it. */
#ifndef KILN_CONFIG_CONFIG_H
#define KILN_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

#define CONFIG_MAX_VCPUS 254 /* APIC IDs must fit the xAPIC's 8 bits, 0xff is broadcast */

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };
enum boot_protocol { BOOT_AUTO, BOOT_LINUX, BOOT_PVH, BOOT_RAW };
enum reset_action { RESET_STOP, RESET_RESTART };

#define CONFIG_MAX_DISKS   16
#define CONFIG_DISK_ID_MAX 20 /* virtio-blk GET_ID: at most 20 bytes */

struct disk_config {
	char path[4096];
	bool read_only;
	char id[CONFIG_DISK_ID_MAX + 1]; /* "" if none given */
};

enum vconsole_mode { VCONSOLE_NONE, VCONSOLE_STDIO, VCONSOLE_FILE, VCONSOLE_SOCKET };

struct vconsole_config {
	enum vconsole_mode mode;
	char path[4096]; /* VCONSOLE_FILE, VCONSOLE_SOCKET */
};

struct serial_config {
	enum serial_mode mode;
	char path[4096]; /* SERIAL_FILE */
};

struct vm_config {
	const char *kernel_path; /* NULL: the built-in demo guest */
	const char *initrd_path;
	const char *cmdline;
	unsigned sockets, cores, threads; /* vCPUs = sockets * cores * threads */
	uint64_t mem_bytes;
	bool hugepages;
	bool thp; /* MADV_HUGEPAGE on guest RAM */
	struct serial_config com1, com2;
	enum boot_protocol boot;
	uint64_t load_addr, entry; /* BOOT_RAW */
	enum reset_action on_reset;
	uint16_t debug_exit_port; /* 0: no debug-exit device */
	bool test_device;	  /* the PIO/MMIO scratch device used by the guest tests */
	bool acpi;		  /* ACPI tables (default); false: the MP table only */
	struct disk_config disks[CONFIG_MAX_DISKS]; /* virtio-blk, in slot order */
	unsigned nr_disks;
	struct vconsole_config vconsole; /* virtio-console port 0 */
	bool rng;			 /* virtio-rng */
	int verbosity;			 /* 0 warn, 1 info, 2 debug */
};

/* Total vCPUs of the configuration. */
static inline unsigned config_vcpus(const struct vm_config *c)
{
	return c->sockets * c->cores * c->threads;
}

/* Fill c with the defaults: 1 vCPU, 256 MiB, COM1 on stdio, COM2 off, debug-exit at 0xf4,
 * ACPI on. */
void config_defaults(struct vm_config *c);

/*
 * Parse the arguments of `kiln run` (argv[0] is "run"). On a bad argument, write a one-line
 * message naming it to err (size errlen) and return -EINVAL. Returns 1 if --help was given
 * (usage printed to stdout), 0 otherwise. Pointers in c refer into argv.
 */
int config_parse_run(struct vm_config *c, int argc, char **argv, char *err,
		     size_t errlen) MUST_CHECK;

/* Parse a size with an optional K/M/G/T suffix (binary units; a bare number is MiB).
 * Returns 0 or -EINVAL (empty, junk, zero, overflow). */
int config_parse_size(const char *s, uint64_t *out) MUST_CHECK;

/* Parse an unsigned integer in decimal or 0x-hex; -EINVAL on junk or overflow. */
int config_parse_u64(const char *s, uint64_t *out) MUST_CHECK;

/* Print the `kiln run` usage text. */
void config_usage(void);

#endif

/* io_bus.h — PIO and MMIO address-range tables that route guest accesses to devices. */
#ifndef KILN_CORE_IO_BUS_H
#define KILN_CORE_IO_BUS_H

#include <stdint.h>

#include "util/compiler.h"
#include "util/log.h"

/*
 * A device's access handlers. The bus only calls them with a size that is a power of two in
 * [min_size, max_size] and with [off, off+size) inside the registered range, so devices never
 * see a bad width. `off` is relative to the registered base.
 */
struct io_ops {
	const char *name;
	uint64_t (*read)(void *dev, uint64_t off, unsigned size);
	void (*write)(void *dev, uint64_t off, uint64_t val, unsigned size);
	uint8_t min_size; /* 1, 2, 4 or 8 */
	uint8_t max_size;
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *dev;
};

struct io_bus_stats {
	uint64_t reads, writes;
	uint64_t unmapped_reads, unmapped_writes;
	uint64_t bad_size; /* accesses of a width the device does not accept */
};

struct io_bus {
	const char *name; /* "pio" or "mmio", for messages */
	uint64_t limit;	  /* highest valid address + 1 (0x10000 for PIO, 0 means 2^64) */
	unsigned nr, cap;
	struct io_range *ranges; /* sorted by base, never overlapping */
	struct io_bus_stats stats;
	struct log_ratelimit rl;
};

/* Initialise an empty bus. limit: one past the highest address (0 for the full 64-bit space). */
void io_bus_init(struct io_bus *b, const char *name, uint64_t limit);

/* Free the range table. */
void io_bus_destroy(struct io_bus *b);

/*
 * Route [base, base+len) to ops/dev. Registration happens before vCPUs start; the table is
 * read without locks afterwards. Returns 0, -EINVAL (len 0, overflow, past the bus limit,
 * bad ops sizes), -EEXIST (overlaps an existing range), -ENOMEM.
 */
int io_bus_register(struct io_bus *b, uint64_t base, uint64_t len, const struct io_ops *ops,
		    void *dev) MUST_CHECK;

/* Find the range holding addr, or NULL. */
const struct io_range *io_bus_find(const struct io_bus *b, uint64_t addr);

/*
 * Perform a guest read of `size` bytes at addr. Unmapped addresses, ranges crossed by the
 * access and unsupported widths read as all-ones and are counted (rate-limited log).
 */
uint64_t io_bus_read(struct io_bus *b, uint64_t addr, unsigned size);

/* Perform a guest write; unmapped or badly sized writes are dropped and counted. */
void io_bus_write(struct io_bus *b, uint64_t addr, uint64_t val, unsigned size);

#endif

/* io_bus.c — sorted range tables for PIO and MMIO with width validation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/io_bus.h"

/* Counters are bumped by several vCPU threads at once. */
#define STAT_INC(x) __atomic_fetch_add(&(x), 1, __ATOMIC_RELAXED)

void io_bus_init(struct io_bus *b, const char *name, uint64_t limit)
{
	memset(b, 0, sizeof(*b));
	b->name = name;
	b->limit = limit;
	b->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
}

void io_bus_destroy(struct io_bus *b)
{
	free(b->ranges);
	b->ranges = NULL;
	b->nr = b->cap = 0;
}

static int size_valid(unsigned s)
{
	return s == 1 || s == 2 || s == 4 || s == 8;
}

static int ops_valid(const struct io_ops *ops)
{
	return ops && ops->read && ops->write && size_valid(ops->min_size) &&
	       size_valid(ops->max_size) && ops->min_size <= ops->max_size;
}

int io_bus_register(struct io_bus *b, uint64_t base, uint64_t len, const struct io_ops *ops,
		    void *dev)
{
	unsigned i;

	if (len == 0 || !ops_valid(ops))
		return -EINVAL;
	if (base + len - 1 < base) /* the last byte may be UINT64_MAX, not past it */
		return -EINVAL;
	if (b->limit && (base >= b->limit || len > b->limit - base))
		return -EINVAL;
	for (i = 0; i < b->nr && b->ranges[i].base < base; i++)
		;
	if (i > 0 && b->ranges[i - 1].base + (b->ranges[i - 1].len - 1) >= base)
		return -EEXIST;
	if (i < b->nr && base + (len - 1) >= b->ranges[i].base)
		return -EEXIST;
	if (b->nr == b->cap) {
		unsigned cap = b->cap ? b->cap * 2 : 8;
		struct io_range *n = realloc(b->ranges, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->ranges = n;
		b->cap = cap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->nr - i) * sizeof(b->ranges[0]));
	b->ranges[i] = (struct io_range){.base = base, .len = len, .ops = ops, .dev = dev};
	b->nr++;
	return 0;
}

const struct io_range *io_bus_find(const struct io_bus *b, uint64_t addr)
{
	unsigned lo = 0, hi = b->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct io_range *r = &b->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* The range that can take this access whole, or NULL (with the reason counted). */
static const struct io_range *lookup(struct io_bus *b, uint64_t addr, unsigned size, int write)
{
	const struct io_range *r = io_bus_find(b, addr);

	if (!r || !size_valid(size) || size > r->len - (addr - r->base)) {
		if (write)
			STAT_INC(b->stats.unmapped_writes);
		else
			STAT_INC(b->stats.unmapped_reads);
		/* Guests probe for absent devices all the time: info, not a warning. */
		log_info_ratelimited(&b->rl, "%s: unmapped %s of %u bytes at %#llx", b->name,
				     write ? "write" : "read", size, (unsigned long long)addr);
		return NULL;
	}
	if (size < r->ops->min_size || size > r->ops->max_size) {
		STAT_INC(b->stats.bad_size);
		log_warn_ratelimited(&b->rl, "%s: %s: %u-byte %s at %#llx not supported", b->name,
				     r->ops->name ? r->ops->name : "device", size,
				     write ? "write" : "read", (unsigned long long)addr);
		return NULL;
	}
	return r;
}

uint64_t io_bus_read(struct io_bus *b, uint64_t addr, unsigned size)
{
	const struct io_range *r = lookup(b, addr, size, 0);
	uint64_t ones = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;

	if (!r)
		return ones;
	STAT_INC(b->stats.reads);
	return r->ops->read(r->dev, addr - r->base, size) & ones;
}

void io_bus_write(struct io_bus *b, uint64_t addr, uint64_t val, unsigned size)
{
	const struct io_range *r = lookup(b, addr, size, 1);

	if (!r)
		return;
	STAT_INC(b->stats.writes);
	r->ops->write(r->dev, addr - r->base, val, size);
}

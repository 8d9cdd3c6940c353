/* pci_bus.c — bus 0 of a PCI segment: ECAM, the host bridge, BAR routing (see pci_bus.h). */
#include <errno.h>
#include <string.h>

#include "pci/pci_bus.h"

static uint64_t ones(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static bool window_ok(enum pci_window_kind k, uint64_t base, uint64_t len)
{
	uint64_t limit = k == PCI_WIN_MEM32 ? 1ULL << 32 : k == PCI_WIN_IO ? 0x10000 : 0;

	if (!len)
		return true;
	if (base > UINT64_MAX - len)
		return false;
	return !limit || base + len <= limit;
}

int pci_bus_init(struct pci_bus *b, const uint64_t base[PCI_NR_WINDOWS],
		 const uint64_t len[PCI_NR_WINDOWS])
{
	const struct pci_id host = {
	    .vendor = PCI_HOST_VENDOR, .device = PCI_HOST_DEVICE, .class_code = 0x060000};

	memset(b, 0, sizeof(*b));
	for (int k = 0; k < PCI_NR_WINDOWS; k++) {
		if (!window_ok(k, base[k], len[k]))
			return -EINVAL;
		b->win[k] = (struct pci_window){
		    .base = base[k], .len = len[k], .next = base[k], .bus = b, .kind = k};
	}
	pci_cfg_init(&b->host, &host);
	b->fn[0].cfg = &b->host;
	pthread_mutex_init(&b->lock, NULL);
	return 0;
}

void pci_bus_destroy(struct pci_bus *b)
{
	pthread_mutex_destroy(&b->lock);
}

int pci_bus_add(struct pci_bus *b, const struct pci_function *f, unsigned *slot)
{
	if (!f->cfg || !f->ops || !f->ops->bar_read || !f->ops->bar_write)
		return -EINVAL;
	for (unsigned s = 1; s < PCI_SLOTS; s++) {
		if (!b->fn[s].cfg) {
			b->fn[s] = *f;
			*slot = s;
			return 0;
		}
	}
	return -ENOSPC;
}

void pci_bus_remove(struct pci_bus *b, unsigned slot)
{
	if (slot == 0 || slot >= PCI_SLOTS)
		return;
	pthread_mutex_lock(&b->lock);
	b->fn[slot] = (struct pci_function){0};
	pthread_mutex_unlock(&b->lock);
}

int pci_bus_alloc(struct pci_bus *b, enum pci_window_kind kind, uint64_t size, uint64_t *addr)
{
	struct pci_window *w;
	uint64_t at;

	if ((unsigned)kind >= PCI_NR_WINDOWS || !size || (size & (size - 1)))
		return -EINVAL;
	w = &b->win[kind];
	at = (w->next + size - 1) & ~(size - 1);
	if (!w->len || at < w->next || at - w->base > w->len || w->len - (at - w->base) < size)
		return -ENOSPC;
	w->next = at + size;
	*addr = at;
	return 0;
}

/* Whether a BAR of kind k may decode in window kind wk. */
static bool kinds_match(enum pci_bar_kind k, enum pci_window_kind wk)
{
	return wk == PCI_WIN_IO ? k == PCI_BAR_IO : k == PCI_BAR_MEM32 || k == PCI_BAR_MEM64;
}

/* The slot and BAR decoding [addr, addr + size) in window wk, and the offset in the BAR; under
 * b->lock. false: none. */
static bool decode(struct pci_bus *b, enum pci_window_kind wk, uint64_t addr, unsigned size,
		   unsigned *slot, unsigned *bar, uint64_t *off)
{
	for (unsigned s = 1; s < PCI_SLOTS; s++) {
		const struct pci_cfg *c = b->fn[s].cfg;

		for (unsigned i = 0; c && i < PCI_BAR_COUNT; i++) {
			uint64_t a = pci_cfg_bar_addr(c, i);

			if (!kinds_match(c->bar[i].kind, wk) || !pci_cfg_bar_active(c, i) ||
			    addr < a || addr - a >= c->bar[i].size ||
			    c->bar[i].size - (addr - a) < size)
				continue;
			*slot = s;
			*bar = i;
			*off = addr - a;
			return true;
		}
	}
	return false;
}

static bool in_window(const struct pci_window *w, uint64_t a, uint64_t size)
{
	return w->len && a >= w->base && a - w->base <= w->len && w->len - (a - w->base) >= size;
}

bool pci_bus_window_holds(const struct pci_bus *b, enum pci_bar_kind kind, uint64_t addr,
			  uint64_t size)
{
	for (int k = 0; k < PCI_NR_WINDOWS; k++)
		if (kinds_match(kind, k) && in_window(&b->win[k], addr, size))
			return true;
	return false;
}

bool pci_bus_bar_decodes(struct pci_bus *b, unsigned slot, unsigned i)
{
	const struct pci_cfg *c;
	bool ok = false;

	if (slot == 0 || slot >= PCI_SLOTS || i >= PCI_BAR_COUNT)
		return false;
	pthread_mutex_lock(&b->lock);
	c = b->fn[slot].cfg;
	if (c && pci_cfg_bar_active(c, i))
		ok =
		    pci_bus_window_holds(b, c->bar[i].kind, pci_cfg_bar_addr(c, i), c->bar[i].size);
	pthread_mutex_unlock(&b->lock);
	return ok;
}

/* The slot and BAR that decode an access at `off` in window w now, and the offset in the BAR;
 * false (counted) when none does. */
static bool route(struct pci_window *w, uint64_t off, unsigned size, unsigned *slot, unsigned *bar,
		  uint64_t *at)
{
	struct pci_bus *b = w->bus;
	bool found;

	pthread_mutex_lock(&b->lock);
	found = decode(b, w->kind, w->base + off, size, slot, bar, at);
	if (!found)
		b->stats.bar_unclaimed++;
	pthread_mutex_unlock(&b->lock);
	return found;
}

/* The function's BAR handlers run without the lock: functions are never removed. */
static uint64_t window_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_window *w = dev;
	unsigned slot, bar;
	uint64_t at;

	if (!route(w, off, size, &slot, &bar, &at))
		return ones(size);
	return w->bus->fn[slot].ops->bar_read(w->bus->fn[slot].obj, bar, at, size);
}

static void window_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct pci_window *w = dev;
	unsigned slot, bar;
	uint64_t at;

	if (route(w, off, size, &slot, &bar, &at))
		w->bus->fn[slot].ops->bar_write(w->bus->fn[slot].obj, bar, at, val, size);
}

/* The function an ECAM offset addresses (bus 0, function 0 only), or NULL; its register. */
static struct pci_function *ecam_function(struct pci_bus *b, uint32_t off, uint32_t *reg)
{
	struct pci_function *f;

	if (off >= PCI_ECAM_BUS_SIZE || (off >> 12) & 7)
		return NULL;
	f = &b->fn[(off >> 15) & (PCI_SLOTS - 1)];
	*reg = off & (PCI_CFG_SIZE - 1);
	return f->cfg ? f : NULL;
}

uint32_t pci_bus_cfg_read(struct pci_bus *b, uint32_t off, unsigned size)
{
	struct pci_function *f;
	uint32_t reg, v = (uint32_t)ones(size);

	pthread_mutex_lock(&b->lock);
	f = ecam_function(b, off, &reg);
	if (!f) {
		b->stats.cfg_absent++;
	} else {
		if (f->ops && f->ops->cfg_reading && reg < PCI_CFG_SIZE)
			f->ops->cfg_reading(f->obj, reg, size);
		if (pci_cfg_read(f->cfg, reg, size, &v) < 0)
			b->stats.cfg_bad++;
	}
	pthread_mutex_unlock(&b->lock);
	return v & (uint32_t)ones(size);
}

void pci_bus_cfg_write(struct pci_bus *b, uint32_t off, unsigned size, uint32_t val)
{
	struct pci_function *f;
	uint32_t reg;
	int changed;

	pthread_mutex_lock(&b->lock);
	f = ecam_function(b, off, &reg);
	if (f && f->ops && f->ops->cfg_writing && reg < PCI_CFG_SIZE)
		f->ops->cfg_writing(f->obj, reg, size, val);
	if (!f) {
		b->stats.cfg_absent++;
	} else if ((changed = pci_cfg_write(f->cfg, reg, size, val)) < 0) {
		b->stats.cfg_bad++;
	} else if (f->ops && f->ops->cfg_written) {
		/* under the lock: the function sees its writes in order and its BARs settled */
		f->ops->cfg_written(f->obj, reg, size, changed);
	}
	pthread_mutex_unlock(&b->lock);
}

static uint64_t ecam_read(void *dev, uint64_t off, unsigned size)
{
	return pci_bus_cfg_read(dev, (uint32_t)off, size);
}

static void ecam_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	pci_bus_cfg_write(dev, (uint32_t)off, size, (uint32_t)val);
}

const struct io_ops pci_ecam_io_ops = {
    .name = "pci-ecam", .read = ecam_read, .write = ecam_write, .min_size = 1, .max_size = 4};
const struct io_ops pci_mem_io_ops = {
    .name = "pci-mem", .read = window_read, .write = window_write, .min_size = 1, .max_size = 8};
const struct io_ops pci_io_io_ops = {
    .name = "pci-io", .read = window_read, .write = window_write, .min_size = 1, .max_size = 4};

/* The ECAM offset configuration mechanism #1 addresses at data port byte `byte` (0-3), or
 * UINT32_MAX when it addresses nothing (enable bit clear, another bus). */
static uint32_t cf8_target(uint32_t cf8, unsigned byte)
{
	if (!(cf8 & 0x80000000u) || (cf8 >> 16) & 0xff)
		return UINT32_MAX;
	/* device 15:11, function 10:8, register 7:2: ECAM's layout shifted by 4 */
	return ((cf8 >> 11) & 0x1f) << 15 | ((cf8 >> 8) & 7) << 12 | (cf8 & 0xfc) | byte;
}

static uint64_t cf8_read(void *dev, uint64_t off, unsigned size)
{
	struct pci_bus *b = dev;
	uint32_t target;

	if (off < 4) { /* the address register: dword only */
		if (off || size != 4)
			return ones(size);
		pthread_mutex_lock(&b->lock);
		target = b->cf8;
		pthread_mutex_unlock(&b->lock);
		return target;
	}
	pthread_mutex_lock(&b->lock);
	target = cf8_target(b->cf8, (unsigned)(off - 4));
	pthread_mutex_unlock(&b->lock);
	if (target == UINT32_MAX || off - 4 + size > 4)
		return ones(size);
	return pci_bus_cfg_read(b, target, size);
}

static void cf8_write(void *dev, uint64_t off, uint64_t val, unsigned size)
{
	struct pci_bus *b = dev;
	uint32_t target;

	if (off < 4) {
		if (off == 0 && size == 4) {
			pthread_mutex_lock(&b->lock);
			b->cf8 = (uint32_t)val & 0x80fffffcu; /* reserved bits read 0 */
			pthread_mutex_unlock(&b->lock);
		}
		return;
	}
	pthread_mutex_lock(&b->lock);
	target = cf8_target(b->cf8, (unsigned)(off - 4));
	pthread_mutex_unlock(&b->lock);
	if (target != UINT32_MAX && off - 4 + size <= 4)
		pci_bus_cfg_write(b, target, size, (uint32_t)val);
}

const struct io_ops pci_cf8_io_ops = {
    .name = "pci-cf8", .read = cf8_read, .write = cf8_write, .min_size = 1, .max_size = 4};

/* pci_cfg.c — one PCI function's configuration space (see pci_cfg.h for why by hand). */
#include <errno.h>
#include <string.h>

#include "pci/pci_cfg.h"

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

uint8_t pci_cfg_get8(const struct pci_cfg *c, uint16_t off)
{
	return c->data[off];
}

uint16_t pci_cfg_get16(const struct pci_cfg *c, uint16_t off)
{
	return (uint16_t)(c->data[off] | c->data[off + 1] << 8);
}

uint32_t pci_cfg_get32(const struct pci_cfg *c, uint16_t off)
{
	return (uint32_t)pci_cfg_get16(c, off) | (uint32_t)pci_cfg_get16(c, off + 2) << 16;
}

void pci_cfg_set8(struct pci_cfg *c, uint16_t off, uint8_t v)
{
	c->data[off] = v;
}

void pci_cfg_set16(struct pci_cfg *c, uint16_t off, uint16_t v)
{
	c->data[off] = (uint8_t)v;
	c->data[off + 1] = (uint8_t)(v >> 8);
}

void pci_cfg_set32(struct pci_cfg *c, uint16_t off, uint32_t v)
{
	pci_cfg_set16(c, off, (uint16_t)v);
	pci_cfg_set16(c, off + 2, (uint16_t)(v >> 16));
}

void pci_cfg_set_wmask(struct pci_cfg *c, uint16_t off, const uint8_t *mask, unsigned len, bool w1c)
{
	memcpy((w1c ? c->w1c : c->wmask) + off, mask, len);
}

/* A 16- or 32-bit mask in wire order. */
static void mask16(struct pci_cfg *c, uint16_t off, uint16_t m, bool w1c)
{
	uint8_t b[2] = {(uint8_t)m, (uint8_t)(m >> 8)};

	pci_cfg_set_wmask(c, off, b, sizeof(b), w1c);
}

static void mask32(struct pci_cfg *c, uint16_t off, uint32_t m)
{
	uint8_t b[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};

	pci_cfg_set_wmask(c, off, b, sizeof(b), false);
}

void pci_cfg_init(struct pci_cfg *c, const struct pci_id *id)
{
	memset(c, 0, sizeof(*c));
	pci_cfg_set16(c, PCI_VENDOR_ID, id->vendor);
	pci_cfg_set16(c, PCI_DEVICE_ID, id->device);
	pci_cfg_set8(c, PCI_REVISION, id->revision);
	pci_cfg_set8(c, PCI_CLASS_PROG, (uint8_t)id->class_code);
	pci_cfg_set16(c, PCI_CLASS_PROG + 1, (uint16_t)(id->class_code >> 8));
	pci_cfg_set16(c, PCI_SUBSYS_VENDOR, id->subsys_vendor);
	pci_cfg_set16(c, PCI_SUBSYS_ID, id->subsys);
	pci_cfg_set8(c, PCI_INTERRUPT_PIN, id->irq_pin);
	mask16(c, PCI_COMMAND,
	       PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER | PCI_CMD_PARITY | PCI_CMD_SERR |
		   PCI_CMD_INTX_OFF,
	       false);
	mask16(c, PCI_STATUS, PCI_STATUS_W1C, true);
	c->wmask[PCI_CACHE_LINE] = 0xff;
	c->wmask[PCI_INTERRUPT_LINE] = 0xff;
	c->cap_free = PCI_CAP_START;
}

static bool bar_fits(enum pci_bar_kind kind, uint64_t size, uint64_t addr)
{
	if (!is_pow2(size) || addr & (size - 1))
		return false;
	switch (kind) {
	case PCI_BAR_IO:
		return size >= 4 && size <= 256 && addr + size <= 0x10000;
	case PCI_BAR_MEM32:
		return size >= 16 && size <= (1ULL << 31) && addr + size <= (1ULL << 32);
	case PCI_BAR_MEM64:
		return size >= 16 && size <= (1ULL << 62) && addr <= UINT64_MAX - size;
	default:
		return false;
	}
}

/* Whether slot i is free: not declared, and not the upper half of a 64-bit BAR. */
static bool slot_free(const struct pci_cfg *c, unsigned i)
{
	return c->bar[i].kind == PCI_BAR_NONE && !(i > 0 && c->bar[i - 1].kind == PCI_BAR_MEM64);
}

int pci_cfg_set_bar(struct pci_cfg *c, unsigned i, enum pci_bar_kind kind, bool prefetchable,
		    uint64_t size, uint64_t addr)
{
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * i);
	uint64_t amask = ~(size - 1);

	if (i >= PCI_BAR_COUNT || !slot_free(c, i) || !bar_fits(kind, size, addr) ||
	    (kind == PCI_BAR_MEM64 && (i + 1 >= PCI_BAR_COUNT || !slot_free(c, i + 1))) ||
	    (kind == PCI_BAR_IO && prefetchable))
		return -EINVAL;
	c->bar[i] = (struct pci_bar){.kind = kind, .prefetchable = prefetchable, .size = size};
	if (kind == PCI_BAR_IO) {
		pci_cfg_set32(c, reg, (uint32_t)addr | PCI_BAR_IO_FLAG);
		mask32(c, reg, (uint32_t)amask & 0xfffcu);
		return 0;
	}
	pci_cfg_set32(c, reg,
		      (uint32_t)addr | (prefetchable ? PCI_BAR_PREFETCH : 0) |
			  (kind == PCI_BAR_MEM64 ? PCI_BAR_MEM64_FLAG : 0));
	mask32(c, reg, (uint32_t)amask & ~0xfu);
	if (kind == PCI_BAR_MEM64) {
		pci_cfg_set32(c, reg + 4, (uint32_t)(addr >> 32));
		mask32(c, reg + 4, (uint32_t)(amask >> 32));
	}
	return 0;
}

uint64_t pci_cfg_bar_addr(const struct pci_cfg *c, unsigned i)
{
	uint16_t reg = (uint16_t)(PCI_BAR0 + 4 * i);

	if (i >= PCI_BAR_COUNT)
		return 0;
	switch (c->bar[i].kind) {
	case PCI_BAR_IO:
		return pci_cfg_get32(c, reg) & 0xfffcu;
	case PCI_BAR_MEM32:
		return pci_cfg_get32(c, reg) & ~0xfu;
	case PCI_BAR_MEM64:
		return ((uint64_t)pci_cfg_get32(c, reg + 4) << 32 | pci_cfg_get32(c, reg)) &
		       ~0xfULL;
	default:
		return 0;
	}
}

bool pci_cfg_bar_active(const struct pci_cfg *c, unsigned i)
{
	uint16_t cmd = pci_cfg_get16(c, PCI_COMMAND);
	uint64_t addr = pci_cfg_bar_addr(c, i);
	const struct pci_bar *b;

	if (i >= PCI_BAR_COUNT || c->bar[i].kind == PCI_BAR_NONE || !addr)
		return false;
	b = &c->bar[i];
	if (!(cmd & (b->kind == PCI_BAR_IO ? PCI_CMD_IO : PCI_CMD_MEMORY)))
		return false;
	/* every address bit set: the guest is sizing the BAR, not placing it */
	return addr != (b->kind == PCI_BAR_IO	   ? ~(b->size - 1) & 0xfffcu
			: b->kind == PCI_BAR_MEM32 ? ~(b->size - 1) & 0xfffffff0u
						   : ~(b->size - 1) & ~0xfULL);
}

int pci_cfg_add_cap(struct pci_cfg *c, uint8_t id, uint8_t len, uint16_t *off)
{
	uint16_t at = (uint16_t)((c->cap_free + 3) & ~3u);

	if (len < 2)
		return -EINVAL;
	if (at + len > PCI_CFG_LEGACY_END)
		return -ENOSPC;
	pci_cfg_set8(c, at, id);
	pci_cfg_set8(c, at + 1, 0);
	pci_cfg_set8(c, c->last_cap ? c->last_cap + 1 : PCI_CAP_PTR, (uint8_t)at);
	pci_cfg_set16(c, PCI_STATUS, pci_cfg_get16(c, PCI_STATUS) | PCI_STATUS_CAPS);
	c->last_cap = at;
	c->cap_free = at + len;
	*off = at;
	return 0;
}

static bool access_ok(uint32_t off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off % size == 0 &&
	       off <= PCI_CFG_SIZE - size;
}

int pci_cfg_read(const struct pci_cfg *c, uint32_t off, unsigned size, uint32_t *val)
{
	uint32_t v = 0;

	if (!access_ok(off, size)) {
		*val = UINT32_MAX;
		return -EINVAL;
	}
	for (unsigned k = 0; k < size; k++)
		v |= (uint32_t)c->data[off + k] << (8 * k);
	*val = v;
	return 0;
}

bool pci_cfg_overlaps(uint32_t off, unsigned size, uint32_t start, uint32_t len)
{
	return off < start + len && start < off + size;
}

/* What a change of the bytes [off, off + size) means for the owner. */
static int changes(const struct pci_cfg *c, uint32_t off, unsigned size)
{
	int what = 0;

	if (pci_cfg_overlaps(off, size, PCI_COMMAND, 2))
		what |= PCI_CFG_CHANGED_COMMAND;
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
		uint32_t len = c->bar[i].kind == PCI_BAR_MEM64 ? 8 : 4;

		if (c->bar[i].kind != PCI_BAR_NONE &&
		    pci_cfg_overlaps(off, size, PCI_BAR0 + 4 * i, len))
			what |= PCI_CFG_CHANGED_BAR(i);
	}
	return what;
}

int pci_cfg_write(struct pci_cfg *c, uint32_t off, unsigned size, uint32_t val)
{
	bool changed = false;

	if (!access_ok(off, size))
		return -EINVAL;
	for (unsigned k = 0; k < size; k++) {
		uint8_t v = (uint8_t)(val >> (8 * k)), old = c->data[off + k];
		uint8_t now = (uint8_t)((old & ~c->wmask[off + k]) | (v & c->wmask[off + k]));

		now &= (uint8_t) ~(v & c->w1c[off + k]);
		changed |= now != old;
		c->data[off + k] = now;
	}
	return changed ? changes(c, off, size) : 0;
}

void pci_cfg_load(struct pci_cfg *c, const uint8_t *saved, unsigned len)
{
	for (unsigned i = 0; i < len && i < PCI_CFG_SIZE; i++) {
		uint8_t open = c->wmask[i] | c->w1c[i];

		c->data[i] = (uint8_t)((c->data[i] & ~open) | (saved[i] & open));
	}
}

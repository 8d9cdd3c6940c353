/* msix.c — MSI-X for one PCI function (see msix.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pci/msix.h"

static uint32_t pba_bytes(unsigned nr)
{
	return (nr + 63) / 64 * 8;
}

static uint32_t entry32(const struct msix *m, unsigned vec, unsigned k)
{
	const uint8_t *p = m->table + (size_t)vec * MSIX_ENTRY_SIZE + k;

	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_entry32(struct msix *m, unsigned vec, unsigned k, uint32_t v)
{
	uint8_t *p = m->table + (size_t)vec * MSIX_ENTRY_SIZE + k;

	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Message Control as of the last msix_cfg_written: a configuration write in progress on
 * another thread is not half-seen. */
static uint16_t ctrl(const struct msix *m)
{
	return m->ctrl;
}

bool msix_enabled(const struct msix *m)
{
	return ctrl(m) & MSIX_CTRL_ENABLE;
}

void msix_vector(const struct msix *m, unsigned vec, struct msix_msg *msg, bool *masked)
{
	msg->addr = (uint64_t)entry32(m, vec, 4) << 32 | entry32(m, vec, 0);
	msg->data = entry32(m, vec, 8);
	*masked = !msix_enabled(m) || (ctrl(m) & MSIX_CTRL_MASKALL) ||
		  (entry32(m, vec, 12) & MSIX_VECTOR_MASKED);
}

static bool pending(const struct msix *m, unsigned vec)
{
	return m->pba[vec / 64] >> (vec % 64) & 1;
}

static void set_pending(struct msix *m, unsigned vec, bool on)
{
	if (on)
		m->pba[vec / 64] |= 1ULL << (vec % 64);
	else
		m->pba[vec / 64] &= ~(1ULL << (vec % 64));
}

/* Tell the owner vector vec's route, and deliver it if it was left pending and is unmasked. */
static void refresh(struct msix *m, unsigned vec)
{
	struct msix_msg msg;
	bool masked;

	msix_vector(m, vec, &msg, &masked);
	m->ops->update(m->ctx, vec, &msg, masked);
	if (!masked && pending(m, vec)) {
		set_pending(m, vec, false);
		m->stats.fired++;
		m->ops->fire(m->ctx, vec);
	}
}

void msix_reset(struct msix *m)
{
	memset(m->table, 0, (size_t)m->nr * MSIX_ENTRY_SIZE);
	for (unsigned v = 0; v < m->nr; v++)
		set_entry32(m, v, 12, MSIX_VECTOR_MASKED);
	memset(m->pba, 0, pba_bytes(m->nr));
	m->ctrl = (uint16_t)(m->nr - 1);
	pci_cfg_set16(m->cfg, m->cap + 2, m->ctrl);
}

static bool layout_ok(const struct pci_cfg *cfg, unsigned nr, uint8_t bar, uint32_t table_off,
		      uint32_t pba_off)
{
	uint64_t tlen = (uint64_t)nr * MSIX_ENTRY_SIZE, plen = pba_bytes(nr);

	return nr >= 1 && nr <= MSIX_MAX_VECTORS && bar < PCI_BAR_COUNT &&
	       (cfg->bar[bar].kind == PCI_BAR_MEM32 || cfg->bar[bar].kind == PCI_BAR_MEM64) &&
	       table_off % 8 == 0 && pba_off % 8 == 0 && table_off + tlen <= cfg->bar[bar].size &&
	       pba_off + plen <= cfg->bar[bar].size &&
	       (table_off + tlen <= pba_off || pba_off + plen <= table_off);
}

int msix_init(struct msix *m, struct pci_cfg *cfg, unsigned nr, uint8_t bar, uint32_t table_off,
	      uint32_t pba_off, const struct msix_ops *ops, void *ctx)
{
	uint16_t cap;
	int ret;

	memset(m, 0, sizeof(*m));
	if (!layout_ok(cfg, nr, bar, table_off, pba_off) || !ops || !ops->update || !ops->fire)
		return -EINVAL;
	ret = pci_cfg_add_cap(cfg, PCI_CAP_ID_MSIX, MSIX_CAP_LEN, &cap);
	return ret < 0 ? ret : msix_init_at(m, cfg, cap, nr, bar, table_off, pba_off, ops, ctx);
}

int msix_init_at(struct msix *m, struct pci_cfg *cfg, uint16_t cap, unsigned nr, uint8_t bar,
		 uint32_t table_off, uint32_t pba_off, const struct msix_ops *ops, void *ctx)
{
	static const uint8_t ctrl_mask[2] = {0x00, 0xc0}; /* Enable and Function Mask */

	memset(m, 0, sizeof(*m));
	if (!layout_ok(cfg, nr, bar, table_off, pba_off) || !ops || !ops->update || !ops->fire ||
	    cap < PCI_CAP_START || cap > PCI_CFG_LEGACY_END - MSIX_CAP_LEN)
		return -EINVAL;
	m->cap = cap;
	m->table = calloc(nr, MSIX_ENTRY_SIZE);
	m->pba = calloc(pba_bytes(nr) / 8, sizeof(*m->pba));
	if (!m->table || !m->pba) {
		msix_destroy(m);
		return -ENOMEM;
	}
	m->cfg = cfg;
	m->nr = nr;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->ops = ops;
	m->ctx = ctx;
	pci_cfg_set32(cfg, m->cap + 4, table_off | bar);
	pci_cfg_set32(cfg, m->cap + 8, pba_off | bar);
	pci_cfg_set_wmask(cfg, m->cap + 2, ctrl_mask, sizeof(ctrl_mask), false);
	msix_reset(m);
	return 0;
}

void msix_destroy(struct msix *m)
{
	free(m->table);
	free(m->pba);
	m->table = NULL;
	m->pba = NULL;
}

void msix_cfg_written(struct msix *m, uint32_t off, unsigned size)
{
	/* Enable or Function Mask may have changed: every vector's mask may have */
	if (!pci_cfg_overlaps(off, size, m->cap + 2, 2))
		return;
	m->ctrl = pci_cfg_get16(m->cfg, m->cap + 2);
	for (unsigned v = 0; v < m->nr; v++)
		refresh(m, v);
}

/* The region [start, start + len) of the BAR holds the access, which is 4 bytes or 8 aligned. */
static bool in(uint64_t off, unsigned size, uint32_t start, uint64_t len)
{
	return off >= start && off - start < len && off + size <= start + len;
}

static bool width_ok(uint64_t off, unsigned size)
{
	return (size == 4 || size == 8) && off % size == 0;
}

bool msix_bar_read(struct msix *m, uint64_t off, unsigned size, uint64_t *val)
{
	uint64_t tlen = (uint64_t)m->nr * MSIX_ENTRY_SIZE;
	bool t = off >= m->table_off && off - m->table_off < tlen;
	bool p = off >= m->pba_off && off - m->pba_off < pba_bytes(m->nr);
	uint64_t v = 0;

	if (!t && !p)
		return false;
	if (!width_ok(off, size) ||
	    !in(off, size, t ? m->table_off : m->pba_off, t ? tlen : pba_bytes(m->nr))) {
		m->stats.bad_access++;
		*val = size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
		return true;
	}
	for (unsigned k = 0; k < size; k++) {
		uint64_t at = off - (t ? m->table_off : m->pba_off) + k;
		uint8_t b = t ? m->table[at] : (uint8_t)(m->pba[at / 8] >> (8 * (at % 8)));

		v |= (uint64_t)b << (8 * k);
	}
	*val = v;
	return true;
}

/* One aligned dword of entry vec at k (0, 4, 8 or 12): the address's low two bits and the
 * control word's reserved bits stay zero. */
static void write_entry32(struct msix *m, unsigned vec, unsigned k, uint32_t v)
{
	if (k == 0)
		v &= ~3u;
	else if (k == 12)
		v &= MSIX_VECTOR_MASKED;
	set_entry32(m, vec, k, v);
}

bool msix_bar_write(struct msix *m, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t tlen = (uint64_t)m->nr * MSIX_ENTRY_SIZE;
	unsigned vec, k;

	if (off >= m->pba_off && off - m->pba_off < pba_bytes(m->nr))
		return true; /* the PBA is read-only */
	if (off < m->table_off || off - m->table_off >= tlen)
		return false;
	if (!width_ok(off, size) || !in(off, size, m->table_off, tlen)) {
		m->stats.bad_access++;
		return true;
	}
	vec = (unsigned)((off - m->table_off) / MSIX_ENTRY_SIZE);
	k = (unsigned)((off - m->table_off) % MSIX_ENTRY_SIZE);
	write_entry32(m, vec, k, (uint32_t)val);
	if (size == 8)
		write_entry32(m, vec, k + 4, (uint32_t)(val >> 32));
	refresh(m, vec);
	return true;
}

int msix_signal(struct msix *m, unsigned vec)
{
	struct msix_msg msg;
	bool masked;

	if (vec >= m->nr)
		return -EINVAL;
	if (!msix_enabled(m))
		return -ENOTCONN;
	msix_vector(m, vec, &msg, &masked);
	if (masked) {
		set_pending(m, vec, true);
		m->stats.pended++;
		return 0;
	}
	m->stats.fired++;
	m->ops->fire(m->ctx, vec);
	return 0;
}

void msix_save(const struct msix *m, struct state_buf *b)
{
	state_put_bytes(b, m->table, (size_t)m->nr * MSIX_ENTRY_SIZE);
	for (unsigned w = 0; w < pba_bytes(m->nr) / 8; w++)
		state_put_u64(b, m->pba[w]);
}

void msix_load(struct msix *m, struct state_buf *b)
{
	for (unsigned v = 0; v < m->nr; v++)
		for (unsigned k = 0; k < MSIX_ENTRY_SIZE; k += 4)
			write_entry32(m, v, k, state_get_u32(b));
	for (unsigned w = 0; w < pba_bytes(m->nr) / 8; w++) {
		unsigned left = m->nr - 64 * w;

		m->pba[w] = state_get_u64(b) & (left >= 64 ? UINT64_MAX : (1ULL << left) - 1);
	}
}

void msix_restored(struct msix *m)
{
	m->ctrl = pci_cfg_get16(m->cfg, m->cap + 2);
	for (unsigned v = 0; v < m->nr; v++)
		refresh(m, v);
}

/* vfio_pci.c — PCI passthrough with VFIO (see vfio_pci.h). Hand-written: no Debian library
 * presents a VFIO device as an emulated PCI function for a VMM. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "core/device.h"
#include "core/vm.h"
#include "hv/kvm.h"
#include "pci/vfio_pci.h"
#include "util/err.h"

#define PAGE		4096ULL
#define PCI_CAP_ID_MSI	0x05
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_64	0x0080
#define MSI_CTRL_PVM	0x0100
#define PCI_HDR_END	0x40

/* Counters go up on vCPU threads with different locks held (the bus's, the function's, none). */
#define COUNT(d, f) __atomic_fetch_add(&(d)->stats.f, 1, __ATOMIC_RELAXED)

static bool msi_is64(const struct vfio_pci *d)
{
	return pci_cfg_get16(&d->pci, d->msi_cap + 2) & MSI_CTRL_64;
}

static bool msi_pvm(const struct vfio_pci *d)
{
	return pci_cfg_get16(&d->pci, d->msi_cap + 2) & MSI_CTRL_PVM;
}

/* The MSI capability's length: 10 bytes, 4 more for a 64-bit address, 10 more for per-vector
 * masking (PCI 3.0 §6.8.1). */
static unsigned msi_len(const struct vfio_pci *d)
{
	return 10u + (msi_is64(d) ? 4 : 0) + (msi_pvm(d) ? 10 : 0);
}

static uint16_t msi_data_off(const struct vfio_pci *d)
{
	return (uint16_t)(d->msi_cap + (msi_is64(d) ? 12 : 8));
}

/* --- configuration space: what reads from the device, what is forwarded --- */

static bool access_ok(uint32_t off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off % size == 0 &&
	       off + size <= PCI_CFG_SIZE;
}

static void cfg_reading(void *obj, uint32_t off, unsigned size)
{
	struct vfio_pci *d = obj;
	uint8_t buf[4];
	bool any = false;

	if (!access_ok(off, size))
		return;
	for (unsigned i = 0; i < size; i++)
		any |= d->live[off + i];
	if (!any)
		return;
	if (vfio_region_read(&d->dev, &d->dev.config, off, buf, size) < 0) {
		COUNT(d, cfg_errors);
		return;
	}
	for (unsigned i = 0; i < size; i++)
		if (d->live[off + i])
			pci_cfg_set8(&d->pci, (uint16_t)(off + i), buf[i]);
}

/* Hand the device the bytes of a guest write that are its own: the whole access when every byte
 * is, else each run of forwarded bytes. */
static void cfg_writing(void *obj, uint32_t off, unsigned size, uint32_t val)
{
	struct vfio_pci *d = obj;
	uint8_t buf[4];
	unsigned i = 0;

	if (!access_ok(off, size))
		return;
	for (unsigned k = 0; k < size; k++)
		buf[k] = (uint8_t)(val >> (8 * k));
	while (i < size) {
		unsigned start;

		for (; i < size && !d->fwd[off + i]; i++)
			;
		for (start = i; i < size && d->fwd[off + i]; i++)
			;
		if (i > start && vfio_region_write(&d->dev, &d->dev.config, off + start,
						   buf + start, i - start) < 0)
			COUNT(d, cfg_errors);
	}
}

/* --- BARs in memory slots --- */

/* Whether BAR i decodes now, wholly inside the bus's window (callable under the bus's lock). */
static bool bar_decodes(const struct vfio_pci *d, unsigned i)
{
	const struct pci_bar *b = &d->pci.bar[i];

	return pci_cfg_bar_active(&d->pci, i) &&
	       pci_bus_window_holds(d->cfg.bus, b->kind, pci_cfg_bar_addr(&d->pci, i), b->size);
}

static void piece_unmap(struct vfio_pci *d, struct vfio_piece *p)
{
	if (!p->mapped)
		return;
	if (kvm_set_memory_region(d->cfg.vm_fd, p->slot, 0, p->gpa, 0, NULL) < 0)
		COUNT(d, slot_errors);
	p->mapped = false;
}

/* Follow the BARs: each piece in a memory slot where its BAR decodes now, nowhere otherwise.
 * A slot KVM refuses (a guest that made two BARs overlap) leaves the piece trapped. */
static void pieces_update(struct vfio_pci *d)
{
	for (unsigned k = 0; k < d->nr_pieces; k++) {
		struct vfio_piece *p = &d->piece[k];
		bool on = bar_decodes(d, p->bar);
		uint64_t gpa = pci_cfg_bar_addr(&d->pci, p->bar) + p->off;

		if (p->mapped && (!on || p->gpa != gpa))
			piece_unmap(d, p);
		if (!on || p->mapped || d->cfg.vm_fd < 0)
			continue;
		if (kvm_set_memory_region(d->cfg.vm_fd, p->slot, 0, gpa, p->len, p->host) < 0) {
			COUNT(d, slot_errors);
			log_warn_ratelimited(&d->rl,
					     "%s: BAR %u at 0x%llx: no memory slot, trapped",
					     d->name, p->bar, (unsigned long long)gpa);
			continue;
		}
		p->gpa = gpa;
		p->mapped = true;
	}
}

/* --- interrupts --- */

static void wire(struct vfio_pci *d, int fd, uint32_t gsi, bool *wired, bool on)
{
	if (d->cfg.vm_fd >= 0 && kvm_irqfd_wire(d->cfg.vm_fd, fd, gsi, wired, on) < 0)
		COUNT(d, irq_errors);
}

static void route(struct vfio_pci *d, uint32_t gsi, uint64_t addr, uint32_t data)
{
	if (d->cfg.routes && irq_routes_set_msi(d->cfg.routes, gsi, addr, data) < 0)
		COUNT(d, irq_errors);
}

/* INTx on (the device's line to its eventfd, KVM's resample to VFIO's unmask) or off. */
static void intx_set(struct vfio_pci *d, bool on)
{
	if (!d->intx_gsi || d->intx_on == on)
		return;
	if (!on) {
		if (vfio_irqs_set(&d->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL) < 0)
			COUNT(d, irq_errors);
		d->intx_on = false;
		return;
	}
	if (vfio_irqs_set(&d->dev, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &d->intx_fd) < 0 ||
	    vfio_intx_unmask_fd(&d->dev, d->intx_unmask_fd) < 0) {
		COUNT(d, irq_errors);
		return;
	}
	d->intx_on = true;
}

static void msi_off(struct vfio_pci *d)
{
	for (unsigned v = 0; v < d->msi_nr; v++)
		wire(d, d->msi_fd[v], d->msi_gsi[v], &d->msi_wired[v], false);
	if (vfio_irqs_set(&d->dev, VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL) < 0)
		COUNT(d, irq_errors);
	d->msi_on = false;
	d->msi_nr = 0;
	intx_set(d, true);
}

/* The vectors the driver enabled (Multiple Message Enable), within what the device offers. */
static unsigned msi_enabled_vectors(const struct vfio_pci *d)
{
	unsigned n = 1u << ((pci_cfg_get16(&d->pci, d->msi_cap + 2) >> 4) & 7);

	return n < d->msi_max ? n : d->msi_max;
}

static bool msi_on(struct vfio_pci *d, unsigned nr)
{
	if (d->msi_on && d->msi_nr == nr)
		return true;
	if (d->msi_on)
		msi_off(d);
	intx_set(d, false);
	if (vfio_irqs_set(&d->dev, VFIO_PCI_MSI_IRQ_INDEX, 0, nr, d->msi_fd) < 0) {
		COUNT(d, irq_errors);
		intx_set(d, true);
		return false;
	}
	d->msi_on = true;
	d->msi_nr = nr;
	return true;
}

/* The guest wrote the MSI capability: enable, disable, route and mask its vectors. */
static void msi_update(struct vfio_pci *d)
{
	bool en = pci_cfg_get16(&d->pci, d->msi_cap + 2) & MSI_CTRL_ENABLE;
	unsigned nr = msi_enabled_vectors(d);
	uint64_t addr = pci_cfg_get32(&d->pci, d->msi_cap + 4);
	uint32_t data = pci_cfg_get16(&d->pci, msi_data_off(d)), mask = 0;

	if (!en) {
		if (d->msi_on)
			msi_off(d);
		return;
	}
	if (msi_is64(d))
		addr |= (uint64_t)pci_cfg_get32(&d->pci, d->msi_cap + 8) << 32;
	if (msi_pvm(d))
		mask = pci_cfg_get32(&d->pci, (uint16_t)(msi_data_off(d) + 4));
	if (!msi_on(d, nr))
		return;
	for (unsigned v = 0; v < nr; v++) {
		bool masked = mask >> v & 1;

		if (!masked) /* the function puts the vector number in data's low bits */
			route(d, d->msi_gsi[v], addr, (data & ~(nr - 1)) | v);
		wire(d, d->msi_fd[v], d->msi_gsi[v], &d->msi_wired[v], !masked);
	}
}

static void msix_update(void *ctx, unsigned vec, const struct msix_msg *msg, bool masked)
{
	struct vfio_pci *d = ctx;

	if (vec >= d->msix_nr)
		return; /* beyond the vectors kiln wires: never signalled */
	if (!masked)
		route(d, d->msix_gsi[vec], msg->addr, msg->data);
	wire(d, d->msix_fd[vec], d->msix_gsi[vec], &d->msix_wired[vec], !masked);
}

/* msix_signal is for emulated functions; a passthrough one's vectors come from its eventfds. */
static void msix_fire(void *ctx, unsigned vec)
{
	struct vfio_pci *d = ctx;
	uint64_t one = 1;

	if (vec < d->msix_nr && write(d->msix_fd[vec], &one, sizeof(one)) < 0)
		COUNT(d, irq_errors);
}

static const struct msix_ops vfio_msix_ops = {.update = msix_update, .fire = msix_fire};

/* The guest wrote MSI-X's Message Control: VFIO's vectors on or off around msix.c's walk. */
static void msix_written(struct vfio_pci *d, uint32_t off, unsigned size)
{
	bool en = pci_cfg_get16(&d->pci, d->msix.cap + 2) & MSIX_CTRL_ENABLE;

	if (en && !d->msix_on) {
		intx_set(d, false);
		if (vfio_irqs_set(&d->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, d->msix_nr, d->msix_fd) <
		    0) {
			COUNT(d, irq_errors);
			intx_set(d, true);
			return;
		}
		d->msix_on = true;
	}
	msix_cfg_written(&d->msix, off, size);
	if (!en && d->msix_on) {
		if (vfio_irqs_set(&d->dev, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL) < 0)
			COUNT(d, irq_errors);
		d->msix_on = false;
		intx_set(d, true);
	}
}

static void cfg_written(void *obj, uint32_t off, unsigned size, int changed)
{
	struct vfio_pci *d = obj;

	pthread_mutex_lock(&d->lock);
	if (changed & (PCI_CFG_CHANGED_COMMAND | (PCI_CFG_CHANGED_BAR(PCI_BAR_COUNT) - 1)))
		pieces_update(d);
	if (d->msi_cap && pci_cfg_overlaps(off, size, d->msi_cap, msi_len(d)))
		msi_update(d);
	if (d->has_msix && pci_cfg_overlaps(off, size, d->msix.cap + 2u, 2))
		msix_written(d, off, size);
	pthread_mutex_unlock(&d->lock);
}

/* --- trapped BAR accesses --- */

static uint64_t bar_read(void *obj, unsigned bar, uint64_t off, unsigned size)
{
	struct vfio_pci *d = obj;
	uint64_t v = 0;
	bool done = false;

	if (d->has_msix && bar == d->msix.bar) {
		pthread_mutex_lock(&d->lock);
		done = msix_bar_read(&d->msix, off, size, &v);
		pthread_mutex_unlock(&d->lock);
	}
	if (done)
		return v;
	COUNT(d, bar_reads);
	if (vfio_region_read(&d->dev, &d->dev.bar[bar], off, &v, size) < 0) {
		COUNT(d, cfg_errors);
		return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
	}
	return v;
}

static void bar_write(void *obj, unsigned bar, uint64_t off, uint64_t val, unsigned size)
{
	struct vfio_pci *d = obj;
	bool done = false;

	if (d->has_msix && bar == d->msix.bar) {
		pthread_mutex_lock(&d->lock);
		done = msix_bar_write(&d->msix, off, size, val);
		pthread_mutex_unlock(&d->lock);
	}
	if (done)
		return;
	COUNT(d, bar_writes);
	if (vfio_region_write(&d->dev, &d->dev.bar[bar], off, &val, size) < 0)
		COUNT(d, cfg_errors);
}

const struct pci_function_ops vfio_pci_function_ops = {
    .cfg_written = cfg_written,
    .cfg_writing = cfg_writing,
    .cfg_reading = cfg_reading,
    .bar_read = bar_read,
    .bar_write = bar_write,
};

/* --- building the function --- */

/* One line into err (errlen bytes); returns ret. */
static int PRINTF(4, 5) fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* Mark [off, off + len) of the shadow as kiln's own: neither read from nor written to the
 * device. */
static void emulate(struct vfio_pci *d, unsigned off, unsigned len)
{
	if (off >= PCI_CFG_SIZE)
		return;
	if (len > PCI_CFG_SIZE - off)
		len = PCI_CFG_SIZE - off;
	memset(d->live + off, 0, len);
	memset(d->fwd + off, 0, len);
}

/* The shadow: the device's bytes, then the header's identification as a single-function type 0
 * device, the command register kiln's (and forwarded), BARs, ROM and interrupt line kiln's. */
static int shadow_init(struct vfio_pci *d, const uint8_t *raw, unsigned cfg_len)
{
	struct pci_id id = {.vendor = (uint16_t)(raw[0] | raw[1] << 8),
			    .device = (uint16_t)(raw[2] | raw[3] << 8),
			    .revision = raw[PCI_REVISION],
			    .class_code =
				(uint32_t)raw[9] | (uint32_t)raw[10] << 8 | (uint32_t)raw[11] << 16,
			    .irq_pin = 0};

	if ((raw[PCI_HEADER_TYPE] & 0x7f) != 0)
		return -ENOTSUP; /* a bridge or CardBus header */
	pci_cfg_init(&d->pci, &id);
	for (unsigned i = PCI_HDR_END; i < cfg_len; i++)
		pci_cfg_set8(&d->pci, (uint16_t)i, raw[i]);
	for (unsigned i = PCI_SUBSYS_VENDOR; i < PCI_ROM_ADDRESS; i++)
		pci_cfg_set8(&d->pci, (uint16_t)i, raw[i]);
	pci_cfg_set8(&d->pci, PCI_CAP_PTR, raw[PCI_CAP_PTR]);
	pci_cfg_set16(&d->pci, PCI_STATUS, (uint16_t)(raw[PCI_STATUS] | raw[PCI_STATUS + 1] << 8));
	memset(d->live, 1, cfg_len);
	memset(d->fwd, 1, cfg_len);
	emulate(d, cfg_len, PCI_CFG_SIZE);
	emulate(d, PCI_COMMAND, 2);
	d->fwd[PCI_COMMAND] = d->fwd[PCI_COMMAND + 1] = 1; /* bus mastering reaches the device */
	emulate(d, PCI_HEADER_TYPE, 1);
	emulate(d, PCI_BAR0, 4 * PCI_BAR_COUNT);
	emulate(d, PCI_ROM_ADDRESS, 4);
	emulate(d, PCI_INTERRUPT_LINE, 2);
	return 0;
}

/* BAR i's kind from the device's BAR register. */
static enum pci_bar_kind bar_kind(uint32_t reg)
{
	if (reg & PCI_BAR_IO_FLAG)
		return PCI_BAR_IO;
	return (reg & 6) == PCI_BAR_MEM64_FLAG ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
}

/* Give the device's memory BARs addresses in the bus's windows (a 64-bit BAR in the 64-bit
 * window when there is one). I/O BARs are left out (the board has no I/O window): logged. */
static int bars_init(struct vfio_pci *d, const uint8_t *raw, char *err, size_t errlen)
{
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
		uint32_t reg = (uint32_t)raw[PCI_BAR0 + 4 * i] | raw[PCI_BAR0 + 4 * i + 1] << 8 |
			       raw[PCI_BAR0 + 4 * i + 2] << 16 |
			       (uint32_t)raw[PCI_BAR0 + 4 * i + 3] << 24;
		enum pci_bar_kind kind = bar_kind(reg);
		uint64_t size = d->dev.bar[i].size, addr = 0;
		enum pci_window_kind wk = PCI_WIN_MEM32;
		int ret;

		if (!size)
			continue;
		if (kind == PCI_BAR_IO) {
			log_warn("%s: BAR %u is an I/O BAR; kiln's PCI bus has no I/O window: left "
				 "out",
				 d->name, i);
			continue;
		}
		if (size & (size - 1) || size < 16 || (kind == PCI_BAR_MEM64 && i == 5))
			return fail(err, errlen, -EINVAL, "--vfio %s: BAR %u is malformed",
				    d->sysfs, i);
		if (kind == PCI_BAR_MEM64 && d->cfg.bus->win[PCI_WIN_MEM64].len)
			wk = PCI_WIN_MEM64;
		ret = pci_bus_alloc(d->cfg.bus, wk, size < PAGE ? PAGE : size, &addr);
		if (ret == 0)
			ret = pci_cfg_set_bar(&d->pci, i, kind, reg & PCI_BAR_PREFETCH, size, addr);
		if (ret < 0)
			return fail(err, errlen, ret,
				    "--vfio %s: BAR %u (%llu bytes) does not fit kiln's PCI memory "
				    "window",
				    d->sysfs, i, (unsigned long long)size);
		if (kind == PCI_BAR_MEM64)
			i++;
	}
	return 0;
}

/* n vectors: an eventfd each and, with KVM, a GSI for its MSI route. */
static int vectors_init(struct vfio_pci *d, int *fd, uint32_t *gsi, unsigned n)
{
	for (unsigned v = 0; v < n; v++) {
		fd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (fd[v] < 0)
			return -errno;
		if (d->cfg.routes && irq_routes_alloc(d->cfg.routes, &gsi[v]) < 0)
			return -ENOSPC;
	}
	return 0;
}

/* The MSI capability at off: its writable bits (Enable and Multiple Message Enable, address,
 * data, mask bits), everything off, and the vectors' eventfds and GSIs. */
static int msi_init(struct vfio_pci *d, uint16_t off)
{
	static const uint8_t ctrl[2] = {0x71, 0}, ones[4] = {0xff, 0xff, 0xff, 0xff};
	static const uint8_t addr[4] = {0xfc, 0xff, 0xff, 0xff};
	uint16_t c = pci_cfg_get16(&d->pci, off + 2);

	d->msi_cap = off;
	d->msi_max = 1u << ((c >> 1) & 7);
	if (d->msi_max > d->dev.irq_count[VFIO_PCI_MSI_IRQ_INDEX])
		d->msi_max = d->dev.irq_count[VFIO_PCI_MSI_IRQ_INDEX];
	if (d->msi_max > VFIO_PCI_MSI_MAX)
		d->msi_max = VFIO_PCI_MSI_MAX;
	pci_cfg_set16(&d->pci, off + 2, (uint16_t)(c & ~0x71u));
	emulate(d, off, msi_len(d));
	pci_cfg_set_wmask(&d->pci, off + 2, ctrl, 2, false);
	pci_cfg_set_wmask(&d->pci, off + 4, addr, 4, false);
	if (msi_is64(d))
		pci_cfg_set_wmask(&d->pci, off + 8, ones, 4, false);
	pci_cfg_set_wmask(&d->pci, msi_data_off(d), ones, 2, false);
	if (msi_pvm(d))
		pci_cfg_set_wmask(&d->pci, (uint16_t)(msi_data_off(d) + 4), ones, 4, false);
	return vectors_init(d, d->msi_fd, d->msi_gsi, d->msi_max);
}

/* The MSI-X capability at off: msix.c emulates it and the table, over the device's BAR. */
static int msix_init_dev(struct vfio_pci *d, uint16_t off)
{
	uint16_t c = pci_cfg_get16(&d->pci, off + 2);
	uint32_t table = pci_cfg_get32(&d->pci, off + 4), pba = pci_cfg_get32(&d->pci, off + 8);
	unsigned nr = (c & 0x7ffu) + 1;
	int ret;

	if ((table & 7) != (pba & 7))
		return -ENOTSUP; /* table and PBA in different BARs */
	ret = msix_init_at(&d->msix, &d->pci, off, nr, (uint8_t)(table & 7), table & ~7u, pba & ~7u,
			   &vfio_msix_ops, d);
	if (ret < 0)
		return ret;
	d->has_msix = true;
	emulate(d, off, MSIX_CAP_LEN);
	d->msix_nr = nr < VFIO_PCI_MSIX_MAX ? nr : VFIO_PCI_MSIX_MAX;
	if (d->msix_nr > d->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX])
		d->msix_nr = d->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX];
	return vectors_init(d, d->msix_fd, d->msix_gsi, d->msix_nr);
}

/* Walk the device's capability list (at most 48 hops: a looping list ends) for MSI and MSI-X. */
static int caps_init(struct vfio_pci *d, char *err, size_t errlen)
{
	uint8_t off = pci_cfg_get8(&d->pci, PCI_CAP_PTR) & 0xfc;
	int ret = 0;

	if (!(pci_cfg_get16(&d->pci, PCI_STATUS) & PCI_STATUS_CAPS))
		return 0;
	for (unsigned hops = 0; off >= PCI_HDR_END && hops < 48 && ret == 0; hops++) {
		uint8_t id = pci_cfg_get8(&d->pci, off);

		if (id == PCI_CAP_ID_MSI && !d->msi_cap && d->dev.irq_count[VFIO_PCI_MSI_IRQ_INDEX])
			ret = msi_init(d, off);
		else if (id == PCI_CAP_ID_MSIX && !d->has_msix &&
			 d->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX])
			ret = msix_init_dev(d, off);
		off = pci_cfg_get8(&d->pci, off + 1) & 0xfc;
	}
	if (ret < 0)
		return fail(err, errlen, ret,
			    "--vfio %s: its MSI or MSI-X capability cannot be "
			    "emulated (%s)",
			    d->sysfs, strerror(-ret));
	return 0;
}

/* Add piece [off, off + len) of BAR bar (page-aligned, non-empty) and mmap it. */
static void piece_add(struct vfio_pci *d, unsigned bar, uint64_t off, uint64_t len)
{
	const struct vfio_region *r = &d->dev.bar[bar];
	struct vfio_piece *p;
	void *host;

	if (d->nr_pieces == VFIO_PCI_MAX_PIECES || !len)
		return;
	host = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->dev.fd,
		    (off_t)(r->offset + off));
	if (host == MAP_FAILED) {
		log_debug("%s: BAR %u +0x%llx: mmap failed (%s): trapped", d->name, bar,
			  (unsigned long long)off, strerror(errno));
		return;
	}
	p = &d->piece[d->nr_pieces];
	*p = (struct vfio_piece){.bar = bar,
				 .off = off,
				 .len = len,
				 .host = host,
				 .slot = d->cfg.memslot_base + d->nr_pieces};
	d->nr_pieces++;
}

/* The pages of [start, end) in BAR bar that the MSI-X table and PBA do not touch, as pieces. */
static void area_split(struct vfio_pci *d, unsigned bar, uint64_t start, uint64_t end)
{
	uint64_t hole[2][2] = {{0, 0}, {0, 0}};

	if (d->has_msix && bar == d->msix.bar) {
		uint64_t t = d->msix.table_off, p = d->msix.pba_off;

		hole[0][0] = t & ~(PAGE - 1);
		hole[0][1] = (t + (uint64_t)d->msix.nr * MSIX_ENTRY_SIZE + PAGE - 1) & ~(PAGE - 1);
		hole[1][0] = p & ~(PAGE - 1);
		hole[1][1] = (p + (d->msix.nr + 63) / 64 * 8 + PAGE - 1) & ~(PAGE - 1);
		if (hole[1][0] < hole[0][0]) {
			uint64_t a = hole[0][0], b = hole[0][1];

			hole[0][0] = hole[1][0], hole[0][1] = hole[1][1];
			hole[1][0] = a, hole[1][1] = b;
		}
	}
	for (unsigned h = 0; h < 2 && start < end; h++) {
		if (hole[h][1] <= start || hole[h][0] >= end || hole[h][0] == hole[h][1])
			continue;
		if (hole[h][0] > start)
			piece_add(d, bar, start, hole[h][0] - start);
		start = hole[h][1];
	}
	if (start < end)
		piece_add(d, bar, start, end - start);
}

static void pieces_init(struct vfio_pci *d)
{
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++) {
		const struct vfio_region *r = &d->dev.bar[i];

		if (d->pci.bar[i].kind != PCI_BAR_MEM32 && d->pci.bar[i].kind != PCI_BAR_MEM64)
			continue;
		for (unsigned a = 0; a < r->nr_areas; a++) {
			uint64_t s = (r->area_start[a] + PAGE - 1) & ~(PAGE - 1);
			uint64_t e = (r->area_start[a] + r->area_len[a]) & ~(PAGE - 1);

			if (e > d->pci.bar[i].size)
				e = d->pci.bar[i].size & ~(PAGE - 1);
			if (s < e)
				area_split(d, i, s, e);
		}
	}
}

/* INTx: the pin the device reports, on the GSI the board's swizzle gives its slot. */
static void intx_init(struct vfio_pci *d, uint8_t pin)
{
	uint32_t gsi;

	if (pin < 1 || pin > 4 || !d->dev.irq_count[VFIO_PCI_INTX_IRQ_INDEX] || d->cfg.vm_fd < 0)
		return;
	gsi = d->cfg.intx_gsi[(d->slot + pin - 1) % 4];
	if (!gsi)
		return;
	d->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->intx_unmask_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->intx_fd < 0 || d->intx_unmask_fd < 0 ||
	    kvm_irqfd_resample(d->cfg.vm_fd, d->intx_fd, d->intx_unmask_fd, gsi, false) < 0) {
		log_warn("%s: INTx cannot be wired: the guest must use MSI", d->name);
		return;
	}
	d->intx_gsi = gsi;
	pci_cfg_set8(&d->pci, PCI_INTERRUPT_PIN, pin);
	intx_set(d, true);
}

static int open_device(struct vfio_pci *d, char *err, size_t errlen)
{
	const char *base = strrchr(d->sysfs, '/');
	int gid, gfd, ret = vfio_group_of(d->sysfs, &gid);

	base = base ? base + 1 : d->sysfs;
	if (ret < 0)
		return fail(err, errlen, ret,
			    "--vfio %s: no IOMMU group (%s): not a PCI device, or the host has no "
			    "IOMMU",
			    d->sysfs, strerror(-ret));
	ret = vfio_group_join(d->cfg.container, gid, &gfd);
	if (ret < 0)
		return fail(err, errlen, ret, "--vfio %s: its IOMMU group %d cannot be used (%s)%s",
			    d->sysfs, gid, strerror(-ret),
			    ret == -EBUSY   ? ": bind every device of the group to vfio-pci"
			    : ret == -EPERM ? ": the IOMMU needs interrupt remapping"
					    : "");
	ret = vfio_device_open(gfd, base, &d->dev);
	if (ret < 0)
		return fail(err, errlen, ret,
			    "--vfio %s: cannot open the device through VFIO (%s: %s)", d->sysfs,
			    d->dev.failed ? d->dev.failed : "open", strerror(-ret));
	return 0;
}

static int build(struct vfio_pci *d, char *err, size_t errlen)
{
	uint8_t raw[PCI_CFG_SIZE] = {0};
	unsigned len =
	    d->dev.config.size < PCI_CFG_SIZE ? (unsigned)d->dev.config.size : PCI_CFG_SIZE;
	int ret;

	if (len < PCI_CFG_LEGACY_END || vfio_region_read(&d->dev, &d->dev.config, 0, raw, len) < 0)
		return fail(err, errlen, -EIO, "--vfio %s: %s", d->sysfs,
			    "its configuration space cannot be read");
	ret = shadow_init(d, raw, len);
	if (ret < 0)
		return fail(err, errlen, ret, "--vfio %s: %s", d->sysfs,
			    "is a bridge: only endpoints can be passed through");
	ret = bars_init(d, raw, err, errlen);
	if (ret == 0)
		ret = caps_init(d, err, errlen);
	if (ret < 0)
		return ret;
	pieces_init(d);
	ret = pci_bus_add(d->cfg.bus, &(struct pci_function){&d->pci, &vfio_pci_function_ops, d},
			  &d->slot);
	if (ret < 0)
		return fail(err, errlen, ret, "--vfio %s: %s", d->sysfs, "no free PCI slot");
	intx_init(d, raw[PCI_INTERRUPT_PIN]);
	return 0;
}

/* A function with nothing open yet, for cfg. NULL: out of memory. */
static struct vfio_pci *fn_alloc(const struct vfio_pci_config *cfg)
{
	struct vfio_pci *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cfg = *cfg;
	d->dev.fd = d->intx_fd = d->intx_unmask_fd = -1;
	for (unsigned v = 0; v < VFIO_PCI_MSI_MAX; v++)
		d->msi_fd[v] = -1;
	for (unsigned v = 0; v < VFIO_PCI_MSIX_MAX; v++)
		d->msix_fd[v] = -1;
	d->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	pthread_mutex_init(&d->lock, NULL);
	snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : "vfio");
	snprintf(d->sysfs, sizeof(d->sysfs), "%s", cfg->sysfs ? cfg->sysfs : "");
	d->cfg.sysfs = d->sysfs;
	d->cfg.name = d->name;
	return d;
}

/* Build d around its open device; d is freed on failure. */
static int fn_finish(struct vfio_pci *d, struct vfio_pci **out, char *err, size_t errlen)
{
	int ret = build(d, err, errlen);

	if (ret < 0) {
		if (d->slot)
			pci_bus_remove(d->cfg.bus, d->slot);
		vfio_pci_destroy(d);
		return ret;
	}
	*out = d;
	return 0;
}

int vfio_pci_create(const struct vfio_pci_config *cfg, struct vfio_pci **out, char *err,
		    size_t errlen)
{
	struct vfio_pci *d;
	int ret;

	if (strlen(cfg->sysfs) >= sizeof(d->sysfs))
		return fail(err, errlen, -ENAMETOOLONG, "--vfio %s: the path is too long",
			    cfg->sysfs);
	d = fn_alloc(cfg);
	if (!d)
		return -ENOMEM;
	ret = open_device(d, err, errlen);
	if (ret < 0) {
		vfio_pci_destroy(d);
		return ret;
	}
	return fn_finish(d, out, err, errlen);
}

int vfio_pci_create_dev(const struct vfio_pci_config *cfg, const struct vfio_device *dev,
			struct vfio_pci **out, char *err, size_t errlen)
{
	struct vfio_pci *d = fn_alloc(cfg);

	if (!d) {
		close(dev->fd);
		return -ENOMEM;
	}
	d->dev = *dev;
	return fn_finish(d, out, err, errlen);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void vfio_pci_destroy(struct vfio_pci *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX; i++) {
		bool on = i == VFIO_PCI_INTX_IRQ_INDEX	? d->intx_on
			  : i == VFIO_PCI_MSI_IRQ_INDEX ? d->msi_on
							: d->msix_on;

		if (on && vfio_irqs_set(&d->dev, i, 0, 0, NULL) < 0)
			log_debug("%s: interrupt index %u not disabled", d->name, i);
	}
	for (unsigned v = 0; v < VFIO_PCI_MSI_MAX; v++) {
		wire(d, d->msi_fd[v], d->msi_gsi[v], &d->msi_wired[v], false);
		close_fd(d->msi_fd[v]);
	}
	for (unsigned v = 0; v < VFIO_PCI_MSIX_MAX; v++) {
		wire(d, d->msix_fd[v], d->msix_gsi[v], &d->msix_wired[v], false);
		close_fd(d->msix_fd[v]);
	}
	if (d->intx_gsi && kvm_irqfd(d->cfg.vm_fd, d->intx_fd, d->intx_gsi, true) < 0)
		log_debug("%s: INTx irqfd not removed", d->name);
	close_fd(d->intx_fd);
	close_fd(d->intx_unmask_fd);
	for (unsigned k = 0; k < d->nr_pieces; k++) {
		piece_unmap(d, &d->piece[k]);
		munmap(d->piece[k].host, d->piece[k].len);
	}
	pthread_mutex_unlock(&d->lock);
	if (d->has_msix)
		msix_destroy(&d->msix);
	vfio_device_close(&d->dev);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

int vfio_pci_map_ram(struct vfio_container *c, const struct guest_mem *m, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		int ret;

		if (!(r->flags & GUEST_MEM_RAM))
			continue;
		ret = vfio_dma_map(c, r->gpa, r->len, r->host);
		if (ret < 0) {
			snprintf(
			    err, errlen,
			    "--vfio: guest RAM at 0x%llx (%llu MiB) cannot be mapped for DMA: %s",
			    (unsigned long long)r->gpa, (unsigned long long)(r->len >> 20),
			    strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* --- the board entry --- */

static const struct device_counter vfio_counters[] = {
    DEVICE_COUNTER(struct vfio_pci_stats, bar_reads),
    DEVICE_COUNTER(struct vfio_pci_stats, bar_writes),
    DEVICE_COUNTER(struct vfio_pci_stats, cfg_errors),
    DEVICE_COUNTER(struct vfio_pci_stats, irq_errors),
    DEVICE_COUNTER(struct vfio_pci_stats, slot_errors),
};

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct vfio_pci *d = obj;
	struct vfio_pci_stats s = {
	    .bar_reads = __atomic_load_n(&d->stats.bar_reads, __ATOMIC_RELAXED),
	    .bar_writes = __atomic_load_n(&d->stats.bar_writes, __ATOMIC_RELAXED),
	    .cfg_errors = __atomic_load_n(&d->stats.cfg_errors, __ATOMIC_RELAXED),
	    .irq_errors = __atomic_load_n(&d->stats.irq_errors, __ATOMIC_RELAXED),
	    .slot_errors = __atomic_load_n(&d->stats.slot_errors, __ATOMIC_RELAXED)};

	device_report_counters(DEVICE_COUNTERS(vfio_counters), &s, name, fn, ctx);
}

static void entry_destroy(void *obj)
{
	vfio_pci_destroy(obj);
}

static const struct device_ops vfio_pci_device_ops = {
    .kind = "vfio-pci",
    .stats = entry_stats,
    .destroy = entry_destroy,
};

int vfio_pci_attach(struct vm *vm, const struct vfio_pci_config *cfg, const char *name)
{
	char err[512] = "";
	struct vfio_pci *d;
	int ret = device_list_reserve(&vm->devices, 1);

	if (ret == 0)
		ret = vfio_pci_create(cfg, &d, err, sizeof(err));
	if (ret < 0)
		return err_set(vm->err, ret, "%s", err[0] ? err : strerror(-ret));
	ret = device_list_add_ops(&vm->devices, &vfio_pci_device_ops, d, name, NULL, 0, 0);
	if (ret < 0) {
		pci_bus_remove(cfg->bus, d->slot);
		vfio_pci_destroy(d);
		return err_set(vm->err, ret, "%s: %s", name, strerror(-ret));
	}
	return 0;
}

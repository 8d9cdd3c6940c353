/* fuzz_vfio_pci.c — libFuzzer target: a passthrough function (src/pci/vfio_pci.c) built from a
 * hostile device's configuration space and BAR sizes, then driven by a hostile guest's
 * configuration and BAR accesses. A memfd stands in for the VFIO device (its configuration and
 * BAR regions are byte ranges of it, read and written with pread/pwrite as VFIO's are); there is
 * no KVM, so interrupt wiring fails and is counted. After every input that built a function: its
 * header reads single-function type 0, the ROM BAR reads 0, every BAR address is aligned to its
 * size, and the shadow's capability list is the device's, walked at most 48 hops by kiln;
 * AddressSanitizer and UBSan watch the rest. A build the device makes impossible must fail with
 * one line.
 *
 * Input: [256 bytes: the device's configuration space][6 bytes: BAR i's region size, 0 none or
 * 1 << (b % 40)][1 byte: MSI-X vectors VFIO reports (b % 65)] then 8-byte operations
 * [op][offset lo][offset hi][value: 4 bytes][extra]:
 *   op & 3: 0 a guest configuration write (offset & 0xfff, width 1/2/4 from op bits 4-5), 1 a
 *   guest configuration read, 2 a trapped BAR write (BAR extra % 6, offset, width 1/2/4/8),
 *   3 a trapped BAR read; op bit 2: change the device's own byte at configuration offset
 *   (offset & 0xff) to the value's low byte first (a device whose registers move under kiln).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pci/vfio_pci.h"
#include "util/log.h"

#define MEM32	  0xe0000000ULL
#define MEM32_LEN 0x10000000ULL
#define HDR_LEN	  (256 + 6 + 1)
#define OP_LEN	  8
#define REGION	  0x100000ULL /* each BAR region's place in the file: (i + 1) * REGION */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int device_file(const uint8_t *cfg)
{
	int fd = memfd_create("fuzz-vfio", MFD_CLOEXEC);

	if (fd < 0 || ftruncate(fd, 8 * REGION) < 0 || pwrite(fd, cfg, 256, 0) != 256)
		abort();
	return fd;
}

static void device_init(struct vfio_device *dev, const uint8_t *hdr, int fd)
{
	const uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;

	memset(dev, 0, sizeof(*dev));
	dev->fd = fd;
	dev->config = (struct vfio_region){.flags = rw, .size = 256};
	for (unsigned i = 0; i < 6; i++) {
		uint8_t b = hdr[256 + i];
		uint64_t s = b ? 1ULL << (b % 40) : 0;

		dev->bar[i] =
		    (struct vfio_region){.flags = rw, .size = s, .offset = (i + 1) * REGION};
		if (b & 0x80 && s >= 4096 && s <= REGION) { /* mappable */
			dev->bar[i].flags |= VFIO_REGION_INFO_FLAG_MMAP;
			dev->bar[i].nr_areas = 1;
			dev->bar[i].area_len[0] = s;
		}
	}
	dev->irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	dev->irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 32;
	dev->irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = hdr[262] % 65;
}

static unsigned width(uint8_t op, unsigned max)
{
	unsigned w = 1u << ((op >> 4) & 3);

	return w > max ? max : w;
}

static void run_op(struct pci_bus *bus, struct vfio_pci *d, const uint8_t *p)
{
	uint16_t off = (uint16_t)(p[1] | p[2] << 8);
	uint32_t val =
	    (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 24;
	uint32_t reg = d->slot << 15 | (off & 0xfff);
	unsigned bar = p[7] % 6;

	if (p[0] & 4 && pwrite(d->dev.fd, &p[3], 1, off & 0xff) != 1)
		abort();
	switch (p[0] & 3) {
	case 0:
		pci_bus_cfg_write(bus, reg, width(p[0], 4), val);
		break;
	case 1:
		(void)pci_bus_cfg_read(bus, reg, width(p[0], 4));
		break;
	case 2:
		if (d->pci.bar[bar].size)
			vfio_pci_function_ops.bar_write(d, bar, off % d->pci.bar[bar].size,
							(uint64_t)val << 32 | val, width(p[0], 8));
		break;
	default:
		if (d->pci.bar[bar].size)
			(void)vfio_pci_function_ops.bar_read(d, bar, off % d->pci.bar[bar].size,
							     width(p[0], 8));
		break;
	}
}

static void check(struct pci_bus *bus, struct vfio_pci *d)
{
	const struct pci_cfg *c = &d->pci;

	if (pci_bus_cfg_read(bus, d->slot << 15 | PCI_HEADER_TYPE, 1) != 0 ||
	    pci_bus_cfg_read(bus, d->slot << 15 | PCI_ROM_ADDRESS, 4) != 0)
		abort();
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++)
		if (c->bar[i].size && pci_cfg_bar_addr(c, i) % c->bar[i].size)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint64_t base[PCI_NR_WINDOWS] = {MEM32, 0, 0},
		       len[PCI_NR_WINDOWS] = {MEM32_LEN, 0, 0};
	struct vfio_pci_config c = {
	    .vm_fd = -1, .memslot_base = 64, .sysfs = "/sys/fuzz", .name = "f"};
	struct vfio_device dev;
	struct vfio_pci *d = NULL;
	struct pci_bus bus;
	char err[256] = "";

	if (size < HDR_LEN)
		return 0;
	log_set_level(LOG_OFF);
	if (pci_bus_init(&bus, base, len) < 0)
		abort();
	c.bus = &bus;
	device_init(&dev, data, device_file(data));
	if (vfio_pci_create_dev(&c, &dev, &d, err, sizeof(err)) < 0) {
		if (!err[0] || strchr(err, '\n'))
			abort(); /* a refusal is one line */
	} else {
		for (size_t i = HDR_LEN; i + OP_LEN <= size; i += OP_LEN)
			run_op(&bus, d, data + i);
		check(&bus, d);
		vfio_pci_destroy(d);
	}
	pci_bus_destroy(&bus);
	return 0;
}

/* fuzz_pci.c — libFuzzer target: a guest's accesses to a PCI bus (src/pci/) with a virtio-rng
 * device on it as a virtio-pci function (src/virtio/virtio_pci.c): configuration space through
 * ECAM and through ports 0xcf8/0xcfc, the function's BAR (common configuration, ISR, device
 * configuration, notifications, MSI-X table and PBA) at wherever the input moved it, guest RAM
 * the input writes (rings and descriptor chains), interrupts raised, and snapshot round trips of
 * the transport. After every input: the function's identity and the host bridge's are as built,
 * the capability list is a chain of at most 48 entries inside the legacy 256 bytes, every BAR
 * address is aligned to its size, MSI-X's table size is as built; AddressSanitizer and UBSan
 * watch the rest.
 *
 * Input: 8-byte operations [op][offset lo][offset hi][value: 4 bytes][extra]:
 *   op & 7: 0 ECAM write, 1 ECAM read (slot extra & 3, register offset & 0xfff; width 1/2/4 from
 *   op bits 4-5 (3 -> 4)), 2 write port 0xcf8 (value) then access 0xcfc + (offset & 3) (write
 *   when extra is odd), 3 BAR write, 4 BAR read (offset & 0x7fff from the BAR's address now,
 *   width 1/2/4/8), 5 write 4 bytes of guest RAM at (offset * 4) & (RAM_LEN - 4), 6 the device
 *   raises an interrupt (a configuration change, or a queue's notification), 7 a snapshot round
 *   trip of the transport (save, then load into it, then its restored hook).
 * Every input starts from a freshly built bus and device.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/io_bus.h"
#include "pci/pci_bus.h"
#include "util/log.h"
#include "virtio/rng.h"
#include "virtio/virtio_pci.h"

#include "fuzz_virtio.h"

#define ECAM	  0xe0000000ULL
#define MEM32	  0xe1000000ULL
#define MEM32_LEN 0x00100000ULL
#define RAM_LEN	  0x20000ULL
#define OP_LEN	  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static uint8_t *ram;

static ssize_t fake_random(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	memset(buf, 0x5a, len);
	return (ssize_t)len;
}

struct rig {
	struct pci_bus bus;
	struct io_bus mmio, pio;
	struct virtio_rng *rng;
	struct virtio_pci *t;
};

static void build(struct rig *r)
{
	const uint64_t base[PCI_NR_WINDOWS] = {MEM32, 0, 0},
		       len[PCI_NR_WINDOWS] = {MEM32_LEN, 0, 0};
	struct virtio_rng_config rc = {.mem = &mem, .getrandom = fake_random};
	struct virtio_pci_config pc = {.bus = &r->bus, .vm_fd = -1, .name = "virtio.0"};

	memset(r, 0, sizeof(*r));
	io_bus_init(&r->mmio, "mmio", 0);
	io_bus_init(&r->pio, "pio", 0x10000);
	if (pci_bus_init(&r->bus, base, len) < 0 ||
	    io_bus_register(&r->mmio, ECAM, PCI_ECAM_BUS_SIZE, &pci_ecam_io_ops, &r->bus) < 0 ||
	    io_bus_register(&r->mmio, MEM32, MEM32_LEN, &pci_mem_io_ops,
			    &r->bus.win[PCI_WIN_MEM32]) < 0 ||
	    io_bus_register(&r->pio, PCI_CF8_PORT, 8, &pci_cf8_io_ops, &r->bus) < 0 ||
	    virtio_rng_create(&rc, &r->rng) < 0 || virtio_pci_create(&r->rng->vd, &pc, &r->t) < 0)
		abort();
}

static void teardown(struct rig *r)
{
	virtio_pci_destroy(r->t);
	virtio_rng_destroy(r->rng);
	pci_bus_destroy(&r->bus);
	io_bus_destroy(&r->mmio);
	io_bus_destroy(&r->pio);
}

static unsigned width(uint8_t op)
{
	unsigned w = 1u << ((op >> 4) & 3);

	return w > 4 ? 4 : w;
}

static void round_trip(struct rig *r)
{
	struct state_buf out = {0}, in = {0};
	uint16_t version;

	if (state_begin_section(&out, "virtio.0", VIRTIO_PCI_STATE_VERSION) == 0) {
		virtio_pci_save(r->t, &out);
		if (state_end_section(&out) == 0 && state_open(&in, out.data, out.len) == 0 &&
		    state_section(&in, "virtio.0", &version) == 0 &&
		    virtio_pci_load(r->t, &in, version, "virtio.0") == 0)
			virtio_pci_device_ops.restored(r->t);
	}
	state_buf_free(&out);
}

static void run_op(struct rig *r, const uint8_t *p)
{
	uint16_t off = (uint16_t)(p[1] | p[2] << 8);
	uint32_t val =
	    (uint32_t)p[3] | (uint32_t)p[4] << 8 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 24;
	uint64_t ecam = ECAM + ((uint64_t)(p[7] & 3) << 15) + (off & 0xfff);
	uint64_t bar = (pci_cfg_get32(&r->t->pci, PCI_BAR0) & ~0xfu) + (off & 0x7fff);
	unsigned w = 1u << ((p[0] >> 4) & 3);

	switch (p[0] & 7) {
	case 0:
		io_bus_write(&r->mmio, ecam, val, width(p[0]));
		break;
	case 1:
		(void)io_bus_read(&r->mmio, ecam, width(p[0]));
		break;
	case 2:
		io_bus_write(&r->pio, PCI_CF8_PORT, val, 4);
		if (p[7] & 1)
			io_bus_write(&r->pio, 0xcfc + (off & 3), val >> 8, width(p[0]));
		else
			(void)io_bus_read(&r->pio, 0xcfc + (off & 3), width(p[0]));
		break;
	case 3:
		io_bus_write(&r->mmio, bar, (uint64_t)val << 32 | val, w);
		break;
	case 4:
		(void)io_bus_read(&r->mmio, bar, w);
		break;
	case 5:
		memcpy(ram + ((uint64_t)off * 4 & (RAM_LEN - 4)), &val, 4);
		break;
	case 6:
		pthread_mutex_lock(&r->rng->vd.lock);
		if (p[7] & 1)
			virtio_dev_config_changed(&r->rng->vd);
		else
			virtio_dev_notify(&r->rng->vd, 0);
		pthread_mutex_unlock(&r->rng->vd.lock);
		break;
	default:
		round_trip(r);
		break;
	}
}

static void check(struct rig *r)
{
	const struct pci_cfg *c = &r->t->pci;
	unsigned n = 0;

	if (pci_cfg_get16(c, PCI_VENDOR_ID) != VIRTIO_PCI_VENDOR ||
	    pci_cfg_get16(c, PCI_DEVICE_ID) != VIRTIO_PCI_DEVICE_BASE + VIRTIO_ID_RNG ||
	    pci_cfg_get16(&r->bus.host, PCI_VENDOR_ID) != PCI_HOST_VENDOR ||
	    pci_cfg_get16(c, r->t->msix.cap + 2) % 0x800 != r->t->nr_vecs - 1)
		abort();
	for (uint8_t at = pci_cfg_get8(c, PCI_CAP_PTR); at; at = pci_cfg_get8(c, at + 1) & ~3u)
		if (at < PCI_CAP_START || ++n > 48)
			abort();
	for (unsigned i = 0; i < PCI_BAR_COUNT; i++)
		if (c->bar[i].size && pci_cfg_bar_addr(c, i) % c->bar[i].size)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct rig r;

	if (!ready) {
		log_set_level(LOG_OFF);
		guest_mem_init(&mem, -1);
		ram = fuzz_region(&mem, 0, RAM_LEN, GUEST_MEM_RAM);
		ready = true;
	}
	memset(ram, 0, RAM_LEN);
	build(&r);
	for (size_t i = 0; i + OP_LEN <= size; i += OP_LEN)
		run_op(&r, data + i);
	check(&r);
	teardown(&r);
	return 0;
}

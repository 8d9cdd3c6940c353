/* test_vfio_pci.c — the passthrough function (src/pci/vfio_pci.c) with a file standing in for
 * the VFIO device: its configuration region and BAR regions are byte ranges of a memfd, which
 * VFIO's device fd exposes the same way (pread/pwrite at each region's offset). What the guest
 * sees through the bus: the device's identity and live registers, BARs kiln sizes and moves,
 * the ROM hidden, a single-function header, writes of the device's own registers (and the
 * command register) reaching the device while BAR and MSI writes stay kiln's; trapped BAR
 * accesses reaching the device's region; and a hostile device's configuration (a looping
 * capability list, an MSI-X table outside its BAR, a malformed BAR, a bridge) handled or refused
 * with one line. No KVM here: interrupts are wired in the nested rig (nested-linux-vfio). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "pci/vfio_pci.h"

#define MEM32	  0xe0000000ULL
#define MEM32_LEN 0x10000000ULL
#define BAR0_OFF  0x100000ULL /* the BAR regions' places in the file */
#define BAR0_SIZE 0x100000ULL
#define BAR2_OFF  0x200000ULL
#define BAR2_SIZE 0x4000ULL
#define FILE_LEN  0x300000ULL
#define MSI_CAP	  0x40
#define MSIX_CAP  0x50

struct fx {
	struct pci_bus bus;
	uint8_t cfg[256]; /* the device's configuration space as the test builds it */
	struct vfio_device dev;
	struct vfio_pci *d;
	char err[256];
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

/* edu-like: 1234:11e8, class ff0000, BAR0 32-bit memory, a 64-bit MSI capability at 0x40. */
static void default_cfg(uint8_t *c)
{
	memset(c, 0, 256);
	put16(c, 0x1234);
	put16(c + 2, 0x11e8);
	c[PCI_REVISION] = 0x10;
	c[11] = 0xff;
	put16(c + PCI_STATUS, PCI_STATUS_CAPS);
	put32(c + PCI_BAR0, 0); /* memory, 32-bit */
	put32(c + PCI_ROM_ADDRESS, 0xfffe0001);
	c[PCI_HEADER_TYPE] = 0x80; /* multi-function on the host: single in the guest */
	c[PCI_CAP_PTR] = MSI_CAP;
	c[MSI_CAP] = 0x05;
	c[MSI_CAP + 1] = 0;
	put16(c + MSI_CAP + 2, 0x0080); /* 64-bit, one vector */
	c[PCI_INTERRUPT_PIN] = 1;
	c[0x80] = 0xaa; /* a device register */
}

static int setup(void **state)
{
	static struct fx x;
	const uint64_t base[PCI_NR_WINDOWS] = {MEM32, 0, 0},
		       len[PCI_NR_WINDOWS] = {MEM32_LEN, 0, 0};

	memset(&x, 0, sizeof(x));
	assert_int_equal(pci_bus_init(&x.bus, base, len), 0);
	default_cfg(x.cfg);
	*state = &x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	vfio_pci_destroy(x->d);
	x->d = NULL;
	pci_bus_destroy(&x->bus);
	return 0;
}

/* The device: a memfd holding x->cfg and the BAR regions; BAR0 mappable, BAR2 (size2, 0: none)
 * not; MSI and, with size2, MSI-X interrupts. */
static int create(struct fx *x, uint64_t size2)
{
	const uint32_t rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	struct vfio_pci_config c = {.bus = &x->bus,
				    .vm_fd = -1,
				    .memslot_base = 64,
				    .sysfs = "/sys/bus/pci/devices/0000:00:03.0",
				    .name = "t0"};
	int fd = memfd_create("vfio-test", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FILE_LEN), 0);
	assert_int_equal(pwrite(fd, x->cfg, sizeof(x->cfg), 0), (ssize_t)sizeof(x->cfg));
	memset(&x->dev, 0, sizeof(x->dev));
	x->dev.fd = fd;
	x->dev.config = (struct vfio_region){.flags = rw, .size = 256, .offset = 0};
	x->dev.bar[0] = (struct vfio_region){.flags = rw | VFIO_REGION_INFO_FLAG_MMAP,
					     .size = BAR0_SIZE,
					     .offset = BAR0_OFF,
					     .nr_areas = 1,
					     .area_len = {BAR0_SIZE}};
	if (size2)
		x->dev.bar[2] =
		    (struct vfio_region){.flags = rw, .size = size2, .offset = BAR2_OFF};
	x->dev.irq_count[VFIO_PCI_INTX_IRQ_INDEX] = 1;
	x->dev.irq_count[VFIO_PCI_MSI_IRQ_INDEX] = 1;
	x->dev.irq_count[VFIO_PCI_MSIX_IRQ_INDEX] = size2 ? 8 : 0;
	x->err[0] = 0;
	return vfio_pci_create_dev(&c, &x->dev, &x->d, x->err, sizeof(x->err));
}

static uint32_t rd(struct fx *x, uint32_t reg, unsigned size)
{
	return pci_bus_cfg_read(&x->bus, x->d->slot << 15 | reg, size);
}

static void wr(struct fx *x, uint32_t reg, unsigned size, uint32_t v)
{
	pci_bus_cfg_write(&x->bus, x->d->slot << 15 | reg, size, v);
}

/* The device's own byte at configuration offset off, as it holds it now. */
static uint8_t dev_byte(struct fx *x, uint64_t off)
{
	uint8_t b = 0;

	assert_int_equal(pread(x->dev.fd, &b, 1, (off_t)off), 1);
	return b;
}

static void test_identity_and_header(void **state)
{
	struct fx *x = *state;

	assert_int_equal(create(x, 0), 0);
	assert_int_equal(rd(x, 0, 4), 0x11e81234);
	assert_int_equal(rd(x, PCI_REVISION, 1), 0x10);
	assert_int_equal(rd(x, 8, 4) >> 8, 0xff0000);
	assert_int_equal(rd(x, PCI_HEADER_TYPE, 1), 0); /* single-function in the guest */
	assert_int_equal(rd(x, PCI_ROM_ADDRESS, 4), 0); /* no ROM */
	wr(x, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(rd(x, PCI_ROM_ADDRESS, 4), 0);
	assert_int_equal(rd(x, PCI_CAP_PTR, 1), MSI_CAP);
	assert_int_equal(rd(x, MSI_CAP, 1), 0x05);
	/* no KVM: no INTx line wired, so no pin */
	assert_int_equal(rd(x, PCI_INTERRUPT_PIN, 1), 0);
	/* a live register: what the device says now */
	assert_int_equal(rd(x, 0x80, 1), 0xaa);
	assert_int_equal(pwrite(x->dev.fd, "\x55", 1, 0x80), 1);
	assert_int_equal(rd(x, 0x80, 1), 0x55);
}

static void test_bar_sizing_and_moves(void **state)
{
	struct fx *x = *state;
	uint32_t a;

	assert_int_equal(create(x, 0), 0);
	a = rd(x, PCI_BAR0, 4);
	assert_true(a >= MEM32 && a < MEM32 + MEM32_LEN && a % BAR0_SIZE == 0);
	wr(x, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(rd(x, PCI_BAR0, 4), (uint32_t) ~(BAR0_SIZE - 1));
	wr(x, PCI_BAR0, 4, 0xe8000000);
	assert_int_equal(rd(x, PCI_BAR0, 4), 0xe8000000);
	assert_int_equal(dev_byte(x, PCI_BAR0 + 3), 0); /* the device's BAR is never written */
	/* the pieces VFIO lets kiln map: BAR0 whole */
	assert_int_equal(x->d->nr_pieces, 1);
	assert_int_equal(x->d->piece[0].len, BAR0_SIZE);
	assert_int_equal(x->d->piece[0].slot, 64);
}

static void test_writes_forwarded_or_kept(void **state)
{
	struct fx *x = *state;

	assert_int_equal(create(x, 0), 0);
	wr(x, 0x80, 1, 0x42); /* the device's register: forwarded */
	assert_int_equal(dev_byte(x, 0x80), 0x42);
	wr(x, PCI_COMMAND, 2, PCI_CMD_MEMORY | PCI_CMD_MASTER); /* kiln's and forwarded */
	assert_int_equal(dev_byte(x, PCI_COMMAND), PCI_CMD_MEMORY | PCI_CMD_MASTER);
	assert_int_equal(rd(x, PCI_COMMAND, 2), PCI_CMD_MEMORY | PCI_CMD_MASTER);
	wr(x, PCI_INTERRUPT_LINE, 1, 11); /* kiln's */
	assert_int_equal(rd(x, PCI_INTERRUPT_LINE, 1), 11);
	assert_int_equal(dev_byte(x, PCI_INTERRUPT_LINE), 0);
	/* MSI: kiln's emulation; the device's capability bytes untouched */
	wr(x, MSI_CAP + 4, 4, 0xfee00000);
	wr(x, MSI_CAP + 12, 2, 0x4041);
	wr(x, MSI_CAP + 2, 2, 0x0001); /* enable */
	assert_int_equal(rd(x, MSI_CAP + 4, 4), 0xfee00000);
	assert_int_equal(rd(x, MSI_CAP + 12, 2), 0x4041);
	assert_int_equal(rd(x, MSI_CAP + 2, 2), 0x0081);
	assert_int_equal(dev_byte(x, MSI_CAP + 4), 0);
	assert_int_equal(dev_byte(x, MSI_CAP + 2), 0x80);
	/* the 64-bit flag and the vector count are the device's: read-only */
	wr(x, MSI_CAP + 2, 2, 0x0000);
	assert_int_equal(rd(x, MSI_CAP + 2, 2), 0x0080);
	/* no KVM behind it: turning MSI on failed in VFIO (a file is no device), counted */
	assert_true(x->d->stats.irq_errors > 0);
	/* misaligned and oversized accesses reach nothing */
	wr(x, 0x81, 2, 0xffff);
	assert_int_equal(dev_byte(x, 0x81), 0);
}

static void test_trapped_bar_access(void **state)
{
	struct fx *x = *state;
	uint32_t v = 0xdeadbeef;

	assert_int_equal(create(x, 0), 0);
	vfio_pci_function_ops.bar_write(x->d, 0, 0x10, v, 4);
	assert_int_equal(pread(x->dev.fd, &v, 4, BAR0_OFF + 0x10), 4);
	assert_int_equal(v, 0xdeadbeef);
	assert_int_equal(vfio_pci_function_ops.bar_read(x->d, 0, 0x10, 2), 0xbeef);
	/* beyond the region: all-ones, counted */
	assert_int_equal(vfio_pci_function_ops.bar_read(x->d, 0, BAR0_SIZE - 2, 4), 0xffffffff);
	assert_int_equal(x->d->stats.bar_reads, 2);
}

/* MSI-X in BAR2: the table kiln's, the rest of the BAR the device's. */
static void test_msix_table_is_kiln_s(void **state)
{
	struct fx *x = *state;
	uint8_t *c = x->cfg;
	uint64_t v;

	c[MSI_CAP + 1] = MSIX_CAP;
	c[MSIX_CAP] = PCI_CAP_ID_MSIX;
	put16(c + MSIX_CAP + 2, 7);	     /* 8 vectors */
	put32(c + MSIX_CAP + 4, 0x2000 | 2); /* table at 0x2000 of BAR2 */
	put32(c + MSIX_CAP + 8, 0x3000 | 2); /* PBA at 0x3000 */
	assert_int_equal(create(x, BAR2_SIZE), 0);
	assert_true(x->d->has_msix);
	assert_int_equal(x->d->msix_nr, 8);
	assert_int_equal(rd(x, MSIX_CAP + 2, 2), 7);
	vfio_pci_function_ops.bar_write(x->d, 2, 0x2000 + 16, 0xfee00000, 4);
	v = vfio_pci_function_ops.bar_read(x->d, 2, 0x2000 + 16, 4);
	assert_int_equal(v, 0xfee00000);
	assert_int_equal(pread(x->dev.fd, &v, 4, BAR2_OFF + 0x2000 + 16), 4);
	assert_int_equal((uint32_t)v, 0); /* the device's table is never written by the guest */
	vfio_pci_function_ops.bar_write(x->d, 2, 0x100, 0x77, 1); /* the device's own register */
	assert_int_equal(dev_byte(x, BAR2_OFF + 0x100), 0x77);
	wr(x, MSIX_CAP + 2, 2, MSIX_CTRL_ENABLE);
	assert_int_equal(rd(x, MSIX_CAP + 2, 2), MSIX_CTRL_ENABLE | 7);
}

/* What a misbehaving device may present. */
static void test_hostile_devices(void **state)
{
	struct fx *x = *state;

	x->cfg[MSI_CAP + 1] = MSI_CAP; /* a capability list that loops: walked 48 times at most */
	assert_int_equal(create(x, 0), 0);
	assert_int_equal(rd(x, MSI_CAP + 1, 1), MSI_CAP);
	pci_bus_remove(&x->bus, x->d->slot);
	vfio_pci_destroy(x->d);
	x->d = NULL;

	default_cfg(x->cfg); /* an MSI-X table outside its BAR */
	x->cfg[MSI_CAP + 1] = MSIX_CAP;
	x->cfg[MSIX_CAP] = PCI_CAP_ID_MSIX;
	put16(x->cfg + MSIX_CAP + 2, 0x7ff);
	put32(x->cfg + MSIX_CAP + 4, 0x3ff8 | 2);
	put32(x->cfg + MSIX_CAP + 8, 0x0 | 2);
	assert_int_equal(create(x, BAR2_SIZE), -EINVAL);
	assert_non_null(strstr(x->err, "0000:00:03.0: its MSI or MSI-X capability"));
	assert_null(strchr(x->err, '\n'));
	assert_null(x->bus.fn[1].cfg); /* no slot taken */

	default_cfg(x->cfg); /* a bridge */
	x->cfg[PCI_HEADER_TYPE] = 0x01;
	assert_int_equal(create(x, 0), -ENOTSUP);
	assert_non_null(strstr(x->err, "is a bridge"));

	default_cfg(x->cfg); /* a BAR whose size is no power of two */
	assert_int_equal(create(x, 0x3000), -EINVAL);
	assert_non_null(strstr(x->err, "BAR 2 is malformed"));

	default_cfg(x->cfg); /* a BAR larger than the window */
	x->dev.bar[2].size = 0;
	assert_int_equal(create(x, 1ULL << 30), -ENOSPC);
	assert_non_null(strstr(x->err, "does not fit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_header, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_sizing_and_moves, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writes_forwarded_or_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trapped_bar_access, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_msix_table_is_kiln_s, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_devices, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_virtio_pci.c — the virtio-pci transport driven as Linux's virtio_pci_modern drives it,
 * through ECAM and the BAR on a PCI bus: the function's identity and its capabilities (common,
 * notify, ISR, device and PCI-configuration-access structures, MSI-X), feature negotiation and a
 * queue set up through the common configuration, a notification written to the queue's address
 * and the used buffer's interrupt on the queue's MSI-X vector (its eventfd), the configuration
 * vector, the ISR cleared by reading, vectors refused or masked, a device reset, accesses of
 * the wrong width, and a snapshot of the transport loaded into another. Guest memory and the split
 * ring come from the test driver vdrv. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdrv.h"
#include "virtio/virtio_pci.h"

#define ECAM	  0xe0000000ULL
#define MEM32	  0xe1000000ULL
#define MEM32_LEN 0x01000000ULL
#define MSI_ADDR  0xfee00000ULL

/* A device that echoes each chain back with 1 byte written; two queues, 8 config bytes. */
struct echo {
	struct virtio_dev *vd;
	uint8_t config[8];
	int activated, resets;
};

static uint64_t e_features(void *dev)
{
	(void)dev;
	return 1ULL << 3;
}

static void e_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, ((struct echo *)dev)->config + off, len);
}

static int e_activate(void *dev)
{
	((struct echo *)dev)->activated++;
	return 0;
}

static void e_reset(void *dev)
{
	((struct echo *)dev)->resets++;
}

static void e_notify(void *dev, unsigned q)
{
	struct echo *e = dev;
	struct virtq_chain c;

	while (virtq_pop(&e->vd->vq[q], &c) == 0)
		assert_int_equal(virtq_push(&e->vd->vq[q], c.head, 1), 0);
	virtio_dev_used(e->vd, q);
}

static const struct virtio_dev_ops echo_ops = {
    .name = "echo",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 2,
    .queue_max = 64,
    .config_len = 8,
    .features = e_features,
    .config_read = e_config_read,
    .activate = e_activate,
    .reset = e_reset,
    .notify = e_notify,
};

struct fx {
	struct vdrv d; /* guest memory and rings */
	struct io_bus mmio;
	struct pci_bus bus;
	struct virtio_dev vd;
	struct echo dev;
	struct virtio_pci *t;
	uint64_t bar;
	uint16_t cap[6]; /* offset of each virtio capability by cfg_type; cap[0]: MSI-X */
};

static uint32_t cfg_rd(struct fx *f, uint32_t reg, unsigned size)
{
	return (uint32_t)io_bus_read(&f->mmio, ECAM + ((uint64_t)f->t->slot << 15) + reg, size);
}

static void cfg_wr(struct fx *f, uint32_t reg, uint32_t v, unsigned size)
{
	io_bus_write(&f->mmio, ECAM + ((uint64_t)f->t->slot << 15) + reg, v, size);
}

static uint64_t bar_rd(struct fx *f, uint64_t off, unsigned size)
{
	return io_bus_read(&f->mmio, f->bar + off, size);
}

static void bar_wr(struct fx *f, uint64_t off, uint64_t v, unsigned size)
{
	io_bus_write(&f->mmio, f->bar + off, v, size);
}

/* Interrupts vector v delivered since the last look (its eventfd's count). */
static uint64_t fired(struct fx *f, unsigned v)
{
	uint64_t n = 0;

	if (read(f->t->vec_fd[v], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* Walk the capability list as the driver does: virtio capabilities by type, and MSI-X. */
static void find_caps(struct fx *f)
{
	for (uint32_t at = cfg_rd(f, PCI_CAP_PTR, 1) & ~3u, n = 0; at && n < 48; n++) {
		uint32_t id = cfg_rd(f, at, 1);

		if (id == PCI_CAP_ID_MSIX)
			f->cap[0] = (uint16_t)at;
		else if (id == PCI_CAP_ID_VENDOR && cfg_rd(f, at + 3, 1) < 6)
			f->cap[cfg_rd(f, at + 3, 1)] = (uint16_t)at;
		at = cfg_rd(f, at + 1, 1) & ~3u;
	}
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const uint64_t base[PCI_NR_WINDOWS] = {MEM32, 0, 0},
		       len[PCI_NR_WINDOWS] = {MEM32_LEN, 0, 0};
	const struct virtio_pci_config cfg = {.bus = &f->bus, .vm_fd = -1, .name = "virtio.0"};

	vdrv_init(&f->d);
	io_bus_init(&f->mmio, "mmio", 0);
	assert_int_equal(pci_bus_init(&f->bus, base, len), 0);
	assert_int_equal(
	    io_bus_register(&f->mmio, ECAM, PCI_ECAM_BUS_SIZE, &pci_ecam_io_ops, &f->bus), 0);
	assert_int_equal(io_bus_register(&f->mmio, MEM32, MEM32_LEN, &pci_mem_io_ops,
					 &f->bus.win[PCI_WIN_MEM32]),
			 0);
	memcpy(f->dev.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(virtio_dev_init(&f->vd, &echo_ops, &f->dev, &f->d.mem), 0);
	f->dev.vd = &f->vd;
	assert_int_equal(virtio_pci_create(&f->vd, &cfg, &f->t), 0);
	f->bar = cfg_rd(f, PCI_BAR0, 4) & ~0xfu;
	find_caps(f);
	cfg_wr(f, PCI_COMMAND, PCI_CMD_MEMORY | PCI_CMD_MASTER, 2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_pci_destroy(f->t);
	virtio_dev_destroy(&f->vd);
	pci_bus_destroy(&f->bus);
	io_bus_destroy(&f->mmio);
	vdrv_fini(&f->d);
	free(f);
	return 0;
}

/* Offset in the BAR of the region virtio capability `type` names (its bar must be 0). */
static uint32_t region(struct fx *f, unsigned type)
{
	assert_int_equal(cfg_rd(f, f->cap[type] + 4, 1), 0);
	return cfg_rd(f, f->cap[type] + 8, 4);
}

/* MSI-X on, vectors 0..n-1 aimed at the LAPIC with data 0x40 + v, unmasked. */
static void msix_on(struct fx *f, unsigned n)
{
	uint32_t table = cfg_rd(f, f->cap[0] + 4, 4);

	assert_int_equal(table & 7, 0); /* BIR 0 */
	cfg_wr(f, f->cap[0] + 2, MSIX_CTRL_ENABLE, 2);
	for (unsigned v = 0; v < n; v++) {
		bar_wr(f, table + 16 * v, MSI_ADDR, 4);
		bar_wr(f, table + 16 * v + 4, 0, 4);
		bar_wr(f, table + 16 * v + 8, 0x40 + v, 4);
		bar_wr(f, table + 16 * v + 12, 0, 4);
	}
}

/* Linux's order: reset, ACKNOWLEDGE | DRIVER, features, FEATURES_OK, queue 0 with vector 0
 * and the configuration vector 2, DRIVER_OK. */
static void driver_init(struct fx *f)
{
	uint32_t cc = region(f, VIRTIO_PCI_CAP_COMMON_CFG), ring = 0;

	bar_wr(f, cc + 0x14, 0, 1);
	bar_wr(f, cc + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_wr(f, cc + 0x08, 1, 4);
	bar_wr(f, cc + 0x0c, 1, 4); /* VERSION_1 */
	bar_wr(f, cc + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | 8, 1);
	assert_true(bar_rd(f, cc + 0x14, 1) & VIRTIO_STATUS_FEATURES_OK);
	bar_wr(f, cc + 0x10, 2, 2);
	assert_int_equal(bar_rd(f, cc + 0x10, 2), 2);
	bar_wr(f, cc + 0x16, 0, 2);
	assert_int_equal(bar_rd(f, cc + 0x18, 2), 64); /* queue_size starts at the maximum */
	bar_wr(f, cc + 0x18, VDRV_QSIZE, 2);
	bar_wr(f, cc + 0x1a, 0, 2);
	assert_int_equal(bar_rd(f, cc + 0x1a, 2), 0);
	bar_wr(f, cc + 0x20, VDRV_MEM_GPA + ring, 4);
	bar_wr(f, cc + 0x24, 0, 4);
	bar_wr(f, cc + 0x28, VDRV_MEM_GPA + ring + 0x1000, 4);
	bar_wr(f, cc + 0x30, VDRV_MEM_GPA + ring + 0x2000, 4);
	bar_wr(f, cc + 0x1c, 1, 2);
	assert_int_equal(bar_rd(f, cc + 0x1c, 2), 1);
	f->d.q[0].size = VDRV_QSIZE;
	bar_wr(f, cc + 0x14, 0x0f, 1);
	assert_int_equal(bar_rd(f, cc + 0x14, 1), 0x0f);
	assert_int_equal(f->dev.activated, 1);
}

static void test_identity_and_capabilities(void **state)
{
	struct fx *f = *state;

	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), (0x1040u + VIRTIO_ID_RNG) << 16 | 0x1af4);
	assert_int_equal(cfg_rd(f, PCI_REVISION, 1), 1);
	assert_int_equal(cfg_rd(f, PCI_SUBSYS_ID, 2), VIRTIO_PCI_SUBSYS);
	assert_int_equal(cfg_rd(f, PCI_REVISION, 4) >> 8, 0xff0000);
	assert_true(f->bar >= MEM32 && f->bar < MEM32 + MEM32_LEN);
	for (unsigned type = 1; type <= 5; type++)
		assert_int_not_equal(f->cap[type], 0);
	assert_int_not_equal(f->cap[0], 0);
	assert_int_equal(cfg_rd(f, f->cap[0] + 2, 2) & 0x7ff, 2); /* 3 vectors */
	assert_int_equal(cfg_rd(f, f->cap[VIRTIO_PCI_CAP_NOTIFY_CFG] + 16, 4),
			 VIRTIO_PCI_NOTIFY_MULT);
	assert_int_equal(cfg_rd(f, f->cap[VIRTIO_PCI_CAP_DEVICE_CFG] + 12, 4), 8);
	/* the device configuration through its region */
	assert_int_equal(bar_rd(f, region(f, VIRTIO_PCI_CAP_DEVICE_CFG) + 4, 4), 0x08070605);
	assert_int_equal(bar_rd(f, region(f, VIRTIO_PCI_CAP_COMMON_CFG) + 0x12, 2), 2);
}

static void test_queue_interrupt_on_its_vector(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b = {.off = vdrv_alloc(&f->d, 64), .len = 64, .device_writes = true};
	uint32_t notify = region(f, VIRTIO_PCI_CAP_NOTIFY_CFG), id, len;

	msix_on(f, 3);
	driver_init(f);
	vdrv_add(&f->d, 0, &b, 1);
	bar_wr(f, notify + 0 * VIRTIO_PCI_NOTIFY_MULT, 0, 2); /* queue_notify_off 0 */
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 1);
	assert_int_equal(fired(f, 0), 1);
	assert_int_equal(fired(f, 2), 0);
	/* the ISR still says why, and reading it clears it */
	assert_int_equal(bar_rd(f, region(f, VIRTIO_PCI_CAP_ISR_CFG), 1), VIRTIO_ISR_USED);
	assert_int_equal(bar_rd(f, region(f, VIRTIO_PCI_CAP_ISR_CFG), 1), 0);
	/* a configuration change arrives on the configuration vector */
	pthread_mutex_lock(&f->vd.lock);
	virtio_dev_config_changed(&f->vd);
	pthread_mutex_unlock(&f->vd.lock);
	assert_int_equal(fired(f, 2), 1);
	/* masked, the vector waits; unmasked, it is delivered */
	bar_wr(f, VIRTIO_PCI_MSIX_TABLE + 12, 1, 4);
	vdrv_add(&f->d, 0, &b, 1);
	bar_wr(f, notify, 0, 2);
	assert_int_equal(fired(f, 0), 0);
	bar_wr(f, VIRTIO_PCI_MSIX_TABLE + 12, 0, 4);
	assert_int_equal(fired(f, 0), 1);
	assert_int_equal(f->t->lost_irqs, 0);
}

static void test_vectors_refused_and_lost(void **state)
{
	struct fx *f = *state;
	uint32_t cc = region(f, VIRTIO_PCI_CAP_COMMON_CFG);

	bar_wr(f, cc + 0x10, 3, 2); /* only 0-2 exist */
	assert_int_equal(bar_rd(f, cc + 0x10, 2), VIRTIO_PCI_NO_VECTOR);
	bar_wr(f, cc + 0x16, 1, 2);
	bar_wr(f, cc + 0x1a, 0x7ff, 2);
	assert_int_equal(bar_rd(f, cc + 0x1a, 2), VIRTIO_PCI_NO_VECTOR);
	/* MSI-X off: an interrupt has nowhere to go, and is counted */
	pthread_mutex_lock(&f->vd.lock);
	virtio_dev_config_changed(&f->vd);
	pthread_mutex_unlock(&f->vd.lock);
	assert_int_equal(f->t->lost_irqs, 1);
	/* a queue that does not exist reads as size 0 */
	bar_wr(f, cc + 0x16, 7, 2);
	assert_int_equal(bar_rd(f, cc + 0x18, 2), 0);
}

static void test_reset_and_bad_widths(void **state)
{
	struct fx *f = *state;
	uint32_t cc = region(f, VIRTIO_PCI_CAP_COMMON_CFG);
	uint64_t bad = f->vd.stats.bad_access;

	msix_on(f, 3);
	driver_init(f);
	bar_wr(f, cc + 0x14, 0, 1);
	assert_int_equal(bar_rd(f, cc + 0x14, 1), 0);
	assert_int_equal(f->dev.resets, 2); /* the driver's first reset, and this one */
	assert_int_equal(bar_rd(f, cc + 0x10, 2), VIRTIO_PCI_NO_VECTOR);
	assert_int_equal(bar_rd(f, cc + 0x1c, 2), 0);
	/* fields at the wrong width, notifications to no queue, reads past the registers */
	assert_int_equal(bar_rd(f, cc + 0x14, 4), 0);
	bar_wr(f, cc + 0x10, 0, 4);
	bar_wr(f, cc + 0x04, 0, 4); /* device_feature is read-only */
	bar_wr(f, region(f, VIRTIO_PCI_CAP_NOTIFY_CFG) + 2 * VIRTIO_PCI_NOTIFY_MULT, 2, 2);
	assert_int_equal(bar_rd(f, region(f, VIRTIO_PCI_CAP_DEVICE_CFG) + 6, 4), 0);
	assert_int_equal(f->vd.stats.bad_access, bad + 5);
}

static void test_pci_cfg_access_capability(void **state)
{
	struct fx *f = *state;
	uint16_t c = f->cap[VIRTIO_PCI_CAP_PCI_CFG];
	uint32_t cc = region(f, VIRTIO_PCI_CAP_COMMON_CFG);

	/* read num_queues through the window */
	cfg_wr(f, c + 4, 0, 1);
	cfg_wr(f, c + 8, cc + 0x12, 4);
	cfg_wr(f, c + 12, 2, 4);
	assert_int_equal(cfg_rd(f, c + 16, 4) & 0xffff, 2);
	/* write queue_select through it */
	cfg_wr(f, c + 8, cc + 0x16, 4);
	cfg_wr(f, c + 16, 1, 4);
	assert_int_equal(bar_rd(f, cc + 0x16, 2), 1);
	/* a window on a BAR the function does not have, or of a bad length, does nothing */
	cfg_wr(f, c + 4, 3, 1);
	cfg_wr(f, c + 16, 0, 4);
	assert_int_equal(bar_rd(f, cc + 0x16, 2), 1);
	cfg_wr(f, c + 4, 0, 1);
	cfg_wr(f, c + 12, 3, 4);
	cfg_wr(f, c + 16, 0, 4);
	assert_int_equal(bar_rd(f, cc + 0x16, 2), 1);
	/* the capability's identity is not the driver's */
	cfg_wr(f, c + 3, 0, 1);
	assert_int_equal(cfg_rd(f, c + 3, 1), VIRTIO_PCI_CAP_PCI_CFG);
}

/* A snapshot of the transport taken into a second, freshly built one: the driver's setup, the
 * MSI-X table and the moved BAR come back, and the restored queue interrupts on its vector. A
 * saved configuration space that claims another identity does not change the function's. */
static void test_save_and_load(void **state)
{
	struct fx *f = *state, *g;
	struct state_buf out = {0}, in = {0};
	struct vdrv_buf b = {.off = vdrv_alloc(&f->d, 64), .len = 64, .device_writes = true};
	uint16_t version;
	uint32_t id, len;

	msix_on(f, 3);
	driver_init(f);
	cfg_wr(f, PCI_BAR0, (uint32_t)(MEM32 + 0x100000), 4); /* the guest moved it */
	f->bar = MEM32 + 0x100000;
	f->t->pci.data[PCI_VENDOR_ID] ^= 0xff; /* what a doctored snapshot would say */
	assert_int_equal(state_begin_section(&out, "virtio.0", VIRTIO_PCI_STATE_VERSION), 0);
	virtio_pci_save(f->t, &out);
	assert_int_equal(state_end_section(&out), 0);
	f->t->pci.data[PCI_VENDOR_ID] ^= 0xff;
	/* a second machine: same memory contents, a fresh transport */
	assert_int_equal(setup((void **)&g), 0);
	memcpy(g->d.ram, f->d.ram, f->d.mem_len);
	g->d.q[0] = f->d.q[0];
	g->d.heap = f->d.heap;
	assert_int_equal(state_open(&in, out.data, out.len), 0);
	assert_int_equal(state_section(&in, "virtio.0", &version), 0);
	assert_int_equal(virtio_pci_load(g->t, &in, version, "virtio.0"), 0);
	virtio_pci_device_ops.restored(g->t);
	virtio_dev_restored(&g->vd);
	g->bar = cfg_rd(g, PCI_BAR0, 4) & ~0xfu;
	assert_int_equal(g->bar, MEM32 + 0x100000);
	assert_int_equal(cfg_rd(g, PCI_VENDOR_ID, 2), 0x1af4);
	assert_true(msix_enabled(&g->t->msix));
	assert_int_equal(bar_rd(g, region(g, VIRTIO_PCI_CAP_COMMON_CFG) + 0x14, 1), 0x0f);
	assert_int_equal(bar_rd(g, VIRTIO_PCI_MSIX_TABLE + 8, 4), 0x40);
	vdrv_add(&g->d, 0, &b, 1);
	bar_wr(g, region(g, VIRTIO_PCI_CAP_NOTIFY_CFG), 0, 2);
	assert_true(vdrv_used(&g->d, 0, &id, &len));
	assert_int_equal(fired(g, 0), 1);
	/* a section of another version is refused */
	assert_int_equal(state_section(&in, "virtio.0", &version), 0);
	assert_int_equal(virtio_pci_load(g->t, &in, 2, "virtio.0"), -EINVAL);
	state_buf_free(&out);
	teardown((void **)&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_interrupt_on_its_vector, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vectors_refused_and_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_and_bad_widths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_cfg_access_capability, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_save_and_load, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

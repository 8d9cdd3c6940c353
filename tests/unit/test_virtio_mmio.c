/* test_virtio_mmio.c — the virtio-mmio transport and the device state machine, driven through
 * the MMIO bus as a guest driver would, with a fake device and rings in host memory. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/virtio_mmio.h"

#define BASE	0xd0000000ULL
#define MEM_GPA 0x100000ULL
#define MEM_LEN 0x10000ULL
#define QSIZE	16

struct fake {
	struct virtio_dev *vd;
	uint8_t config[12];
	int activated, resets, notified[2], irqs;
	uint64_t features;
};

static uint64_t f_features(void *dev)
{
	return ((struct fake *)dev)->features;
}

static void f_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	memcpy(buf, ((struct fake *)dev)->config + off, len);
}

static void f_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	memcpy(((struct fake *)dev)->config + off, buf, len);
}

static int f_activate(void *dev)
{
	((struct fake *)dev)->activated++;
	return 0;
}

static void f_reset(void *dev)
{
	((struct fake *)dev)->resets++;
}

/* Echo every chain back as used with 1 byte written. */
static void f_notify(void *dev, unsigned q)
{
	struct fake *f = dev;
	struct virtq_chain c;

	f->notified[q]++;
	while (virtq_pop(&f->vd->vq[q], &c) == 0)
		assert_int_equal(virtq_push(&f->vd->vq[q], c.head, 1), 0);
	virtio_dev_used(f->vd, q);
}

static const struct virtio_dev_ops fake_ops = {
    .name = "fake",
    .device_id = 42,
    .nr_queues = 2,
    .queue_max = 64,
    .config_len = 12,
    .features = f_features,
    .config_read = f_config_read,
    .config_write = f_config_write,
    .activate = f_activate,
    .reset = f_reset,
    .notify = f_notify,
};

struct fx {
	struct guest_mem mem;
	struct io_bus bus;
	struct virtio_dev vd;
	struct virtio_mmio *t;
	struct fake dev;
	uint8_t *ram;
};

static void on_irq(void *ctx)
{
	((struct fake *)ctx)->irqs++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_mmio_config cfg = {.base = BASE, .gsi = 5, .vm_fd = -1};

	f->ram = aligned_alloc(4096, MEM_LEN);
	memset(f->ram, 0, MEM_LEN);
	guest_mem_init(&f->mem, -1);
	assert_int_equal(guest_mem_add_host(&f->mem, MEM_GPA, MEM_LEN, f->ram, GUEST_MEM_RAM), 0);
	io_bus_init(&f->bus, "mmio", 0);
	cfg.mmio = &f->bus;
	f->dev.features = 1ULL << 5;
	memcpy(f->dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc", 12);
	assert_int_equal(virtio_dev_init(&f->vd, &fake_ops, &f->dev, &f->mem), 0);
	f->dev.vd = &f->vd;
	assert_int_equal(virtio_mmio_create(&f->vd, &cfg, &f->t), 0);
	f->vd.raise_irq = on_irq;
	f->vd.irq_ctx = &f->dev;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_mmio_destroy(f->t);
	virtio_dev_destroy(&f->vd);
	io_bus_destroy(&f->bus);
	guest_mem_destroy(&f->mem);
	free(f->ram);
	free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	return (uint32_t)io_bus_read(&f->bus, BASE + off, 4);
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	io_bus_write(&f->bus, BASE + off, v, 4);
}

/* The driver's part of §3.1.1 up to FEATURES_OK, accepting `feat`. Returns the status read back. */
static uint32_t negotiate(struct fx *f, uint64_t feat)
{
	wr(f, 0x70, 0);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, 0x24, 0);
	wr(f, 0x20, (uint32_t)feat);
	wr(f, 0x24, 1);
	wr(f, 0x20, (uint32_t)(feat >> 32));
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(f, 0x70);
}

/* Configure queue q with rings at fixed places in the fake RAM and mark it ready. */
static void setup_queue(struct fx *f, unsigned q, uint32_t size)
{
	uint64_t desc = MEM_GPA + q * 0x4000, avail = desc + 0x1000, used = desc + 0x2000;

	wr(f, 0x30, q);
	assert_int_equal(rd(f, 0x34), 64);
	wr(f, 0x38, size);
	wr(f, 0x80, (uint32_t)desc);
	wr(f, 0x84, 0);
	wr(f, 0x90, (uint32_t)avail);
	wr(f, 0x94, 0);
	wr(f, 0xa0, (uint32_t)used);
	wr(f, 0xa4, 0);
	wr(f, 0x44, 1);
}

static void test_identity_registers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, 0x00), 0x74726976);
	assert_int_equal(rd(f, 0x04), 2);
	assert_int_equal(rd(f, 0x08), 42);
	assert_int_equal(rd(f, 0x0c), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd(f, 0xb0), 0xffffffff); /* no shared memory */
	/* Registers are 32-bit only: the bus refuses other widths. */
	assert_int_equal(io_bus_read(&f->bus, BASE, 2), 0xffff);
	assert_int_equal(io_bus_read(&f->bus, BASE, 8), ~0ULL);
	assert_int_equal(f->bus.stats.bad_size, 2);
}

static void test_features(void **state)
{
	struct fx *f = *state;
	uint64_t offered;

	wr(f, 0x14, 0);
	offered = rd(f, 0x10);
	wr(f, 0x14, 1);
	offered |= (uint64_t)rd(f, 0x10) << 32;
	assert_true(offered & (1ULL << 5));
	assert_true(offered & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(offered & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	assert_true(offered & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	wr(f, 0x14, 2);
	assert_int_equal(rd(f, 0x10), 0);
	/* More than offered, or no VERSION_1: FEATURES_OK does not stick. */
	assert_false(negotiate(f, offered | (1ULL << 6)) & VIRTIO_STATUS_FEATURES_OK);
	assert_false(negotiate(f, 1ULL << 5) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(negotiate(f, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5)) &
		    VIRTIO_STATUS_FEATURES_OK);
	assert_true(virtio_dev_has_feature(&f->vd, 5));
	assert_false(virtio_dev_has_feature(&f->vd, VIRTIO_RING_F_EVENT_IDX));
	/* Features cannot change after FEATURES_OK. */
	wr(f, 0x24, 0);
	wr(f, 0x20, 0xffffffff);
	assert_int_equal(f->vd.features, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5));
}

static void test_driver_ok_needs_features_ok(void **state)
{
	struct fx *f = *state;

	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	assert_false(rd(f, 0x70) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.activated, 0);
}

static void test_queue_notify_interrupt_ack(void **state)
{
	struct fx *f = *state;
	uint16_t *avail = (uint16_t *)(f->ram + 0x1000);
	uint8_t *desc = f->ram;
	uint16_t *used_idx = (uint16_t *)(f->ram + 0x2002);
	uint64_t buf = MEM_GPA + 0x8000;
	uint32_t len = 64;
	uint16_t flags = VIRTQ_DESC_F_WRITE;

	assert_true(negotiate(f, 1ULL << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	setup_queue(f, 0, QSIZE);
	assert_int_equal(rd(f, 0x44), 1);
	wr(f, 0x70, rd(f, 0x70) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.activated, 1);
	/* One writable 64-byte buffer, made available. */
	memcpy(desc, &buf, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	avail[2] = 0;
	avail[1] = 1;
	wr(f, 0x50, 0); /* no ioeventfd in this test: the write reaches the transport */
	assert_int_equal(f->dev.notified[0], 1);
	assert_int_equal(*used_idx, 1);
	assert_int_equal(f->dev.irqs, 1);
	assert_int_equal(rd(f, 0x60), VIRTIO_ISR_USED);
	wr(f, 0x64, VIRTIO_ISR_USED);
	assert_int_equal(rd(f, 0x60), 0);
	/* Reconfiguring a ready queue is refused; notifying a queue that does not exist is
	 * harmless. */
	wr(f, 0x38, 8);
	assert_int_equal(f->vd.vq[0].size, QSIZE);
	wr(f, 0x50, 7);
	assert_int_equal(f->dev.notified[0], 1);
	assert_true(f->vd.stats.bad_access >= 1);
}

static void test_bad_queue_needs_reset(void **state)
{
	struct fx *f = *state;
	int resets;

	assert_true(negotiate(f, 1ULL << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	resets = f->dev.resets; /* negotiate() starts with a reset of its own */
	setup_queue(f, 1, 12);	/* not a power of two */
	assert_int_equal(rd(f, 0x44), 0);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	/* The driver cannot clear NEEDS_RESET itself; a reset (status 0) does. */
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, 0x70, 0);
	assert_int_equal(rd(f, 0x70), 0);
	assert_int_equal(f->dev.resets, resets + 1);
	/* Use after reset: queues are gone, a notification reaches nothing. */
	assert_int_equal(rd(f, 0x44), 0);
	wr(f, 0x50, 0);
	wr(f, 0x50, 1);
	assert_int_equal(f->dev.notified[0] + f->dev.notified[1], 0);
	/* A queue beyond nr_queues reads as absent. */
	wr(f, 0x30, 5);
	assert_int_equal(rd(f, 0x34), 0);
}

static void test_needs_reset_after_driver_ok_interrupts(void **state)
{
	struct fx *f = *state;

	assert_true(negotiate(f, 1ULL << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK);
	wr(f, 0x70, rd(f, 0x70) | VIRTIO_STATUS_DRIVER_OK);
	pthread_mutex_lock(&f->vd.lock);
	virtio_dev_set_needs_reset(&f->vd, "test");
	pthread_mutex_unlock(&f->vd.lock);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(f, 0x60), VIRTIO_ISR_CONFIG);
	assert_int_equal(rd(f, 0xfc), 1); /* config generation moved */
	assert_int_equal(f->dev.irqs, 1);
	/* A broken device ignores notifications. */
	wr(f, 0x50, 0);
	assert_int_equal(f->dev.notified[0], 0);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;

	assert_int_equal(io_bus_read(&f->bus, BASE + 0x100, 1), 0x11);
	assert_int_equal(io_bus_read(&f->bus, BASE + 0x101, 2), 0x3322);
	assert_int_equal(io_bus_read(&f->bus, BASE + 0x108, 4), 0xccbbaa99);
	assert_int_equal(io_bus_read(&f->bus, BASE + 0x10a, 4), 0); /* past config_len */
	io_bus_write(&f->bus, BASE + 0x104, 0xabcd, 2);
	assert_int_equal(f->dev.config[4], 0xcd);
	assert_int_equal(f->dev.config[5], 0xab);
	assert_int_equal(io_bus_read(&f->bus, BASE + 0x1fc, 4), 0);
}

static void test_cmdline(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(virtio_mmio_cmdline(f->t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "virtio_mmio.device=512@0xd0000000:5");
	assert_int_equal(virtio_mmio_cmdline(f->t, buf, 10), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_registers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_driver_ok_needs_features_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_notify_interrupt_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_queue_needs_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_needs_reset_after_driver_ok_interrupts, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cmdline, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

#include "vdrv.h"

#define QSIZE 16

struct fake {
	struct virtio_dev *vd;
	uint8_t config[12];
	int activated, resets, notified[2];
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
	struct vdrv d;
	struct virtio_dev vd;
	struct fake dev;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	vdrv_init(&f->d);
	f->dev.features = 1ULL << 5;
	memcpy(f->dev.config, "\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc", 12);
	assert_int_equal(virtio_dev_init(&f->vd, &fake_ops, &f->dev, &f->d.mem), 0);
	f->dev.vd = &f->vd;
	vdrv_attach(&f->d, &f->vd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vdrv_detach(&f->d);
	virtio_dev_destroy(&f->vd);
	vdrv_fini(&f->d);
	free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t reg)
{
	return vdrv_rd(&f->d, reg);
}

static void wr(struct fx *f, uint64_t reg, uint32_t v)
{
	vdrv_wr(&f->d, reg, v);
}

/* Configure queue q (QueueNumMax must be 64) with vdrv's rings and mark it ready. */
static void setup_queue(struct fx *f, unsigned q, uint32_t size)
{
	assert_int_equal(vdrv_queue_max(&f->d, q), 64);
	(void)vdrv_queue_setup(&f->d, q, size);
}

static void test_identity_registers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rd(f, VDRV_REG_MAGIC), 0x74726976);
	assert_int_equal(rd(f, VDRV_REG_VERSION), 2);
	assert_int_equal(rd(f, VDRV_REG_DEVICE_ID), 42);
	assert_int_equal(rd(f, VDRV_REG_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd(f, VDRV_REG_SHM_LEN_LOW), 0xffffffff); /* no shared memory */
	/* Registers are 32-bit only: the bus refuses other widths. */
	assert_int_equal(io_bus_read(&f->d.bus, VDRV_BASE + VDRV_REG_MAGIC, 2), 0xffff);
	assert_int_equal(io_bus_read(&f->d.bus, VDRV_BASE + VDRV_REG_MAGIC, 8), ~0ULL);
	assert_int_equal(f->d.bus.stats.bad_size, 2);
}

static void test_features(void **state)
{
	struct fx *f = *state;
	uint64_t offered;

	offered = vdrv_device_features(&f->d);
	assert_true(offered & (1ULL << 5));
	assert_true(offered & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(offered & (1ULL << VIRTIO_RING_F_EVENT_IDX));
	assert_true(offered & (1ULL << VIRTIO_RING_F_INDIRECT_DESC));
	wr(f, VDRV_REG_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VDRV_REG_DEVICE_FEATURES), 0);
	/* More than offered, or no VERSION_1: FEATURES_OK does not stick. */
	assert_false(vdrv_set_features(&f->d, offered | (1ULL << 6)) & VIRTIO_STATUS_FEATURES_OK);
	assert_false(vdrv_set_features(&f->d, 1ULL << 5) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(vdrv_set_features(&f->d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5)) &
		    VIRTIO_STATUS_FEATURES_OK);
	assert_true(virtio_dev_has_feature(&f->vd, 5));
	assert_false(virtio_dev_has_feature(&f->vd, VIRTIO_RING_F_EVENT_IDX));
	/* Features cannot change after FEATURES_OK. */
	wr(f, VDRV_REG_DRIVER_FEATURES_SEL, 0);
	wr(f, VDRV_REG_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(f->vd.features, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 5));
}

static void test_driver_ok_needs_features_ok(void **state)
{
	struct fx *f = *state;

	wr(f, VDRV_REG_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	assert_false(rd(f, VDRV_REG_STATUS) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->dev.activated, 0);
}

static void test_queue_notify_interrupt_ack(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf buf = {vdrv_alloc(&f->d, 64), 64, true};
	uint32_t id, len;

	assert_true(vdrv_set_features(&f->d, 1ULL << VIRTIO_F_VERSION_1) &
		    VIRTIO_STATUS_FEATURES_OK);
	setup_queue(f, 0, QSIZE);
	assert_int_equal(rd(f, VDRV_REG_QUEUE_READY), 1);
	vdrv_driver_ok(&f->d);
	assert_int_equal(f->dev.activated, 1);
	/* One writable 64-byte buffer, made available. */
	assert_int_equal(vdrv_add(&f->d, 0, &buf, 1), 0);
	vdrv_kick(&f->d, 0); /* no ioeventfd in this test: the write reaches the transport */
	assert_int_equal(f->dev.notified[0], 1);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 1);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 1);
	assert_int_equal(f->d.irqs, 1);
	assert_int_equal(rd(f, VDRV_REG_INTERRUPT_STATUS), VIRTIO_ISR_USED);
	wr(f, VDRV_REG_INTERRUPT_ACK, VIRTIO_ISR_USED);
	assert_int_equal(rd(f, VDRV_REG_INTERRUPT_STATUS), 0);
	/* Reconfiguring a ready queue is refused; notifying a queue that does not exist is
	 * harmless. */
	wr(f, VDRV_REG_QUEUE_NUM, 8);
	assert_int_equal(f->vd.vq[0].size, QSIZE);
	vdrv_kick(&f->d, 7);
	assert_int_equal(f->dev.notified[0], 1);
	assert_true(f->vd.stats.bad_access >= 1);
}

static void test_bad_queue_needs_reset(void **state)
{
	struct fx *f = *state;
	int resets;

	assert_true(vdrv_set_features(&f->d, 1ULL << VIRTIO_F_VERSION_1) &
		    VIRTIO_STATUS_FEATURES_OK);
	resets = f->dev.resets; /* vdrv_set_features() starts with a reset of its own */
	setup_queue(f, 1, 12);	/* not a power of two */
	assert_int_equal(rd(f, VDRV_REG_QUEUE_READY), 0);
	assert_true(rd(f, VDRV_REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* The driver cannot clear NEEDS_RESET itself; a reset (status 0) does. */
	wr(f, VDRV_REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_true(rd(f, VDRV_REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(f, VDRV_REG_STATUS, 0);
	assert_int_equal(rd(f, VDRV_REG_STATUS), 0);
	assert_int_equal(f->dev.resets, resets + 1);
	/* Use after reset: queues are gone, a notification reaches nothing. */
	assert_int_equal(rd(f, VDRV_REG_QUEUE_READY), 0);
	vdrv_kick(&f->d, 0);
	vdrv_kick(&f->d, 1);
	assert_int_equal(f->dev.notified[0] + f->dev.notified[1], 0);
	/* A queue beyond nr_queues reads as absent. */
	wr(f, VDRV_REG_QUEUE_SEL, 5);
	assert_int_equal(rd(f, VDRV_REG_QUEUE_NUM_MAX), 0);
}

static void test_needs_reset_after_driver_ok_interrupts(void **state)
{
	struct fx *f = *state;

	assert_true(vdrv_set_features(&f->d, 1ULL << VIRTIO_F_VERSION_1) &
		    VIRTIO_STATUS_FEATURES_OK);
	vdrv_driver_ok(&f->d);
	pthread_mutex_lock(&f->vd.lock);
	virtio_dev_set_needs_reset(&f->vd, "test");
	pthread_mutex_unlock(&f->vd.lock);
	assert_true(rd(f, VDRV_REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(f, VDRV_REG_INTERRUPT_STATUS), VIRTIO_ISR_CONFIG);
	assert_int_equal(rd(f, VDRV_REG_CONFIG_GENERATION), 1); /* config generation moved */
	assert_int_equal(f->d.irqs, 1);
	/* A broken device ignores notifications. */
	vdrv_kick(&f->d, 0);
	assert_int_equal(f->dev.notified[0], 0);
}

static void test_config_space(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vdrv_cfg_rd(&f->d, 0x0, 1), 0x11);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0x1, 2), 0x3322);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0x8, 4), 0xccbbaa99);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0xa, 4), 0); /* past config_len */
	vdrv_cfg_wr(&f->d, 0x4, 0xabcd, 2);
	assert_int_equal(f->dev.config[4], 0xcd);
	assert_int_equal(f->dev.config[5], 0xab);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0xfc, 4), 0);
}

static void test_cmdline(void **state)
{
	struct fx *f = *state;
	char buf[64];

	assert_int_equal(virtio_mmio_cmdline(f->d.t, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "virtio_mmio.device=512@0xd0000000:5");
	assert_int_equal(virtio_mmio_cmdline(f->d.t, buf, 10), -ENOSPC);
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

/* test_virtio_rng.c — virtio-rng driven through virtio-mmio as a guest driver would. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <cmocka.h>

#include "vdrv.h"
#include "virtio/rng.h"

#define D VDRV_DATA_OFF

struct fx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_rng *rng;
};

/* The entropy source for tests: real bytes, but it can run dry or short on demand. */
static int src_dry;    /* calls left that fail with EAGAIN */
static size_t src_cap; /* 0: no limit; else at most this many bytes per call */
static unsigned src_calls;

static ssize_t test_source(void *buf, size_t len, unsigned int flags)
{
	src_calls++;
	assert_true(flags & GRND_NONBLOCK);
	if (src_dry > 0) {
		src_dry--;
		errno = EAGAIN;
		return -1;
	}
	if (src_cap && len > src_cap)
		len = src_cap;
	return getrandom(buf, len, flags);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_rng_config cfg = {.loop = &f->loop, .getrandom = test_source};

	src_dry = 0;
	src_cap = 0;
	src_calls = 0;
	vdrv_init(&f->d);
	assert_int_equal(event_loop_init(&f->loop), 0);
	cfg.mem = &f->d.mem;
	assert_int_equal(virtio_rng_create(&cfg, &f->rng), 0);
	vdrv_attach(&f->d, &f->rng->vd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vdrv_detach(&f->d);
	virtio_rng_destroy(f->rng);
	vdrv_fini(&f->d);
	event_loop_destroy(&f->loop);
	free(f);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(vdrv_queue_max(&f->d, 0), VIRTIO_RNG_QUEUE_MAX);
	assert_int_equal(vdrv_queue_max(&f->d, 1), 0); /* one queue only */
}

static void test_fills_buffers(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf one = {D, 64, true};
	struct vdrv_buf two[2] = {{D + 0x100, 100, true}, {D + 0x200, 28, true}};
	uint32_t id, len;
	uint16_t h1, h2;

	vdrv_start(&f->d, 1, 0);
	h1 = vdrv_add(&f->d, 0, &one, 1);
	h2 = vdrv_add(&f->d, 0, two, 2);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, h1);
	assert_int_equal(len, 64);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, h2);
	assert_int_equal(len, 128);
	assert_false(vdrv_used(&f->d, 0, &id, &len));
	assert_false(all_zero(vdrv_ptr(&f->d, D), 64));
	assert_false(all_zero(vdrv_ptr(&f->d, D + 0x100), 100));
	assert_false(all_zero(vdrv_ptr(&f->d, D + 0x200), 28));
	assert_true(all_zero(vdrv_ptr(&f->d, D + 0x200 + 28), 64)); /* nothing past the buffer */
	assert_true(f->d.irqs >= 1);
	assert_int_equal(virtio_rng_stats(f->rng).requests, 2);
	assert_int_equal(virtio_rng_stats(f->rng).bytes, 192);
}

static void test_large_request_capped(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf big = {D, 2 * VIRTIO_RNG_CHAIN_MAX, true};
	uint32_t id, len;

	vdrv_start(&f->d, 1, 0);
	vdrv_add(&f->d, 0, &big, 1);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, VIRTIO_RNG_CHAIN_MAX);
	assert_true(all_zero(vdrv_ptr(&f->d, D + VIRTIO_RNG_CHAIN_MAX), 4096));
}

static void test_readable_chain_refused(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf mixed[2] = {{D, 16, false}, {D + 0x100, 16, true}};
	struct vdrv_buf good = {D + 0x200, 8, true};
	uint32_t id, len;

	vdrv_start(&f->d, 1, 0);
	vdrv_add(&f->d, 0, mixed, 2);
	vdrv_add(&f->d, 0, &good, 1);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 0);
	assert_true(all_zero(vdrv_ptr(&f->d, D + 0x100), 16));
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 8);
	assert_int_equal(virtio_rng_stats(f->rng).malformed, 1);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_bad_descriptor_needs_reset(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf outside = {VDRV_MEM_LEN - 8, 64, true}; /* runs past guest memory */
	uint32_t id, len;

	vdrv_start(&f->d, 1, 0);
	vdrv_add(&f->d, 0, &outside, 1);
	vdrv_kick(&f->d, 0);
	assert_false(vdrv_used(&f->d, 0, &id, &len));
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Start the device and post one 32-byte request while the source has no entropy. */
static void request_while_dry(struct fx *f)
{
	struct vdrv_buf b = {D, 32, true};

	vdrv_start(&f->d, 1, 0);
	src_dry = 1;
	vdrv_add(&f->d, 0, &b, 1);
	vdrv_kick(&f->d, 0);
}

static void test_dry_source_retries_on_timer(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	request_while_dry(f);
	assert_false(vdrv_used(&f->d, 0, &id, &len)); /* no entropy: nothing returned yet */
	assert_int_equal(virtio_rng_stats(f->rng).starved, 1);
	vdrv_pump(&f->loop, 1000); /* the retry timer fires */
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 32);
	assert_false(all_zero(vdrv_ptr(&f->d, D), 32));
}

static void test_dry_source_retries_on_notify(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b1 = {D, 32, true}, b2 = {D + 0x100, 16, true};
	uint32_t id, len;
	uint16_t h1, h2;

	vdrv_start(&f->d, 1, 0);
	src_dry = 1;
	h1 = vdrv_add(&f->d, 0, &b1, 1);
	vdrv_kick(&f->d, 0);
	assert_false(vdrv_used(&f->d, 0, &id, &len));
	h2 = vdrv_add(&f->d, 0, &b2, 1);
	vdrv_kick(&f->d, 0); /* served in order: the held request first */
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, h1);
	assert_int_equal(len, 32);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, h2);
	assert_int_equal(len, 16);
}

static void test_short_source_returns_what_it_has(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf two[2] = {{D, 40, true}, {D + 0x100, 40, true}};
	uint32_t id, len;

	vdrv_start(&f->d, 1, 0);
	src_cap = 10;
	vdrv_add(&f->d, 0, two, 2);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 10); /* the first segment, partly: the source ran short */
	assert_false(all_zero(vdrv_ptr(&f->d, D), 10));
	assert_true(all_zero(vdrv_ptr(&f->d, D + 10), 30));
	assert_true(all_zero(vdrv_ptr(&f->d, D + 0x100), 40));
	assert_int_equal(virtio_rng_stats(f->rng).bytes, 10);
}

static void test_reset_with_request_held(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b = {D, 32, true};
	uint32_t id, len;

	request_while_dry(f);
	vdrv_set_status(&f->d, 0); /* reset: the held request is forgotten */
	assert_false(f->rng->held);
	vdrv_pump(&f->loop, 30); /* the timer finds nothing to do */
	vdrv_start(&f->d, 1, 0);
	vdrv_add(&f->d, 0, &b, 1);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 32);
	assert_false(vdrv_used(&f->d, 0, &id, &len));
}

/* QueueReady = 0 while a request waits for entropy: the request is forgotten, and the retry
 * timer completes nothing into the ring the driver then sets up. */
static void test_queue_reset_with_request_held(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b = {D, 32, true};
	uint32_t id, len;

	request_while_dry(f);
	assert_true(f->rng->held);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_SEL, 0);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_READY, 0);
	assert_false(f->rng->held);
	assert_int_equal(vdrv_queue_setup(&f->d, 0, VDRV_QSIZE), 1);
	vdrv_pump(&f->loop, 30); /* the timer fires: nothing is held */
	assert_false(vdrv_used(&f->d, 0, &id, &len));
	vdrv_add(&f->d, 0, &b, 1);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, 32);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_buffers_before_driver_ok(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b = {D, 32, true};
	uint32_t id, len;

	assert_true(vdrv_negotiate(&f->d, 1, 0) & VIRTIO_STATUS_FEATURES_OK);
	vdrv_add(&f->d, 0, &b, 1);
	vdrv_kick(&f->d, 0); /* ignored: not live yet */
	assert_false(vdrv_used(&f->d, 0, &id, &len));
	vdrv_driver_ok(&f->d);
	assert_true(vdrv_used(&f->d, 0, &id, &len));
	assert_int_equal(len, 32);
}

static void test_real_getrandom(void **state)
{
	struct virtio_rng_config cfg = {0};
	struct virtio_rng *r;
	struct vdrv d2;
	struct vdrv_buf b = {D, 256, true};
	uint32_t id, len;

	(void)state;
	vdrv_init(&d2);
	cfg.mem = &d2.mem;
	assert_int_equal(virtio_rng_create(&cfg, &r), 0); /* no loop: no timer */
	vdrv_attach(&d2, &r->vd);
	vdrv_start(&d2, 1, 0);
	vdrv_add(&d2, 0, &b, 1);
	vdrv_kick(&d2, 0);
	assert_true(vdrv_used(&d2, 0, &id, &len));
	assert_int_equal(len, 256);
	assert_false(all_zero(vdrv_ptr(&d2, D), 256));
	virtio_mmio_destroy(d2.t);
	d2.t = NULL;
	virtio_rng_destroy(r);
	vdrv_fini(&d2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fills_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_large_request_capped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_readable_chain_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_descriptor_needs_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dry_source_retries_on_timer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dry_source_retries_on_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_short_source_returns_what_it_has, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_with_request_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_reset_with_request_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_buffers_before_driver_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_real_getrandom, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

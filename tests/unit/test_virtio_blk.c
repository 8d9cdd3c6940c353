/* test_virtio_blk.c — virtio-blk driven through virtio-mmio as a guest driver would, with rings
 * and buffers in a host buffer standing for guest RAM, over a temporary image, on both backends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/blk.h"
#include "vdrv.h"

#define MEM_LEN 0x200000ULL
#define QS	256
#define IMG_LEN (1024 * 1024)
#define SECTORS (IMG_LEN / 512)

struct fx {
	char path[64];
	int fd;
	bool sync, ro;
	bool reap_inline; /* device_create: reap completions right after submitting (kiln's way) */
	struct vdrv d;	  /* buffers are vdrv_alloc'ed, never freed within a test */
	struct event_loop loop;
	int timer_fd;
	struct blk *blk;
	struct rate_limit_config rate; /* the device's rate limiter (device_create) */
};

/* --- the driver: vdrv with queue 0 of QS entries --- */

static void *host(struct fx *f, uint64_t off)
{
	return vdrv_ptr(&f->d, off);
}

/* §3.1.1 accepting the offered features except those in `refuse`, queue 0 of QS entries,
 * DRIVER_OK. */
static void driver_init_refusing(struct fx *f, uint64_t refuse)
{
	uint64_t feat = vdrv_device_features(&f->d) & ~refuse;

	assert_true(vdrv_set_features(&f->d, feat) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(vdrv_queue_max(&f->d, 0), QS);
	assert_int_equal(vdrv_queue_setup(&f->d, 0, QS), 1);
	vdrv_set_status(&f->d, vdrv_status(&f->d) | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(vdrv_status(&f->d) & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET),
			 VIRTIO_STATUS_DRIVER_OK);
}

/* §3.1.1 with every offered feature accepted. */
static void driver_init(struct fx *f)
{
	driver_init_refusing(f, 0);
}

/* --- fixture --- */

/* A periodic tick that returns from event_loop_run, so the test can look at the rings. */
static void on_tick(void *ctx, int fd, uint32_t events)
{
	struct fx *f = ctx;
	uint64_t n;

	(void)events;
	assert_int_equal(read(fd, &n, sizeof(n)), sizeof(n));
	event_loop_stop(&f->loop);
}

static void make_image(struct fx *f)
{
	uint8_t sec[512];

	strcpy(f->path, "/tmp/kiln-blk-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	for (unsigned i = 0; i < SECTORS; i++) {
		memset(sec, (int)(i & 0xff) | 0x80, sizeof(sec)); /* never zero */
		assert_int_equal(pwrite(f->fd, sec, sizeof(sec), (off_t)i * 512), 512);
	}
}

static void device_create(struct fx *f)
{
	struct blk_config bc = {
	    .path = f->path,
	    .read_only = f->ro,
	    .serial = "kiln-test-id",
	    .force_sync = f->sync,
	    .loop = &f->loop,
	    /* else cached reads complete inside notify: in flight until pump() */
	    .defer_completions = !f->reap_inline,
	    .mem = &f->d.mem,
	    .rate = f->rate};

	assert_int_equal(blk_create(&bc, &f->blk), 0);
	vdrv_attach(&f->d, blk_virtio_dev(f->blk));
	driver_init(f);
}

static void device_destroy(struct fx *f)
{
	vdrv_detach(&f->d);
	blk_destroy(f->blk);
}

static int setup_common(void **state, bool sync)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct itimerspec its = {.it_interval = {0, 2000000}, .it_value = {0, 2000000}};

	f->sync = sync;
	vdrv_init_mem(&f->d, MEM_LEN);
	assert_int_equal(event_loop_init(&f->loop), 0);
	f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	assert_int_equal(timerfd_settime(f->timer_fd, 0, &its, NULL), 0);
	assert_int_equal(event_loop_add(&f->loop, f->timer_fd, EPOLLIN, on_tick, f), 0);
	make_image(f);
	device_create(f);
	*state = f;
	return 0;
}

static int setup_sync(void **state)
{
	return setup_common(state, true);
}

static int setup_uring(void **state)
{
	return setup_common(state, false);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	device_destroy(f);
	event_loop_del(&f->loop, f->timer_fd);
	close(f->timer_fd);
	event_loop_destroy(&f->loop);
	vdrv_fini(&f->d);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

/* --- requests --- */

/* Run the event loop until the used ring reaches idx (5 s at most). */
static void pump_until_used(struct fx *f, uint16_t idx)
{
	for (int i = 0; i < 2500 && (int16_t)(vdrv_used_idx(&f->d, 0) - idx) < 0; i++)
		assert_int_equal(event_loop_run(&f->loop), 0);
	assert_int_equal(vdrv_used_idx(&f->d, 0), idx);
}

static void pump(struct fx *f, int ticks)
{
	for (int i = 0; i < ticks; i++)
		assert_int_equal(event_loop_run(&f->loop), 0);
}

static uint64_t header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint64_t off = vdrv_alloc(&f->d, BLK_HDR_LEN);

	memcpy(host(f, off), &type, 4);
	memcpy(host(f, off + 8), &sector, 8);
	return off;
}

static uint64_t status_buf(struct fx *f)
{
	uint64_t off = vdrv_alloc(&f->d, 1);

	*(uint8_t *)host(f, off) = 0xee;
	return off;
}

struct done {
	uint8_t status;
	uint32_t len; /* used length */
};

/* Post chain s (n segments) whose status byte is at status_off (0: none), notify, wait. */
static struct done submit(struct fx *f, const struct vdrv_buf *s, unsigned n, uint64_t status_off)
{
	uint16_t head = vdrv_add(&f->d, 0, s, n), idx = (uint16_t)(vdrv_used_idx(&f->d, 0) + 1);
	struct done d;
	uint32_t id;

	vdrv_kick(&f->d, 0);
	pump_until_used(f, idx);
	vdrv_used_elem(&f->d, 0, (uint16_t)(idx - 1), &id, &d.len);
	assert_int_equal(id, head);
	d.status = status_off ? *(uint8_t *)host(f, status_off) : 0xee;
	return d;
}

/* The usual three-part request: header, one data buffer (if len), status. */
static struct done simple(struct fx *f, uint32_t type, uint64_t sector, uint64_t data_off,
			  uint32_t len, bool data_write)
{
	uint64_t st = status_buf(f);
	struct vdrv_buf s[3] = {{header(f, type, sector), BLK_HDR_LEN, false}};
	unsigned n = 1;

	if (len)
		s[n++] = (struct vdrv_buf){data_off, len, data_write};
	s[n++] = (struct vdrv_buf){st, 1, true};
	return submit(f, s, n, st);
}

static void file_read(struct fx *f, uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(f->fd, buf, len, (off_t)off), (ssize_t)len);
}

/* A read that must work: the device is still in service. */
static void check_alive(struct fx *f)
{
	uint64_t buf = vdrv_alloc(&f->d, 512);
	struct done d = simple(f, VIRTIO_BLK_T_IN, 7, buf, 512, true);

	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(d.len, 513);
	assert_int_equal(*(uint8_t *)host(f, buf), 0x87);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- tests --- */

static void test_identity_and_config(void **state)
{
	struct fx *f = *state;
	uint64_t feat = vdrv_device_features(&f->d), cap;

	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_BLOCK);
	assert_true(feat & (1ULL << VIRTIO_BLK_F_SEG_MAX));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_BLK_SIZE));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_FLUSH));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_DISCARD));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_SIZE_MAX));
	cap = vdrv_cfg_rd(&f->d, 0, 4) | (uint64_t)vdrv_cfg_rd(&f->d, 4, 4) << 32;
	assert_int_equal(cap, SECTORS);
	assert_int_equal(vdrv_cfg_rd(&f->d, 12, 4), BLK_SEG_MAX);
	assert_int_equal(vdrv_cfg_rd(&f->d, 20, 4), 512);
	assert_int_equal(vdrv_cfg_rd(&f->d, 36, 4), BLK_MAX_DWZ_SECTORS);
	assert_int_equal(vdrv_cfg_rd(&f->d, 40, 4), 1);
	assert_int_equal(vdrv_cfg_rd(&f->d, 44, 4), BLK_DISCARD_ALIGNMENT);
	assert_int_equal(vdrv_cfg_rd(&f->d, 48, 4), BLK_MAX_DWZ_SECTORS);
	assert_int_equal(vdrv_cfg_rd(&f->d, 52, 4), 1);
	assert_int_equal(vdrv_cfg_rd(&f->d, 56, 1), 1);
	/* Config space is read-only; past its end reads as zero. */
	vdrv_cfg_wr(&f->d, 0, 0, 4);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), SECTORS);
	assert_int_equal(vdrv_cfg_rd(&f->d, 60, 4), 0);
}

static void test_read(void **state)
{
	struct fx *f = *state;
	uint64_t a = vdrv_alloc(&f->d, 1024), b = vdrv_alloc(&f->d, 512);
	uint64_t st = status_buf(f);
	struct vdrv_buf s[4] = {{header(f, VIRTIO_BLK_T_IN, 3), 16, false},
				{a, 1024, true},
				{b, 512, true},
				{st, 1, true}};
	uint8_t want[1536];
	struct done d = submit(f, s, 4, st);
	struct blk_stats bs;

	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(d.len, 1537);
	file_read(f, 3 * 512, want, sizeof(want));
	assert_memory_equal(host(f, a), want, 1024);
	assert_memory_equal(host(f, b), want + 1024, 512);
	/* The last sector, exactly at the end. */
	d = simple(f, VIRTIO_BLK_T_IN, SECTORS - 1, a, 512, true);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_true(f->d.irqs >= 1);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.reads, 2);
	assert_int_equal(bs.bytes_read, 2048);
}

static void test_write_flush(void **state)
{
	struct fx *f = *state;
	uint64_t a = vdrv_alloc(&f->d, 4096), hd = vdrv_alloc(&f->d, 16 + 512), st = status_buf(f);
	struct vdrv_buf s[3] = {{hd, 16 + 512, false}, {a + 512, 4096 - 512, false}, {st, 1, true}};
	uint32_t type = VIRTIO_BLK_T_OUT;
	uint64_t sector = 10;
	uint8_t back[4096];
	struct blk_stats bs;
	struct done d;

	for (int i = 0; i < 4096; i++)
		((uint8_t *)host(f, a))[i] = (uint8_t)(i * 13 + 5);
	/* Header and the first 512 data bytes share one descriptor (§2.6.4: free framing). */
	memcpy(host(f, hd), &type, 4);
	memcpy(host(f, hd + 8), &sector, 8);
	memcpy(host(f, hd + 16), host(f, a), 512);
	d = submit(f, s, 3, st);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(d.len, 1);
	file_read(f, 10 * 512, back, sizeof(back));
	assert_memory_equal(back, host(f, a), sizeof(back));
	d = simple(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.writes, 1);
	assert_int_equal(bs.flushes, 1);
	assert_int_equal(bs.bytes_written, 4096);
}

static struct done dwz(struct fx *f, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags);

/* A driver that does not negotiate FLUSH gets a write-through cache (§5.2.6.2): each write
 * completes only after the file was synced; with FLUSH, writes are not synced one by one. */
static void test_write_through_without_flush(void **state)
{
	struct fx *f = *state;
	uint64_t a = vdrv_alloc(&f->d, 512);
	uint8_t back[512];
	struct blk_stats bs;
	struct done d;

	driver_init_refusing(f, 1ULL << VIRTIO_BLK_F_FLUSH);
	memset(host(f, a), 0x5c, 512);
	d = simple(f, VIRTIO_BLK_T_OUT, 3, a, 512, false);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	d = dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 4, 1, 0);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	file_read(f, 3 * 512, back, sizeof(back));
	assert_memory_equal(back, host(f, a), sizeof(back));
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.write_through_syncs, 2);
	assert_int_equal(bs.writes, 1);
	assert_int_equal(bs.bytes_written, 512);
	assert_int_equal(bs.io_errors, 0);
	/* Reads never sync; with FLUSH negotiated, writes do not either. */
	d = simple(f, VIRTIO_BLK_T_IN, 3, a, 512, true);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	driver_init(f);
	d = simple(f, VIRTIO_BLK_T_OUT, 3, a, 512, false);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.write_through_syncs, 2);
}

/* DISCARD / WRITE_ZEROES request with one range. */
static struct done dwz(struct fx *f, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t r = vdrv_alloc(&f->d, 16);

	memcpy(host(f, r), &sector, 8);
	memcpy(host(f, r + 8), &n, 4);
	memcpy(host(f, r + 12), &flags, 4);
	return simple(f, type, 0, r, 16, false);
}

static void check_zero(struct fx *f, uint64_t sector, uint32_t n)
{
	uint8_t *buf = malloc((n + 2) * 512);

	file_read(f, (sector - 1) * 512, buf, (n + 2) * 512);
	assert_int_not_equal(buf[511], 0);
	for (size_t i = 512; i < (n + 1) * 512; i++)
		assert_int_equal(buf[i], 0);
	assert_int_not_equal(buf[(n + 1) * 512], 0);
	free(buf);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	struct stat before, after;
	struct done d;

	assert_int_equal(fsync(f->fd), 0);
	assert_int_equal(fstat(f->fd, &before), 0);
	d = dwz(f, VIRTIO_BLK_T_DISCARD, 256, 512, 0);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(fstat(f->fd, &after), 0);
	assert_int_equal(after.st_size, IMG_LEN);
	assert_true(after.st_blocks <= before.st_blocks - 512); /* ext4 /tmp releases them */
	check_zero(f, 256, 512);
	/* Unmap on a discard is UNSUPP (§5.2.6.2); past the end, IOERR. */
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 8, 8, VIRTIO_BLK_F_DWZ_UNMAP).status,
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, SECTORS - 4, 8, 0).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 8, BLK_MAX_DWZ_SECTORS + 1, 0).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 8, 8, 0x80).status, VIRTIO_BLK_S_UNSUPP);
	check_alive(f);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 20, 3, 0).status, VIRTIO_BLK_S_OK);
	check_zero(f, 20, 3);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 100, 300, VIRTIO_BLK_F_DWZ_UNMAP).status,
			 VIRTIO_BLK_S_OK);
	check_zero(f, 100, 300);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 100, 0, 0).status, VIRTIO_BLK_S_OK);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, 1, 0x2).status, VIRTIO_BLK_S_UNSUPP);
	check_alive(f);
}

static void test_get_id(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 32);
	char want[20] = "kiln-test-id";
	struct done d;

	memset(host(f, buf), 0x55, 32);
	d = simple(f, VIRTIO_BLK_T_GET_ID, 0, buf, 20, true);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(d.len, 21);
	assert_memory_equal(host(f, buf), want, 20);
	/* A longer buffer still gets 20 bytes; a shorter one what fits. */
	memset(host(f, buf), 0x55, 32);
	d = simple(f, VIRTIO_BLK_T_GET_ID, 0, buf, 32, true);
	assert_int_equal(d.len, 21);
	assert_int_equal(((uint8_t *)host(f, buf))[20], 0x55);
	d = simple(f, VIRTIO_BLK_T_GET_ID, 0, buf, 4, true);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	assert_int_equal(d.len, 5);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint64_t a = vdrv_alloc(&f->d, 512);
	uint8_t before[512], after[512];
	struct done d;

	device_destroy(f);
	f->ro = true;
	device_create(f);
	assert_true(vdrv_device_features(&f->d) & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(vdrv_device_features(&f->d) & (1ULL << VIRTIO_BLK_F_DISCARD));
	assert_false(vdrv_device_features(&f->d) & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	file_read(f, 5 * 512, before, 512);
	memset(host(f, a), 0, 512);
	d = simple(f, VIRTIO_BLK_T_OUT, 5, a, 512, false);
	assert_int_equal(d.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(d.len, 1);
	file_read(f, 5 * 512, after, 512);
	assert_memory_equal(before, after, 512);
	/* Not negotiable on a read-only disk: UNSUPP. */
	assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, 1, 1, 0).status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, 1, 1, 0).status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(simple(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false).status, VIRTIO_BLK_S_OK);
	check_alive(f);
}

/* Each malformed request gets the documented answer; the device keeps working. */
static void test_malformed(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 4096), st;
	struct blk_stats bs;
	struct done d;

	/* Header too short: 8 readable bytes. */
	st = status_buf(f);
	d = submit(f,
		   (struct vdrv_buf[]){
		       {header(f, VIRTIO_BLK_T_IN, 0), 8, false}, {buf, 512, true}, {st, 1, true}},
		   3, st);
	assert_int_equal(d.status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(d.len, 1);
	/* Header in a writable segment: no readable bytes at all. */
	st = status_buf(f);
	d = submit(f, (struct vdrv_buf[]){{header(f, VIRTIO_BLK_T_IN, 0), 16, true}, {st, 1, true}},
		   2, st);
	assert_int_equal(d.status, VIRTIO_BLK_S_IOERR);
	/* No status byte (an OUT whose last byte is readable): returned with 0 bytes. */
	st = status_buf(f);
	d = submit(f,
		   (struct vdrv_buf[]){{header(f, VIRTIO_BLK_T_OUT, 0), 16, false},
				       {buf, 512, false},
				       {st, 1, false}},
		   3, st);
	assert_int_equal(d.len, 0);
	assert_int_equal(d.status, 0xee);
	/* Data not a multiple of 512. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, buf, 500, true).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, 0, buf, 513, false).status,
			 VIRTIO_BLK_S_IOERR);
	/* Sector beyond capacity, range crossing it, and overflowing sector + length. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, SECTORS, buf, 512, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, SECTORS - 1, buf, 1024, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, UINT64_MAX, buf, 1024, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, UINT64_MAX / 512, buf, 1024, false).status,
			 VIRTIO_BLK_S_IOERR);
	/* Wrong direction: IN with readable data, OUT with writable data. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_IN, 0, buf, 512, false).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, VIRTIO_BLK_T_OUT, 0, buf, 512, true).status, VIRTIO_BLK_S_IOERR);
	/* FLUSH with data; an unknown type; a discard payload of two ranges. */
	assert_int_equal(simple(f, VIRTIO_BLK_T_FLUSH, 0, buf, 512, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(simple(f, 99, 0, buf, 512, true).status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(simple(f, VIRTIO_BLK_T_DISCARD, 0, buf, 32, false).status,
			 VIRTIO_BLK_S_IOERR);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.no_status, 1);
	assert_int_equal(bs.unsupported, 1);
	assert_int_equal(bs.bad_requests, 12);
	check_alive(f);
}

/* More data segments than seg_max (255 > 254): the header shares the first one. */
static void test_too_many_segments(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf *s = calloc(257, sizeof(*s));
	uint64_t hd = vdrv_alloc(&f->d, 16 + 512), st = status_buf(f);
	uint32_t type = VIRTIO_BLK_T_OUT;
	uint64_t sector = 300;
	unsigned n = 0;
	struct done d;

	memcpy(host(f, hd), &type, 4);
	memcpy(host(f, hd + 8), &sector, 8);
	s[n++] = (struct vdrv_buf){hd, 16 + 512, false};
	for (int i = 0; i < 254; i++)
		s[n++] = (struct vdrv_buf){vdrv_alloc(&f->d, 512), 512, false};
	s[n++] = (struct vdrv_buf){st, 1, true};
	assert_int_equal(n, 256);
	d = submit(f, s, n, st);
	assert_int_equal(d.status, VIRTIO_BLK_S_IOERR);
	/* One fewer data segment is fine: 254 = seg_max. */
	st = status_buf(f);
	s[254] = (struct vdrv_buf){st, 1, true};
	d = submit(f, s, 255, st);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	free(s);
	check_alive(f);
}

/* A readable descriptor after a writable one breaks the ring rules: NEEDS_RESET; after a reset
 * the device works again. */
static void test_ring_violation_needs_reset(void **state)
{
	struct fx *f = *state;
	uint64_t buf = vdrv_alloc(&f->d, 512), st = status_buf(f);
	struct vdrv_buf s[3] = {
	    {header(f, VIRTIO_BLK_T_IN, 0), 16, false}, {buf, 512, true}, {st, 1, false}};

	vdrv_add(&f->d, 0, s, 3);
	vdrv_kick(&f->d, 0);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 0);
	driver_init(f);
	check_alive(f);
}

/* Post eight 64 KiB reads (status bytes in st[]) and notify. */
static void reads_in_flight(struct fx *f, uint64_t st[8])
{
	for (int i = 0; i < 8; i++) {
		uint64_t buf = vdrv_alloc(&f->d, 65536);

		st[i] = status_buf(f);
		vdrv_add(
		    &f->d, 0,
		    (struct vdrv_buf[]){{header(f, VIRTIO_BLK_T_IN, (uint64_t)i * 128), 16, false},
					{buf, 65536, true},
					{st[i], 1, true}},
		    3);
	}
	vdrv_kick(&f->d, 0);
}

/* Reset while reads are in flight: their completions are dropped, the rings stay untouched. */
static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	uint64_t st[8];
	struct blk_stats bs;

	reads_in_flight(f, st); /* io_uring: submitted, completions wait for the loop */
	vdrv_set_status(&f->d, 0);
	assert_int_equal(vdrv_status(&f->d), 0);
	pump(f, 20);
	blk_get_stats(f->blk, &bs);
	if (f->sync) { /* completed inside notify, before the reset */
		assert_int_equal(bs.dropped, 0);
		assert_int_equal(vdrv_used_idx(&f->d, 0), 8);
	} else {
		assert_int_equal(bs.dropped, 8);
		assert_int_equal(vdrv_used_idx(&f->d, 0), 0);
		for (int i = 0; i < 8; i++)
			assert_int_equal(*(uint8_t *)host(f, st[i]), 0xee);
	}
	driver_init(f);
	check_alive(f);
}

/* The driver takes its queue down (QueueReady = 0) while reads are in flight and sets it up again:
 * the old requests' completions are dropped, never pushed into the new ring, and their status
 * bytes stay untouched; the queue then works. */
static void test_queue_reset_in_flight(void **state)
{
	struct fx *f = *state;
	uint64_t st[8];
	struct blk_stats bs;

	reads_in_flight(f, st);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_SEL, 0);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_READY, 0);
	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_QUEUE_READY), 0);
	assert_int_equal(vdrv_queue_setup(&f->d, 0, QS), 1);
	pump(f, 20);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.dropped, f->sync ? 0 : 8);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 0); /* the new ring saw nothing of them */
	if (!f->sync)
		for (int i = 0; i < 8; i++)
			assert_int_equal(*(uint8_t *)host(f, st[i]), 0xee);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	check_alive(f);
}

/* PATCH /drives after boot: the backing file is replaced while the driver runs. The capacity in
 * config space follows the new file, a configuration interrupt tells the driver, reads come from
 * the new file, and a file that cannot be opened leaves the old one in place. */
static void test_replace_backing(void **state)
{
	struct fx *f = *state;
	char other[] = "/tmp/kiln-blk2-XXXXXX";
	uint8_t sec[512], want[512];
	uint64_t a = vdrv_alloc(&f->d, 512);
	int fd = mkstemp(other), irqs;
	struct done d;

	assert_true(fd >= 0);
	memset(sec, 0x5a, sizeof(sec));
	for (int i = 0; i < 8; i++) /* 8 sectors: a smaller disk */
		assert_int_equal(pwrite(fd, sec, sizeof(sec), (off_t)i * 512), 512);
	close(fd);
	assert_int_equal(blk_replace_backing(f->blk, "/no/such/file", 1000, NULL), -ENOENT);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), SECTORS);
	irqs = f->d.irqs;
	assert_int_equal(blk_replace_backing(f->blk, other, 1000, NULL), 0);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), 8);
	assert_true(vdrv_rd(&f->d, VDRV_REG_INTERRUPT_STATUS) & VIRTIO_ISR_CONFIG);
	assert_true(f->d.irqs > irqs);
	d = simple(f, VIRTIO_BLK_T_IN, 7, a, 512, true);
	assert_int_equal(d.status, VIRTIO_BLK_S_OK);
	memset(want, 0x5a, sizeof(want));
	assert_memory_equal(host(f, a), want, 512);
	d = simple(f, VIRTIO_BLK_T_IN, 8, a, 512, true); /* past the new end */
	assert_int_equal(d.status, VIRTIO_BLK_S_IOERR);
	unlink(other);
}

static const struct rate_limit_config one_op_per_100ms = {.ops = {.size = 1, .refill_ms = 100},
							  .set = true};

/* Two reads in one notification under one operation per 100 ms: the second waits for the
 * limiter's timer, then completes. */
static void two_reads_throttled(struct fx *f)
{
	uint64_t a = vdrv_alloc(&f->d, 512), st[2];
	struct blk_stats bs;
	struct timespec t0, t1;
	long ms;

	for (int i = 0; i < 2; i++) {
		st[i] = status_buf(f);
		vdrv_add(&f->d, 0,
			 (struct vdrv_buf[]){{header(f, VIRTIO_BLK_T_IN, (uint64_t)i), 16, false},
					     {a, 512, true},
					     {st[i], 1, true}},
			 3);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	vdrv_kick(&f->d, 0);
	pump_until_used(f, 1);
	pump_until_used(f, 2);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 80); /* the second waited for a token */
	assert_int_equal(*(uint8_t *)host(f, st[1]), VIRTIO_BLK_S_OK);
	blk_get_stats(f->blk, &bs);
	assert_true(bs.throttled >= 1);
}

/* A rate limiter from the configuration; then one set to no limit (PATCH) applies at once. */
static void test_rate_limited(void **state)
{
	struct fx *f = *state;
	struct rate_limit_config none = {0};

	device_destroy(f);
	f->rate = one_op_per_100ms;
	device_create(f);
	two_reads_throttled(f);
	assert_int_equal(blk_set_rate_limit(f->blk, &none), 0); /* no limit from now on */
	check_alive(f);
}

/* Overwrite the stack a returned function used (what a dangling pointer into it then reads). */
static __attribute__((noinline)) void scribble_stack(void)
{
	volatile uint8_t junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

/* A limiter set after boot (PATCH /drives): its timer, firing long after the call returned,
 * resumes the queue (it once pointed into the setter's stack frame: kiln crashed there). */
static void test_rate_limit_set_later(void **state)
{
	struct fx *f = *state;

	assert_int_equal(blk_set_rate_limit(f->blk, &one_op_per_100ms), 0);
	scribble_stack();
	two_reads_throttled(f);
	check_alive(f);
}

/* Many requests in one notification, completing in a batch. */
static void test_batch(void **state)
{
	struct fx *f = *state;
	uint64_t buf[64], st[64];
	uint8_t want[512];

	for (int i = 0; i < 64; i++) {
		buf[i] = vdrv_alloc(&f->d, 512);
		st[i] = status_buf(f);
		vdrv_add(
		    &f->d, 0,
		    (struct vdrv_buf[]){{header(f, VIRTIO_BLK_T_IN, (uint64_t)i * 5), 16, false},
					{buf[i], 512, true},
					{st[i], 1, true}},
		    3);
	}
	vdrv_kick(&f->d, 0);
	pump_until_used(f, 64);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(*(uint8_t *)host(f, st[i]), VIRTIO_BLK_S_OK);
		file_read(f, (uint64_t)i * 5 * 512, want, 512);
		assert_memory_equal(host(f, buf[i]), want, 512);
	}
}

/* One request of n data buffers of len bytes each at sector; its status byte's offset. */
static uint64_t add_rw(struct fx *f, uint32_t type, uint64_t sector, const uint64_t *bufs, int n,
		       uint32_t len)
{
	struct vdrv_buf b[4];
	uint64_t st = status_buf(f);

	b[0] = (struct vdrv_buf){header(f, type, sector), 16, false};
	for (int i = 0; i < n; i++)
		b[1 + i] = (struct vdrv_buf){bufs[i], len, type == VIRTIO_BLK_T_IN};
	b[1 + n] = (struct vdrv_buf){st, 1, true};
	vdrv_add(&f->d, 0, b, 1 + n + 1);
	return st;
}

/* Adjacent writes popped together go to the backend as one request (the first one in two
 * buffers: its iovecs join the group's), a flush ends a group, and adjacent reads merge too:
 * every request still gets its own status and the data lands where each one said. */
static void test_merge(void **state)
{
	enum { MB = 512 }; /* sectors from here: check_alive's sector 7 keeps its pattern */
	struct fx *f = *state;
	uint64_t st[12], w[9], r[4];
	uint8_t got[4096];
	struct blk_stats bs;

	for (int i = 0; i < 9; i++) { /* w[0], w[1]: request 0's halves */
		w[i] = vdrv_alloc(&f->d, 4096);
		memset(host(f, w[i]), 0x10 + i, 4096);
	}
	st[0] = add_rw(f, VIRTIO_BLK_T_OUT, MB, w, 2, 2048);
	for (int i = 1; i < 8; i++) /* each where the last one ended */
		st[i] = add_rw(f, VIRTIO_BLK_T_OUT, MB + (uint64_t)i * 8, &w[1 + i], 1, 4096);
	vdrv_kick(&f->d, 0);
	pump_until_used(f, 8);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.merged, 7);
	assert_int_equal(bs.writes, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(*(uint8_t *)host(f, st[i]), VIRTIO_BLK_S_OK);
		file_read(f, (MB + (uint64_t)i * 8) * 512, got, 4096);
		if (i == 0) {
			assert_memory_equal(got, host(f, w[0]), 2048);
			assert_memory_equal(got + 2048, host(f, w[1]), 2048);
		} else {
			assert_memory_equal(got, host(f, w[1 + i]), 4096);
		}
	}
	/* write, flush, adjacent write: the flush separates them */
	st[8] = add_rw(f, VIRTIO_BLK_T_OUT, MB + 100, &w[2], 1, 4096);
	st[9] = add_rw(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, 0);
	st[10] = add_rw(f, VIRTIO_BLK_T_OUT, MB + 108, &w[3], 1, 4096);
	vdrv_kick(&f->d, 0);
	pump_until_used(f, 11);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.merged, 7);
	for (int i = 8; i < 11; i++)
		assert_int_equal(*(uint8_t *)host(f, st[i]), VIRTIO_BLK_S_OK);
	/* four adjacent reads of what the first group wrote */
	for (int i = 0; i < 4; i++) {
		r[i] = vdrv_alloc(&f->d, 4096);
		add_rw(f, VIRTIO_BLK_T_IN, MB + 8 + (uint64_t)i * 8, &r[i], 1, 4096);
	}
	vdrv_kick(&f->d, 0);
	pump_until_used(f, 15);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.merged, 10);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(host(f, r[i]), host(f, w[2 + i]), 4096);
	check_alive(f);
}

static void test_bad_config(void **state)
{
	struct fx *f = *state;
	struct blk_config bc = {
	    .path = f->path, .serial = "this-serial-is-too-long", .mem = &f->d.mem};
	struct blk *b;

	assert_int_equal(blk_create(&bc, &b), -EINVAL);
	bc.serial = "exactly-twenty-bytes";
	bc.path = "/nonexistent/image";
	assert_int_equal(blk_create(&bc, &b), -ENOENT);
	bc.path = f->path;
	assert_int_equal(blk_create(&bc, &b), 0);
	blk_destroy(b);
}

/* As the device runs in kiln: eight cached reads complete inside the notify that started them,
 * used ring and status bytes written before any main-loop iteration; nothing is left for the
 * loop. */
static void test_cached_reads_inline(void **state)
{
	struct fx *f = *state;
	uint64_t st[8];
	struct blk_stats bs;

	device_destroy(f);
	f->reap_inline = true;
	device_create(f);
	reads_in_flight(f, st);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(*(uint8_t *)host(f, st[i]), VIRTIO_BLK_S_OK);
	pump(f, 20);
	blk_get_stats(f->blk, &bs);
	assert_int_equal(bs.dropped, 0);
	assert_int_equal(vdrv_used_idx(&f->d, 0), 8);
	check_alive(f);
}

#define BOTH(t)                                                                                    \
	cmocka_unit_test_setup_teardown(t, setup_sync, teardown),                                  \
	    cmocka_unit_test_setup_teardown(t, setup_uring, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_identity_and_config),
	    BOTH(test_read),
	    BOTH(test_write_flush),
	    BOTH(test_write_through_without_flush),
	    BOTH(test_discard),
	    BOTH(test_write_zeroes),
	    BOTH(test_get_id),
	    BOTH(test_read_only),
	    BOTH(test_malformed),
	    BOTH(test_too_many_segments),
	    BOTH(test_ring_violation_needs_reset),
	    BOTH(test_reset_in_flight),
	    BOTH(test_queue_reset_in_flight),
	    BOTH(test_replace_backing),
	    BOTH(test_rate_limited),
	    BOTH(test_rate_limit_set_later),
	    BOTH(test_batch),
	    BOTH(test_merge),
	    cmocka_unit_test_setup_teardown(test_cached_reads_inline, setup_uring, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_config, setup_sync, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

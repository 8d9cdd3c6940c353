/* test_device_state.c — every device's save/load pair without KVM: round trips (state saved,
 * loaded into a fresh device, saved again: the same bytes, and the device behaves the same) and
 * each validation failure; the snapshot configuration section and CRC-32C. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/i8042.h"
#include "devices/rtc.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"
#include "state/snapshot.h"
#include "util/log.h"
#include "vdrv.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/rng.h"

typedef void (*save_fn)(void *obj, struct state_buf *b);
typedef int (*load_fn)(void *obj, struct state_buf *b, uint16_t version);

/* Save obj as section "s" (version 1) into w (freed first). */
static void save_one(struct state_buf *w, save_fn save, void *obj)
{
	state_buf_free(w);
	assert_int_equal(state_begin_section(w, "s", 1), 0);
	save(obj, w);
	assert_int_equal(state_end_section(w), 0);
}

/* Load data (a stream with section "s") into obj at `version`. */
static int load_bytes(const uint8_t *data, size_t len, load_fn load, void *obj, uint16_t version)
{
	struct state_buf r;
	uint16_t v;

	assert_int_equal(state_open(&r, data, len), 0);
	assert_int_equal(state_section(&r, "s", &v), 0);
	return load(obj, &r, version);
}

/* Round trip at the device's current `version`: save a, load into b, save b: identical
 * streams. */
static void round_trip_v(save_fn save, load_fn load, void *a, void *b, uint16_t version)
{
	struct state_buf w1 = {0}, w2 = {0};

	save_one(&w1, save, a);
	assert_int_equal(load_bytes(w1.data, w1.len, load, b, version), 0);
	save_one(&w2, save, b);
	assert_int_equal(w1.len, w2.len);
	assert_memory_equal(w1.data, w2.data, w1.len);
	/* A newer version, and the stream one byte short, are refused. */
	assert_int_equal(load_bytes(w1.data, w1.len, load, b, version + 1), -EINVAL);
	w1.data[4]--; /* payload length (name "s\0", version) */
	assert_int_equal(load_bytes(w1.data, w1.len - 1, load, b, version), -EINVAL);
	state_buf_free(&w1);
	state_buf_free(&w2);
}

static void round_trip(save_fn save, load_fn load, void *a, void *b)
{
	round_trip_v(save, load, a, b, 1);
}

/* Save a, patch payload byte `off` to `val`, and expect the load at `version` to fail. */
static void refuse_patched_v(save_fn save, load_fn load, void *a, void *b, size_t off, uint8_t val,
			     uint16_t version)
{
	struct state_buf w = {0};

	save_one(&w, save, a);
	assert_true(8 + off < w.len);
	w.data[8 + off] = val; /* the payload starts after "s\0", u16, u32 */
	assert_int_equal(load_bytes(w.data, w.len, load, b, version), -EINVAL);
	state_buf_free(&w);
}

static void refuse_patched(save_fn save, load_fn load, void *a, void *b, size_t off, uint8_t val)
{
	refuse_patched_v(save, load, a, b, off, val, 1);
}

/* --- UART --- */

static int irq_levels[64];

static int irq_set(void *ctx, uint32_t gsi, int level)
{
	(void)ctx;
	irq_levels[gsi] = level;
	return 0;
}

static void uart_save_fn(void *o, struct state_buf *b)
{
	uart16550_save(o, b);
}

static int uart_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return uart16550_load(o, b, v);
}

static struct uart16550 *uart_new(uint32_t gsi)
{
	struct uart16550_config c = {.name = "t", .out_fd = -1, .irq = {irq_set, NULL, gsi}};
	struct uart16550 *u;

	assert_int_equal(uart16550_create(&c, &u), 0);
	return u;
}

static void uart_wr(struct uart16550 *u, unsigned reg, uint8_t v)
{
	uart16550_io_ops.write(u, reg, v, 1);
}

static uint8_t uart_rd(struct uart16550 *u, unsigned reg)
{
	return (uint8_t)uart16550_io_ops.read(u, reg, 1);
}

static void test_uart(void **st)
{
	struct uart16550 *a = uart_new(4), *b = uart_new(3);
	const uint8_t in[] = "hello";

	(void)st;
	uart_wr(a, 3, 0x83); /* DLAB */
	uart_wr(a, 0, 0x01);
	uart_wr(a, 1, 0x00);
	uart_wr(a, 3, 0x03);
	uart_wr(a, 2, 0xc7); /* FIFO on, trigger 14 */
	uart_wr(a, 4, 0x0b); /* DTR RTS OUT2 */
	uart_wr(a, 7, 0x5a);
	uart_wr(a, 1, 0x01); /* receive interrupt */
	assert_int_equal(uart16550_receive(a, in, 5), 5);
	assert_int_equal(irq_levels[4], 1);
	irq_levels[3] = 0;
	round_trip(uart_save_fn, uart_load_fn, a, b);
	assert_int_equal(irq_levels[3], 1); /* the line follows the loaded registers */
	assert_int_equal(uart_rd(b, 7), 0x5a);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(uart_rd(b, 0), in[i]); /* the FIFO, in order */
	assert_int_equal(irq_levels[3], 0);
	/* Payload: ier fcr lcr mcr scr dll dlm lsr msr rbr thr count fifo... */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 0, 0x10); /* IER reserved */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 1, 0x02); /* FCR without enable */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 3, 0x20); /* MCR reserved */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 7, 0x01); /* LSR DR is not an error */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 10, 2);   /* THRE flag */
	refuse_patched(uart_save_fn, uart_load_fn, a, b, 11, 17);  /* FIFO count */
	uart16550_destroy(a);
	uart16550_destroy(b);
}

/* --- RTC --- */

static time_t fixed_now(void *ctx)
{
	(void)ctx;
	return 1700000000;
}

static void rtc_save_fn(void *o, struct state_buf *b)
{
	rtc_save(o, b);
}

static int rtc_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return rtc_load(o, b, v);
}

static void test_rtc(void **st)
{
	struct rtc_config c = {.now = fixed_now};
	struct rtc *a, *b;

	(void)st;
	assert_int_equal(rtc_create(&c, &a), 0);
	assert_int_equal(rtc_create(&c, &b), 0);
	rtc_io_ops.write(a, 0, 0x0b, 1);
	rtc_io_ops.write(a, 1, 0x06, 1); /* binary, 24 h */
	rtc_io_ops.write(a, 0, 0x09, 1);
	rtc_io_ops.write(a, 1, 42, 1); /* year 2042: moves the guest clock */
	rtc_io_ops.write(a, 0, 0x40, 1);
	rtc_io_ops.write(a, 1, 0x99, 1); /* plain CMOS */
	round_trip(rtc_save_fn, rtc_load_fn, a, b);
	rtc_io_ops.write(b, 0, 0x09, 1);
	assert_int_equal(rtc_io_ops.read(b, 1, 1), 42);
	rtc_io_ops.write(b, 0, 0x40, 1);
	assert_int_equal(rtc_io_ops.read(b, 1, 1), 0x99);
	/* Payload: index nmi cmos[128] ... */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 0, 0x80);	   /* index */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 1, 2);		   /* NMI flag */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 2 + 0x0a, 0xa6);	   /* A with UIP */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 2 + 0x0c, 0x10);	   /* C not clear */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 2 + 0x0d, 0);	   /* D not valid */
	refuse_patched(rtc_save_fn, rtc_load_fn, a, b, 2 + 128 + 7, 0x7f); /* offset huge */
	rtc_destroy(a);
	rtc_destroy(b);
}

/* --- i8042 --- */

static void i8042_save_fn(void *o, struct state_buf *b)
{
	i8042_save(o, b);
}

static int i8042_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return i8042_load(o, b, v);
}

static void test_i8042(void **st)
{
	struct i8042_config c = {0};
	struct i8042 *a, *b;

	(void)st;
	assert_int_equal(i8042_create(&c, &a), 0);
	assert_int_equal(i8042_create(&c, &b), 0);
	i8042_cmd_io_ops.write(a, 0, 0x60, 1); /* write the command byte: pending */
	assert_int_equal(i8042_ctrl_alt_del(a), 0);
	round_trip_v(i8042_save_fn, i8042_load_fn, a, b, I8042_STATE_VERSION);
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0x1d); /* the first key, then Alt */
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0x38);
	i8042_data_io_ops.write(b, 0, 0x47, 1); /* the pending command's data byte */
	i8042_cmd_io_ops.write(b, 0, 0x20, 1);
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0x47);
	/* Payload: ctr outport out out_full last_cmd pending ctr_written nr_keys keys (7 here: the
	 * first of Ctrl+Alt+Del's 8 is in the output buffer) kbd_pending */
	refuse_patched_v(i8042_save_fn, i8042_load_fn, a, b, 1, 0x02, 2);  /* reset line low */
	refuse_patched_v(i8042_save_fn, i8042_load_fn, a, b, 3, 2, 2);	   /* flag */
	refuse_patched_v(i8042_save_fn, i8042_load_fn, a, b, 5, 0xaa, 2);  /* pending: no data */
	refuse_patched_v(i8042_save_fn, i8042_load_fn, a, b, 7, 17, 2);	   /* key queue */
	refuse_patched_v(i8042_save_fn, i8042_load_fn, a, b, 15, 0xf4, 2); /* ENABLE: no param */
	i8042_destroy(a);
	i8042_destroy(b);
}

/* A version-1 section (before the keyboard: no kbd_pending byte) still loads, with nothing
 * pending for the keyboard; version 2 reading it finds the section one byte short. */
static void test_i8042_version1(void **st)
{
	struct i8042_config c = {0};
	struct i8042 *b;
	struct state_buf w = {0};
	/* ctr 0x47, outport 0x03, out 0x1d, out_full, last_cmd 0, pending 0, ctr_written, 1 key */
	static const uint8_t v1[] = {0x47, 0x03, 0x1d, 1, 0, 0, 1, 1, 0x38};

	(void)st;
	assert_int_equal(i8042_create(&c, &b), 0);
	assert_int_equal(state_begin_section(&w, "s", 1), 0);
	state_put_bytes(&w, v1, sizeof(v1));
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(load_bytes(w.data, w.len, i8042_load_fn, b, 2), -EINVAL);
	assert_int_equal(load_bytes(w.data, w.len, i8042_load_fn, b, 1), 0);
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0x1d);
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0x38);
	i8042_data_io_ops.write(b, 0, 0x00, 1); /* a keyboard command, not a parameter */
	assert_int_equal(i8042_data_io_ops.read(b, 0, 1), 0xfe);
	state_buf_free(&w);
	i8042_destroy(b);
}

/* --- test device --- */

static void testdev_save_fn(void *o, struct state_buf *b)
{
	testdev_save(o, b);
}

static int testdev_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return testdev_load(o, b, v);
}

static void test_testdev(void **st)
{
	static struct testdev a, b;

	(void)st;
	testdev_init(&a);
	testdev_init(&b);
	testdev_mmio_ops.write(&a, 8, 0x1122334455667788ULL, 8);
	testdev_pio_ops.write(&a, 2, 0xbeef, 2);
	round_trip(testdev_save_fn, testdev_load_fn, &a, &b);
	assert_true(testdev_mmio_ops.read(&b, 8, 8) == 0x1122334455667788ULL);
	assert_int_equal(testdev_pio_ops.read(&b, 2, 2), 0xbeef);
}

/* --- virtio: transport, common state, queues, rng with a held request --- */

static int rng_dry;

static ssize_t rng_src(void *buf, size_t len, unsigned int flags)
{
	if (rng_dry) {
		errno = EAGAIN;
		return -1;
	}
	return getrandom(buf, len, flags);
}

struct vfx {
	struct vdrv d;
	struct virtio_rng *rng;
};

static void vfx_init(struct vfx *f)
{
	struct virtio_rng_config c = {.getrandom = rng_src};

	vdrv_init(&f->d);
	c.mem = &f->d.mem;
	assert_int_equal(virtio_rng_create(&c, &f->rng), 0);
	vdrv_attach(&f->d, &f->rng->vd);
}

static void vfx_fini(struct vfx *f)
{
	vdrv_detach(&f->d);
	virtio_rng_destroy(f->rng);
	vdrv_fini(&f->d);
}

static void mmio_save_fn(void *o, struct state_buf *b)
{
	virtio_mmio_save(o, b);
}

static int mmio_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return virtio_mmio_load(o, b, v, "virtio.0");
}

static void rng_save_fn(void *o, struct state_buf *b)
{
	virtio_rng_save(o, b);
}

static int rng_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return virtio_rng_load(o, b, v);
}

static void test_virtio_rng_held(void **st)
{
	struct vfx a, b;
	struct vdrv_buf buf = {VDRV_DATA_OFF, 64, true};
	struct state_buf w = {0};
	uint32_t id, len;
	uint16_t head;

	(void)st;
	vfx_init(&a);
	vfx_init(&b);
	vdrv_start(&a.d, 1, 0);
	rng_dry = 1; /* the request waits for entropy: a held chain */
	head = vdrv_add(&a.d, 0, &buf, 1);
	vdrv_kick(&a.d, 0);
	assert_false(vdrv_used(&a.d, 0, &id, &len));
	assert_true(a.rng->held);
	/* Guest memory travels as the memory file would. */
	memcpy(b.d.ram, a.d.ram, VDRV_MEM_LEN);
	save_one(&w, mmio_save_fn, a.d.t);
	assert_int_equal(load_bytes(w.data, w.len, mmio_load_fn, b.d.t, 1), 0);
	save_one(&w, rng_save_fn, a.rng);
	assert_int_equal(load_bytes(w.data, w.len, rng_load_fn, b.rng, 1), 0);
	assert_true(b.rng->held);
	assert_int_equal(b.rng->chain.head, head);
	/* The restored device serves the held request once entropy is there. */
	memcpy(b.d.q, a.d.q, sizeof(a.d.q)); /* and the driver's view of the rings */
	rng_dry = 0;
	pthread_mutex_lock(&b.rng->vd.lock);
	virtio_dev_restored(&b.rng->vd);
	pthread_mutex_unlock(&b.rng->vd.lock);
	assert_true(vdrv_used(&b.d, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 64);
	/* A held head that is not the queue's last popped one is refused. */
	b.rng->held = false;
	save_one(&w, rng_save_fn, a.rng);
	w.data[8 + 1] ^= 1;
	assert_int_equal(load_bytes(w.data, w.len, rng_load_fn, b.rng, 1), -EINVAL);
	state_buf_free(&w);
	vfx_fini(&a);
	vfx_fini(&b);
}

/* Offsets in a virtio.N payload: 3 selectors, then virtio_dev_save's fields, then queues. */
#define VD_OFF	     12
#define VD_FEATURES  (VD_OFF + 4 + 8 + 8)
#define VD_STATUS    (VD_FEATURES + 8)
#define VD_ISR	     (VD_STATUS + 4)
#define VD_Q0	     (VD_ISR + 4 + 4 + 1)
#define Q_DESC	     2
#define Q_LAST_AVAIL (2 + 24 + 3)

static void test_virtio_refusals(void **st)
{
	struct vfx a, b;
	struct state_buf w = {0};
	struct virtio_console_config cc = {.kind = CHARDEV_NONE};
	struct virtio_console *con;
	struct vdrv_buf buf = {VDRV_DATA_OFF, 64, true};
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
	    {VD_OFF, 9},		      /* device id */
	    {VD_OFF + 4 + 3, 0},	      /* offered features (INDIRECT, EVENT_IDX) */
	    {VD_FEATURES + 2, 0xff},	      /* negotiated outside the offer */
	    {VD_STATUS, 0x30},		      /* unknown status bits */
	    {VD_ISR, 4},		      /* unknown ISR bits */
	    {VD_ISR + 8, 2},		      /* number of queues */
	    {VD_Q0 + Q_DESC + 7, 0x80},	      /* descriptor table outside memory */
	    {VD_Q0 + Q_DESC, 8},	      /* descriptor table misaligned */
	    {VD_Q0 + 24 + 2, 2},	      /* event_idx flag */
	    {VD_Q0 + Q_LAST_AVAIL + 1, 0x40}, /* more in flight than the queue holds */
	};

	(void)st;
	vfx_init(&a);
	vfx_init(&b);
	vdrv_start(&a.d, 1, 0);
	vdrv_add(&a.d, 0, &buf, 1);
	vdrv_kick(&a.d, 0);
	save_one(&w, mmio_save_fn, a.d.t);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t old = w.data[8 + bad[i].off];

		w.data[8 + bad[i].off] = bad[i].val;
		if (load_bytes(w.data, w.len, mmio_load_fn, b.d.t, 1) != -EINVAL)
			fail_msg("case %zu (offset %zu) was accepted", i, bad[i].off);
		w.data[8 + bad[i].off] = old;
	}
	assert_int_equal(load_bytes(w.data, w.len, mmio_load_fn, b.d.t, 1), 0);
	assert_int_equal(load_bytes(w.data, w.len, mmio_load_fn, b.d.t, 2), -EINVAL);
	/* rng state into a console: another kind of device. */
	cc.mem = &b.d.mem;
	assert_int_equal(virtio_console_create(&cc, &con), 0);
	{
		struct virtio_mmio_config mc = {.base = 0xd0001000, .vm_fd = -1, .mmio = &b.d.bus};
		struct virtio_mmio *t;

		assert_int_equal(virtio_mmio_create(&con->vd, &mc, &t), 0);
		assert_int_equal(load_bytes(w.data, w.len, mmio_load_fn, t, 1), -EINVAL);
		virtio_mmio_destroy(t);
	}
	virtio_console_destroy(con);
	state_buf_free(&w);
	vfx_fini(&a);
	vfx_fini(&b);
}

/* --- virtio-blk: the disk must be the same --- */

static void blk_save_fn(void *o, struct state_buf *b)
{
	assert_int_equal(blk_save(o, b), 0);
}

static int blk_load_fn(void *o, struct state_buf *b, uint16_t v)
{
	return blk_load(o, b, v);
}

static struct blk *blk_new(struct guest_mem *m, const char *path, uint64_t size, const char *id)
{
	struct blk_config c = {.path = path, .serial = id, .force_sync = true, .mem = m};
	struct blk *b;
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), (off_t)size), 0);
	fclose(f);
	assert_int_equal(blk_create(&c, &b), 0);
	return b;
}

static void test_blk(void **st)
{
	struct guest_mem m;
	char p1[] = "/tmp/kiln-blk-state-XXXXXX", p2[64], p3[64];
	struct blk *a, *b, *c, *d;

	(void)st;
	guest_mem_init(&m, -1);
	assert_true(mkstemp(p1) >= 0);
	snprintf(p2, sizeof(p2), "%s.b", p1);
	snprintf(p3, sizeof(p3), "%s.c", p1);
	a = blk_new(&m, p1, 1 << 20, "disk-a");
	b = blk_new(&m, p2, 1 << 20, "disk-a");
	c = blk_new(&m, p3, 2 << 20, "disk-a");
	assert_int_equal(blk_drain(a, 100), 0);
	round_trip(blk_save_fn, blk_load_fn, a, b);
	{
		struct state_buf w = {0};

		save_one(&w, blk_save_fn, a);
		assert_int_equal(load_bytes(w.data, w.len, blk_load_fn, c, 1), -EINVAL);
		state_buf_free(&w);
	}
	blk_destroy(c);
	d = blk_new(&m, p3, 1 << 20, "disk-d"); /* another id */
	refuse_patched(blk_save_fn, blk_load_fn, a, d, 0, 0);
	{
		struct state_buf w = {0};

		save_one(&w, blk_save_fn, a);
		assert_int_equal(load_bytes(w.data, w.len, blk_load_fn, d, 1), -EINVAL);
		state_buf_free(&w);
	}
	blk_destroy(a);
	blk_destroy(b);
	blk_destroy(d);
	unlink(p1);
	unlink(p2);
	unlink(p3);
}

/* --- snapshot configuration, CRC --- */

/* Version 2 of the config section carries the drives' root, PARTUUID, cache and engine and the
 * boot source; a version-1 section (before them) still loads, with their defaults. */
static void test_config_section_versions(void **st)
{
	struct vm_config c, back;
	struct state_buf w = {0}, r;
	const char *str[] = {"/tmp/d", "d0"}; /* version 1: path, id */

	(void)st;
	config_defaults(&c);
	c.nr_disks = 1;
	strcpy(c.disks[0].path, "/tmp/d");
	c.disks[0].is_root = true;
	strcpy(c.disks[0].partuuid, "abcd-01");
	c.disks[0].io_engine = DISK_IO_SYNC;
	strcpy(c.kernel_path, "/k");
	c.cmdline_given = true;
	c.disks[0].rate =
	    (struct rate_limit_config){.ops = {.size = 5, .refill_ms = 100}, .set = true};
	c.rng_rate.bandwidth =
	    (struct bucket_config){.size = 1000, .one_time_burst = 7, .refill_ms = 9};
	c.nr_nets = 2; /* version 3: network interfaces and the MMDS configuration */
	c.nets[0] = (struct net_config){.id = "eth0", .tap = "tap0", .mtu = 9000};
	c.nets[1] = (struct net_config){
	    .id = "eth1", .tap = "tap1", .mac = {6, 0, 0, 0, 0, 2}, .mac_set = true};
	c.nets[1].tx_rate = c.disks[0].rate;
	c.mmds = (struct mmds_config){.set = true,
				      .version = MMDS_V2,
				      .ipv4 = MMDS_DEFAULT_IPV4,
				      .nr_ifaces = 1,
				      .ifaces = {"eth1"}};
	c.balloon = (struct balloon_config){.enabled = true, /* version 4 */
					    .amount_mib = 200,
					    .deflate_on_oom = true,
					    .stats_interval_s = 9,
					    .free_page_reporting = true};
	c.virtio_transport = VIRTIO_TRANSPORT_PCI; /* section config.virtio */
	assert_int_equal(snapshot_config_save(&c, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), 0);
	assert_int_equal(back.virtio_transport, VIRTIO_TRANSPORT_PCI);
	assert_int_equal(back.nr_transport_of, 0);
	assert_memory_equal(&back.balloon, &c.balloon, sizeof(c.balloon));
	assert_true(back.disks[0].is_root);
	assert_string_equal(back.disks[0].partuuid, "abcd-01");
	assert_int_equal(back.disks[0].io_engine, DISK_IO_SYNC);
	assert_string_equal(back.kernel_path, "/k");
	assert_true(back.cmdline_given);
	assert_true(back.disks[0].rate.set);
	assert_int_equal(back.disks[0].rate.ops.size, 5);
	assert_int_equal(back.rng_rate.bandwidth.one_time_burst, 7);
	assert_int_equal(back.nr_nets, 2);
	assert_memory_equal(&back.nets[0], &c.nets[0], sizeof(c.nets[0]));
	assert_memory_equal(&back.nets[1], &c.nets[1], sizeof(c.nets[1]));
	assert_memory_equal(&back.mmds, &c.mmds, sizeof(c.mmds));
	state_buf_free(&w);
	/* An interface that repeats another's TAP is refused. */
	strcpy(c.nets[1].tap, "tap0");
	assert_int_equal(snapshot_config_save(&c, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), -EINVAL);
	state_buf_free(&w);
	strcpy(c.nets[1].tap, "tap1");
	/* A balloon target above the memory is refused. */
	c.balloon.amount_mib = (uint32_t)(c.mem_bytes >> 20) + 1;
	assert_int_equal(snapshot_config_save(&c, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), -EINVAL);
	state_buf_free(&w);
	/* Devices with a transport of their own (section config.virtio, version 2): kept; and
	 * virtio-mmio by default with one device on PCI is written too. */
	c.virtio_transport = VIRTIO_TRANSPORT_MMIO;
	c.balloon.amount_mib = 1;
	assert_int_equal(config_transport_of_put(&c, "block0", VIRTIO_TRANSPORT_PCI), 0);
	assert_int_equal(config_transport_of_put(&c, "net1", VIRTIO_TRANSPORT_MMIO), 0);
	assert_int_equal(snapshot_config_save(&c, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), 0);
	assert_int_equal(back.virtio_transport, VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(back.nr_transport_of, 2);
	assert_int_equal(config_virtio_transport_of(&back, "block0"), VIRTIO_TRANSPORT_PCI);
	assert_int_equal(config_virtio_transport_of(&back, "net1"), VIRTIO_TRANSPORT_MMIO);
	assert_int_equal(config_virtio_transport_of(&back, "net0"), VIRTIO_TRANSPORT_MMIO);
	state_buf_free(&w);
	c.nr_transport_of = 0;
	c.balloon.enabled = false;
	c.virtio_transport = VIRTIO_TRANSPORT_MMIO;
	c.nr_nets = 0;
	c.mmds.set = false;
	c.mmds.nr_ifaces = 0;

	/* The same configuration as a version-1 writer put it. */
	assert_int_equal(state_begin_section(&w, "config", 1), 0);
	state_put_u64(&w, c.mem_bytes);
	state_put_u32(&w, c.sockets);
	state_put_u32(&w, c.cores);
	state_put_u32(&w, c.threads);
	for (int i = 0; i < 4; i++)
		state_put_u8(&w, i == 2);
	state_put_u16(&w, 0);
	state_put_u8(&w, 0);		/* on_reset */
	state_put_u8(&w, SERIAL_STDIO); /* com1 */
	state_put_u32(&w, 0);
	state_put_u8(&w, SERIAL_NONE); /* com2 */
	state_put_u32(&w, 0);
	state_put_u32(&w, 1); /* one disk */
	state_put_u32(&w, (uint32_t)strlen(str[0]));
	state_put_bytes(&w, str[0], strlen(str[0]));
	state_put_u8(&w, 1); /* read-only */
	state_put_u32(&w, (uint32_t)strlen(str[1]));
	state_put_bytes(&w, str[1], strlen(str[1]));
	state_put_u8(&w, VCONSOLE_NONE);
	state_put_u32(&w, 0);
	state_put_u8(&w, 1); /* rng */
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), 0);
	assert_string_equal(back.disks[0].id, "d0");
	assert_true(back.disks[0].read_only);
	assert_false(back.disks[0].is_root);
	assert_int_equal(back.disks[0].io_engine, DISK_IO_ASYNC);
	assert_string_equal(back.kernel_path, "");
	assert_true(back.rng);
	state_buf_free(&w);
}

static void test_config_section(void **st)
{
	struct vm_config c, back;
	struct state_buf w = {0}, r;

	(void)st;
	config_defaults(&c);
	c.mem_bytes = 512ull << 20;
	c.sockets = 2;
	c.cores = 3;
	c.nr_disks = 1;
	strcpy(c.disks[0].path, "/tmp/disk.img");
	strcpy(c.disks[0].id, "root");
	c.disks[0].read_only = true;
	c.vconsole.mode = VCONSOLE_SOCKET;
	strcpy(c.vconsole.path, "/tmp/con.sock");
	c.rng = true;
	assert_int_equal(snapshot_config_save(&c, &w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), 0);
	assert_int_equal(snapshot_config_check(&c, &back, NULL), 0);
	assert_string_equal(back.disks[0].path, "/tmp/disk.img");
	assert_string_equal(back.vconsole.path, "/tmp/con.sock");
	assert_int_equal(back.sockets, 2);
	/* Differences the check names. */
	back.mem_bytes <<= 1;
	assert_int_equal(snapshot_config_check(&c, &back, NULL), -EINVAL);
	back.mem_bytes = c.mem_bytes;
	back.disks[0].read_only = false;
	assert_int_equal(snapshot_config_check(&c, &back, NULL), -EINVAL);
	back.disks[0].read_only = true;
	strcpy(back.disks[0].path, "/elsewhere"); /* paths may differ */
	assert_int_equal(snapshot_config_check(&c, &back, NULL), 0);
	/* Bad values: topology 0, memory not 4K, a mode out of range. */
	w.data[8 + 8] = 0; /* sockets (low byte of 2) */
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), -EINVAL);
	w.data[8 + 8] = 2;
	w.data[8] = 1; /* mem_bytes + 1 */
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), -EINVAL);
	w.data[8] = 0;
	w.data[8 + 8 + 12 + 4 + 2 + 1] = 9; /* com1 mode */
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(snapshot_config_load(&r, &back, NULL), -EINVAL);
	state_buf_free(&w);
}

static void test_crc32c(void **st)
{
	(void)st;
	assert_int_equal(snapshot_crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(snapshot_crc32c(snapshot_crc32c(0, "1234", 4), "56789", 5), 0xe3069283);
	assert_int_equal(snapshot_crc32c(0, "", 0), 0);
}

static void test_read_refusals(void **st)
{
	struct snapshot_image img;
	char path[] = "/tmp/kiln-snap-read-XXXXXX";
	int fd = mkstemp(path);

	(void)st;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "KILNSNAP", 8), 8);
	close(fd);
	assert_int_equal(snapshot_read(path, &img, NULL), -EINVAL); /* too short */
	assert_int_equal(snapshot_read("/nonexistent/x", &img, NULL), -ENOENT);
	unlink(path);
}

static int quiet(void **st)
{
	(void)st;
	log_set_level(LOG_OFF);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uart),
	    cmocka_unit_test(test_rtc),
	    cmocka_unit_test(test_i8042),
	    cmocka_unit_test(test_i8042_version1),
	    cmocka_unit_test(test_testdev),
	    cmocka_unit_test(test_virtio_rng_held),
	    cmocka_unit_test(test_virtio_refusals),
	    cmocka_unit_test(test_blk),
	    cmocka_unit_test(test_config_section),
	    cmocka_unit_test(test_config_section_versions),
	    cmocka_unit_test(test_crc32c),
	    cmocka_unit_test(test_read_refusals),
	};

	return cmocka_run_group_tests(tests, quiet, NULL);
}

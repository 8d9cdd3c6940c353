/* fuzz_mmio.c — libFuzzer target: sequences of guest accesses to the virtio-mmio register windows
 * of six real devices on one MMIO bus — virtio-blk (a temporary 1 MiB image, synchronous
 * backend), virtio-rng, virtio-console (no backend), virtio-balloon, virtio-net (its backend a
 * socketpair standing in for the TAP; the harness drains the other end) and virtio-vsock (host
 * side in a temporary directory, a listener on port 1) — with guest RAM the input writes too, so
 * rings and descriptor chains are whatever the input makes them. Notifications are synchronous
 * (no KVM): a QueueNotify write runs the device at once; the event loop that net's and vsock's
 * backends need is run after every operation.
 *
 * Input: 8-byte operations, each [op][offset lo][offset hi][value: 4 bytes][extra]:
 *   op bits 0-2: 0 write, 1 read (width 1/2/4/8 from bits 5-6, at offset & 0x1ff of the
 *   device's window, through the bus like a vCPU's access); 2 write 4 bytes of guest RAM at
 *   offset * 4; 3 a driver's init (reset, ACKNOWLEDGE, DRIVER, the features the device offers
 *   masked by value, FEATURES_OK, DRIVER_OK); 4 set up queue `extra & 3` (size value & 0x3ff,
 *   rings at RAM offsets taken from offset) and mark it ready; 5 notify every queue; 6 reset
 *   (Status 0); 7 an access of any width at any address near the windows (value picks it).
 *   Bits 3-4 pick the device, plus 4 when extra's top bit is set (modulo six).
 * Devices persist across inputs; each input starts by resetting all four, and ends with checks:
 * Status reads 0 after a reset, MagicValue and Version read right, and a device's used rings
 * never got written outside guest RAM (AddressSanitizer and UBSan watch the rest).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/io_bus.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/virtio_mmio.h"
#include "virtio/vsock.h"

#define RAM_LEN	 0x40000ull
#define BASE	 0xd0000000ull
#define NR_DEVS	 6
#define OP_LEN	 8
#define MAX_OPS	 512
#define R_STATUS 0x070
#define R_QSEL	 0x030
#define R_QNUM	 0x038
#define R_QREADY 0x044
#define R_NOTIFY 0x050

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static struct io_bus bus;
static uint8_t *ram;
static struct virtio_dev *devs[NR_DEVS];
static struct event_loop loop;
static int net_peer = -1, net_fd = -1;

/* A deterministic entropy source: the fuzzer must replay. */
static ssize_t fake_random(void *buf, size_t len, unsigned int flags)
{
	memset(buf, 0x5a, len);
	return (ssize_t)len;
}

static void attach(unsigned i, struct virtio_dev *vd)
{
	struct virtio_mmio_config cfg = {
	    .base = BASE + i * VIRTIO_MMIO_WINDOW, .gsi = 5 + i, .vm_fd = -1, .mmio = &bus};
	struct virtio_mmio *t;

	if (virtio_mmio_create(vd, &cfg, &t) < 0)
		abort();
	devs[i] = vd;
}

/* A 1 MiB image in a temporary file, unlinked at once. */
static void make_blk(void)
{
	char path[] = "/tmp/kiln-fuzz-mmio-XXXXXX";
	int fd = mkstemp(path);
	struct blk_config c = {.path = path, .force_sync = true, .mem = &mem, .serial = "fuzz"};
	struct blk *b;

	if (fd < 0 || ftruncate(fd, 1 << 20) < 0 || blk_create(&c, &b) < 0)
		abort();
	unlink(path);
	close(fd);
	attach(0, blk_virtio_dev(b));
}

/* virtio-net on a socketpair (frames both ways, one per datagram, as a TAP gives them). */
static void make_net(void)
{
	struct virtio_net_config c = {.mem = &mem, .loop = &loop, .mtu = 1500};
	struct virtio_net *n;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	c.fd = net_fd = sv[0];
	net_peer = sv[1];
	if (virtio_net_create(&c, &n) < 0)
		abort();
	attach(4, &n->vd);
}

/* virtio-vsock, its host side in a fresh directory: guest connections to port 1 are accepted
 * (and left unread), to other ports refused. */
static void make_vsock(void)
{
	static char dir[] = "/tmp/kiln-fuzz-mmio-vsock-XXXXXX", uds[108], port1[120];
	struct virtio_vsock_config c = {.mem = &mem, .loop = &loop, .guest_cid = 3};
	struct virtio_vsock *vs;

	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	snprintf(port1, sizeof(port1), "%s_1", uds);
	if (unix_listen(port1, 64, SOCK_NONBLOCK) < 0)
		abort();
	c.uds_path = uds;
	if (virtio_vsock_create(&c, &vs) < 0)
		abort();
	attach(5, &vs->vd);
}

static void setup_once(void)
{
	static bool ready;
	struct virtio_rng_config rc = {.mem = &mem, .getrandom = fake_random};
	struct virtio_console_config cc = {
	    .mem = &mem, .kind = CHARDEV_NONE, .in_fd = -1, .out_fd = -1};
	struct virtio_balloon_config bc = {.mem = &mem,
					   .num_pages = 16,
					   .deflate_on_oom = true,
					   .reporting = true,
					   .stats_interval_s = 1};
	struct virtio_rng *r;
	struct virtio_console *con;
	struct virtio_balloon *bal;

	if (ready)
		return;
	log_set_level(LOG_OFF);
	guest_mem_init(&mem, -1);
	ram = aligned_alloc(4096, RAM_LEN);
	if (!ram || guest_mem_add_host(&mem, 0, RAM_LEN, ram, GUEST_MEM_RAM) < 0)
		abort();
	io_bus_init(&bus, "mmio", 0);
	if (event_loop_init(&loop) < 0)
		abort();
	make_blk();
	if (virtio_rng_create(&rc, &r) < 0 || virtio_console_create(&cc, &con) < 0 ||
	    virtio_balloon_create(&bc, &bal) < 0)
		abort();
	attach(1, &r->vd);
	attach(2, &con->vd);
	attach(3, &bal->vd);
	make_net();
	make_vsock();
	ready = true;
}

static uint64_t reg(unsigned dev, uint64_t off)
{
	return BASE + dev * VIRTIO_MMIO_WINDOW + off;
}

static void wr32(unsigned dev, uint64_t off, uint32_t v)
{
	io_bus_write(&bus, reg(dev, off), v, 4);
}

static uint32_t rd32(unsigned dev, uint64_t off)
{
	return (uint32_t)io_bus_read(&bus, reg(dev, off), 4);
}

static void driver_init(unsigned dev, uint32_t mask)
{
	uint64_t offered;

	wr32(dev, R_STATUS, 0);
	wr32(dev, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr32(dev, 0x014, 0);
	offered = rd32(dev, 0x010);
	wr32(dev, 0x014, 1);
	offered |= (uint64_t)rd32(dev, 0x010) << 32;
	offered &= (uint64_t)mask | (uint64_t)mask << 32 | 1ull << VIRTIO_F_VERSION_1;
	wr32(dev, 0x024, 0);
	wr32(dev, 0x020, (uint32_t)offered);
	wr32(dev, 0x024, 1);
	wr32(dev, 0x020, (uint32_t)(offered >> 32));
	wr32(dev, R_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	wr32(dev, R_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		 VIRTIO_STATUS_DRIVER_OK);
}

/* Queue q: size, descriptor table, driver and device areas at 4 KiB-aligned RAM offsets. */
static void queue_setup(unsigned dev, unsigned q, uint32_t size, uint16_t where)
{
	uint64_t desc = (where & 0x3f) * 0x1000ull, drv = ((where >> 6) & 0x3f) * 0x1000ull;
	uint64_t used = ((where >> 12) & 0xf) * 0x4000ull;

	wr32(dev, R_QSEL, q);
	wr32(dev, R_QNUM, size);
	wr32(dev, 0x080, (uint32_t)desc);
	wr32(dev, 0x084, 0);
	wr32(dev, 0x090, (uint32_t)drv);
	wr32(dev, 0x094, 0);
	wr32(dev, 0x0a0, (uint32_t)used);
	wr32(dev, 0x0a4, 0);
	wr32(dev, R_QREADY, 1);
}

static void run_op(const uint8_t *o)
{
	unsigned dev = (((o[0] >> 3) & 3) + (o[7] & 0x80 ? 4 : 0)) % NR_DEVS;
	unsigned width = 1u << ((o[0] >> 5) & 3);
	uint16_t off = (uint16_t)(o[1] | o[2] << 8);
	uint32_t val =
	    (uint32_t)o[3] | (uint32_t)o[4] << 8 | (uint32_t)o[5] << 16 | (uint32_t)o[6] << 24;

	switch (o[0] & 7) {
	case 0:
		io_bus_write(&bus, reg(dev, off & 0x1ff), val, width);
		break;
	case 1:
		(void)io_bus_read(&bus, reg(dev, off & 0x1ff), width);
		break;
	case 2:
		memcpy(ram + (off * 4ull) % RAM_LEN, o + 3, 4);
		break;
	case 3:
		driver_init(dev, val);
		break;
	case 4:
		queue_setup(dev, o[7] & 3, val & 0x3ff, off);
		break;
	case 5:
		for (unsigned q = 0; q < 4; q++)
			wr32(dev, R_NOTIFY, q);
		break;
	case 6:
		wr32(dev, R_STATUS, 0);
		break;
	default:
		if (o[7] & 1)
			io_bus_write(&bus, BASE - 0x100 + off, val, 1u + o[7] % 8);
		else
			(void)io_bus_read(&bus, BASE - 0x100 + off, 1u + o[7] % 8);
		break;
	}
}

/* Empty fd of the datagrams waiting in it. */
static void drain(int fd)
{
	static uint8_t buf[65536 + 12];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Each input starts with the same backend: nothing left from the last one either way, and one
 * broadcast frame waiting for the guest's receive buffers. */
static void net_backend_reset(void)
{
	static const uint8_t frame[12 + 60] = {[12] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

	drain(net_fd);
	drain(net_peer);
	(void)send(net_peer, frame, sizeof(frame), MSG_DONTWAIT);
}

static void check_device(unsigned dev)
{
	assert(rd32(dev, 0x000) == VIRTIO_MMIO_MAGIC);
	assert(rd32(dev, 0x004) == VIRTIO_MMIO_VERSION);
	wr32(dev, R_STATUS, 0);
	assert(rd32(dev, R_STATUS) == 0);
	for (unsigned q = 0; q < devs[dev]->ops->nr_queues; q++)
		assert(!devs[dev]->vq[q].active);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t ops = size / OP_LEN;

	setup_once();
	memset(ram, 0, RAM_LEN);
	for (unsigned d = 0; d < NR_DEVS; d++)
		wr32(d, R_STATUS, 0);
	net_backend_reset();
	if (ops > MAX_OPS)
		ops = MAX_OPS;
	for (size_t i = 0; i < ops; i++) {
		run_op(data + i * OP_LEN);
		event_loop_dispatch(&loop, 0);
		drain(net_peer);
	}
	for (unsigned d = 0; d < NR_DEVS; d++)
		check_device(d);
	return 0;
}

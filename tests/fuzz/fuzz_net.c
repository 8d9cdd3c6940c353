/* fuzz_net.c — libFuzzer target: the virtio-net device (src/virtio/net.c) on guest memory,
 * descriptor tables and rings supplied by the input, its backend one end of a SOCK_SEQPACKET
 * socketpair whose other end sends frames of the input's lengths and drains what the device
 * writes. The transport is left out: the input drives the device through the calls a transport
 * makes (feature negotiation, queue setup, notifications, resets, save/load), and the loop
 * through its epoll descriptor. Every frame at the peer must carry a header and fit 65562 bytes,
 * the device's bookkeeping must stay in bounds, offloads must be sets the TAP would take;
 * AddressSanitizer and UBSan watch the rest (and the bounded loop pumping, a device that spins).
 *
 * Input: a 4-byte header — [features: 1 MRG_RXBUF, 2 EVENT_IDX, 4 INDIRECT_DESC, 8 hooks,
 * 16 rx limiter, 32 tx limiter, 64 offloads][rx queue size log2][tx queue size log2][number of
 * operations] — then 6-byte operations (see run_op), then the guest memory image: rx rings at
 * 0x0 (descriptors), 0x1000 (available), 0x2000 (used); tx rings at 0x3000, 0x4000, 0x5000;
 * buffers anywhere. Guest memory is MEM_LEN bytes of RAM at 0 and a read-only page after it,
 * exact-size heap allocations.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/event_loop.h"
#include "util/log.h"
#include "virtio/net.h"

#include "fuzz_virtio.h"

#define MEM_LEN	 0x20000ull
#define RO_GPA	 MEM_LEN
#define RO_LEN	 0x1000ull
#define HDR_LEN	 4
#define OP_LEN	 6
#define MAX_OPS	 255
#define RX_DESC	 0x0000
#define TX_DESC	 0x3000
#define AVAIL	 0x1000 /* from the descriptor table */
#define USED	 0x2000
#define FRAME_IN 70000 /* the peer sends frames up to this long */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static uint8_t *ram, *rom;
static struct event_loop loop;
static uint8_t frame[FRAME_IN];

struct fuzz {
	struct virtio_net *n;
	int peer;
	uint8_t feat;
	unsigned qsize[2];
	size_t pending; /* the rx source's frame */
};

static void setup_once(void)
{
	static bool ready;

	if (ready)
		return;
	log_set_level(LOG_OFF);
	guest_mem_init(&mem, -1);
	ram = fuzz_region(&mem, 0, MEM_LEN, GUEST_MEM_RAM);
	rom = fuzz_region(&mem, RO_GPA, RO_LEN, GUEST_MEM_READONLY);
	if (event_loop_init(&loop) < 0)
		abort();
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 13);
	ready = true;
}

/* --- the hooks: a frame whose first byte is odd is consumed and answered --- */

static bool fz_intercept(void *ctx, const struct net_hdr *hdr, const struct iovec *fr, int cnt,
			 size_t len)
{
	struct fuzz *f = ctx;
	uint8_t first;

	(void)hdr;
	if (len == 0 || cnt <= 0 || fr[0].iov_len == 0)
		return false;
	first = *(const uint8_t *)fr[0].iov_base;
	if (!(first & 1))
		return false;
	f->pending = len < 1600 ? len : 1600;
	return true;
}

static size_t fz_pending(void *ctx)
{
	return ((struct fuzz *)ctx)->pending;
}

static size_t fz_take(void *ctx, const struct iovec *iov, int cnt)
{
	struct fuzz *f = ctx;
	size_t done = 0;

	for (int i = 0; iov && i < cnt && done < f->pending; i++) {
		size_t n = iov[i].iov_len < f->pending - done ? iov[i].iov_len : f->pending - done;

		memset(iov[i].iov_base, 0x5a, n);
		done += n;
	}
	f->pending = 0;
	return done;
}

static int fz_set_offload(int fd, unsigned flags)
{
	(void)fd;
	assert(
	    !(flags & ~(NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_UFO)));
	assert(!flags || (flags & NET_OFFLOAD_CSUM));
	return 0;
}

/* --- the driver's side --- */

static uint64_t driver_features(const struct fuzz *f)
{
	uint64_t feat = 1ull << VIRTIO_F_VERSION_1;

	if (f->feat & 1)
		feat |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
	if (f->feat & 2)
		feat |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (f->feat & 4)
		feat |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	if (f->feat & 64)
		feat |= (1ull << VIRTIO_NET_F_GUEST_CSUM) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
			(1ull << VIRTIO_NET_F_GUEST_UFO) | (1ull << VIRTIO_NET_F_HOST_TSO4);
	return feat;
}

static void queue_setup(struct fuzz *f, unsigned q)
{
	struct virtq *vq = &f->n->vd.vq[q];
	uint64_t base = q == NET_RXQ ? RX_DESC : TX_DESC;

	vq->size = (uint16_t)f->qsize[q];
	vq->desc_gpa = base;
	vq->avail_gpa = base + AVAIL;
	vq->used_gpa = base + USED;
	virtio_dev_queue_ready(&f->n->vd, q);
}

/* Reset, negotiate, set up both queues, DRIVER_OK (vd.lock held). */
static void driver_init(struct fuzz *f)
{
	struct virtio_dev *vd = &f->n->vd;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	virtio_dev_write_status(vd, 0);
	virtio_dev_write_status(vd, st);
	vd->driver_features = driver_features(f) & vd->offered;
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK);
	queue_setup(f, NET_RXQ);
	queue_setup(f, NET_TXQ);
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* The device's own bookkeeping stays within its arrays. (Used elements are not checked in
 * memory: the input may point receive buffers at the used ring itself.) */
static void check_device(const struct fuzz *f)
{
	const struct net_rx_batch *b = &f->n->rxb;

	assert(b->nr <= NET_QUEUE_SIZE && b->nr_iov <= NET_RX_IOV_MAX && b->used <= b->nr);
	assert(!f->n->tx_held || f->n->tx.nr_segs <= VIRTQ_CHAIN_MAX);
}

/* --- the network's side --- */

static void peer_drain(struct fuzz *f)
{
	static uint8_t buf[NET_BUF_MAX + 1];
	ssize_t r;

	while ((r = recv(f->peer, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC)) >= 0)
		assert(r >= NET_HDR_LEN && r <= NET_BUF_MAX);
}

/* Dispatch what the loop has (a bounded number of rounds: the device must not spin). */
static void pump(void)
{
	for (int round = 0; round < 8 && event_loop_dispatch(&loop, 0) > 0; round++)
		;
}

/* Save the device (transport-independent state, then its own), reset it and load it back, as a
 * restore into the same device would. A refusal leaves a reset device: fine. */
static int net_save(void *dev, struct state_buf *b)
{
	return virtio_net_save(dev, b);
}

static int net_load(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_net_load(dev, b, version);
}

static void save_load(struct fuzz *f)
{
	(void)virtio_net_drain(f->n);
	fuzz_virtio_round_trip(&f->n->vd, f->n, net_save, net_load, VIRTIO_NET_STATE_VERSION);
}

static void set_limits(struct fuzz *f, bool on)
{
	struct rate_limit_config slow = {.ops = {.size = 2, .refill_ms = 1000}, .set = true};
	struct rate_limit_config none = {0};

	if (virtio_net_set_rate_limits(f->n, on ? &slow : &none, on ? &slow : &none) < 0)
		abort();
}

static void locked(struct fuzz *f, void (*fn)(struct virtio_dev *, unsigned), unsigned q)
{
	pthread_mutex_lock(&f->n->vd.lock);
	fn(&f->n->vd, q);
	pthread_mutex_unlock(&f->n->vd.lock);
}

static void queue_reset(struct fuzz *f, unsigned q)
{
	pthread_mutex_lock(&f->n->vd.lock);
	virtio_dev_queue_reset(&f->n->vd, q);
	queue_setup(f, q);
	pthread_mutex_unlock(&f->n->vd.lock);
}

static void reinit(struct fuzz *f)
{
	pthread_mutex_lock(&f->n->vd.lock);
	driver_init(f);
	pthread_mutex_unlock(&f->n->vd.lock);
}

static void run_op(struct fuzz *f, const uint8_t *op)
{
	size_t len = (size_t)(op[1] | op[2] << 8 | (op[3] & 1) << 16);
	uint64_t off = ((uint64_t)(op[1] | op[2] << 8) * 2) % MEM_LEN;
	uint16_t val = (uint16_t)(op[4] | op[5] << 8);

	switch (op[0] % 12) {
	case 0:
	case 1:
		locked(f, virtio_dev_notify, op[0] % 2); /* rx, tx */
		break;
	case 2:
		(void)send(f->peer, frame, len < FRAME_IN ? len : FRAME_IN, MSG_DONTWAIT);
		break;
	case 3:
		pump();
		break;
	case 4:
		peer_drain(f);
		break;
	case 5:
		memcpy(ram + off, &val, 2); /* the driver writes its rings or buffers */
		break;
	case 6:
		queue_reset(f, op[1] & 1);
		break;
	case 7:
		reinit(f);
		break;
	case 8:
		save_load(f);
		break;
	case 9:
		(void)virtio_net_drain(f->n);
		break;
	case 10:
		f->pending = (f->feat & 8) ? len % 70000 : 0;
		virtio_net_rx_kick(f->n);
		break;
	default:
		set_limits(f, op[1] & 1);
		break;
	}
	check_device(f);
}

static int create(struct fuzz *f)
{
	struct virtio_net_config c = {.mem = &mem, .loop = &loop};
	struct virtio_net_hooks h = {fz_intercept, fz_pending, fz_take, f};
	struct rate_limit_config slow = {.bandwidth = {.size = 100000, .refill_ms = 1000},
					 .set = true};
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	c.fd = sv[0];
	f->peer = sv[1];
	if (f->feat & 8)
		c.hooks = h;
	if (f->feat & 16)
		c.rx_rate = slow;
	if (f->feat & 32)
		c.tx_rate = slow;
	if (f->feat & 64) {
		c.offloads =
		    NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_UFO;
		c.set_offload = fz_set_offload;
	}
	if (virtio_net_create(&c, &f->n) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = {0};
	size_t nops, img;

	if (size < HDR_LEN)
		return 0;
	setup_once();
	f.feat = data[0];
	f.qsize[NET_RXQ] = 1u << (data[1] % 9);
	f.qsize[NET_TXQ] = 1u << (data[2] % 9);
	nops = data[3] < MAX_OPS ? data[3] : MAX_OPS;
	if (nops * OP_LEN > size - HDR_LEN)
		nops = (size - HDR_LEN) / OP_LEN;
	img = size - HDR_LEN - nops * OP_LEN;
	img = img < MEM_LEN ? img : MEM_LEN;
	memcpy(ram, data + HDR_LEN + nops * OP_LEN, img);
	memset(ram + img, 0, MEM_LEN - img);
	if (create(&f) < 0)
		return 0;
	reinit(&f);
	for (size_t i = 0; i < nops; i++)
		run_op(&f, data + HDR_LEN + i * OP_LEN);
	pump();
	peer_drain(&f);
	virtio_net_destroy(f.n);
	close(f.peer);
	return 0;
}

/* test_virtio_net.c — virtio-net driven through virtio-mmio as a guest driver would, over one end
 * of a SOCK_SEQPACKET socketpair (frames keep their boundaries, with the 12-byte header in front,
 * as on a TAP with IFF_VNET_HDR), with the real event loop; tap.c's name checks. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "backend/tap.h"
#include "core/vm.h"
#include "util/err.h"
#include "util/log.h"
#include "vdrv.h"
#include "virtio/net.h"

#define D	  VDRV_DATA_OFF
#define MEM	  0x200000ULL /* room for frames of 64 KiB and more */
#define RX	  NET_RXQ
#define TX	  NET_TXQ
#define F(bit)	  (1ULL << (bit))
#define F_MRG	  F(VIRTIO_NET_F_MRG_RXBUF)
#define ETH_LOCAL 0x88b5 /* IEEE 802 local experimental ethertype: the hook tests' frames */

struct fx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_net *net;
	int dev_fd; /* the device's end of the socketpair (owned by the device) */
	int peer;   /* the other end: the "network" */
};

/* The configuration the next fx_create uses (tests change it before fx_create). */
static struct virtio_net_config tcfg;

/* set_offload for tests: records what the device asked for, fails on demand. */
static unsigned offload_calls, offload_flags;
static int offload_ret;

static int fake_set_offload(int fd, unsigned flags)
{
	(void)fd;
	offload_calls++;
	offload_flags = flags;
	return offload_ret;
}

static void fx_create(struct fx *f)
{
	struct virtio_net_config c = tcfg;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	f->dev_fd = sv[0];
	f->peer = sv[1];
	c.mem = &f->d.mem;
	c.loop = &f->loop;
	c.fd = f->dev_fd;
	assert_int_equal(virtio_net_create(&c, &f->net), 0);
	vdrv_attach(&f->d, &f->net->vd);
}

static void fx_destroy(struct fx *f)
{
	vdrv_detach(&f->d);
	virtio_net_destroy(f->net);
	close(f->peer);
	f->net = NULL;
}

/* Replace the device by one built from tcfg. */
static void fx_recreate(struct fx *f)
{
	fx_destroy(f);
	fx_create(f);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	memset(&tcfg, 0, sizeof(tcfg));
	offload_calls = offload_flags = 0;
	offload_ret = 0;
	vdrv_init_mem(&f->d, MEM);
	assert_int_equal(event_loop_init(&f->loop), 0);
	fx_create(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_destroy(f);
	vdrv_fini(&f->d);
	event_loop_destroy(&f->loop);
	free(f);
	return 0;
}

/* --- frames --- */

/* A frame of len bytes (header included): header bytes 1..10 and a payload that depends on
 * seed, num_buffers 0xffff (what the guest must never see). */
static void make_frame(uint8_t *p, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
	if (len >= NET_HDR_LEN) {
		p[0] = 1; /* NEEDS_CSUM */
		p[10] = p[11] = 0xff;
	}
}

static void peer_send(struct fx *f, const void *p, size_t len)
{
	assert_int_equal(send(f->peer, p, len, MSG_DONTWAIT), (ssize_t)len);
}

/* The next frame at the peer (length; -1 if none). */
static ssize_t peer_recv(struct fx *f, void *p, size_t cap)
{
	return recv(f->peer, p, cap, MSG_DONTWAIT);
}

/* Bytes the device's end has queued, unread. */
static int queued_at_device(struct fx *f)
{
	int n = -1;

	assert_int_equal(ioctl(f->dev_fd, FIONREAD, &n), 0);
	return n;
}

static uint16_t num_buffers(struct fx *f, uint64_t hdr_off)
{
	uint16_t v;

	memcpy(&v, (uint8_t *)vdrv_ptr(&f->d, hdr_off) + 10, 2);
	return le16toh(v);
}

/* Post one device-writable buffer of len bytes at off on the rx queue (no kick). */
static uint16_t post_rx(struct fx *f, uint64_t off, uint32_t len)
{
	struct vdrv_buf b = {off, len, true};

	return vdrv_add(&f->d, RX, &b, 1);
}

/* Transmit a frame of len bytes written at off, in one readable buffer, and kick. */
static uint16_t send_tx(struct fx *f, uint64_t off, uint32_t len, uint8_t seed)
{
	struct vdrv_buf b = {off, len, false};
	uint16_t head;

	make_frame(vdrv_ptr(&f->d, off), len, seed);
	head = vdrv_add(&f->d, TX, &b, 1);
	vdrv_kick(&f->d, TX);
	return head;
}

/* --- identity, features, configuration space --- */

static void test_identity(void **state)
{
	struct fx *f = *state;
	uint64_t feat = vdrv_device_features(&f->d);

	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_NET);
	assert_int_equal(vdrv_queue_max(&f->d, RX), NET_QUEUE_SIZE);
	assert_int_equal(vdrv_queue_max(&f->d, TX), NET_QUEUE_SIZE);
	assert_int_equal(vdrv_queue_max(&f->d, 2), 0); /* no control queue */
	assert_true(feat & F(VIRTIO_NET_F_MAC));
	assert_true(feat & F(VIRTIO_NET_F_STATUS));
	assert_false(feat & F(VIRTIO_NET_F_MTU)); /* no MTU configured: not advertised */
	assert_true(feat & F_MRG);
	assert_true(feat & F(VIRTIO_RING_F_EVENT_IDX));
	assert_true(feat & F(VIRTIO_RING_F_INDIRECT_DESC));
	/* A backend without offloads (a socket): none offered. */
	assert_false(feat & (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
			     F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_HOST_TSO4)));
}

static void test_config_space(void **state)
{
	struct fx *f = *state;
	static const uint8_t mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
	uint8_t got[6];

	/* A generated MAC: locally administered unicast 06:..., fixed for the device's life. */
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 1), 0x06);
	virtio_net_mac(f->net, got);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vdrv_cfg_rd(&f->d, i, 1), got[i]);
	assert_int_equal(vdrv_cfg_rd(&f->d, 6, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vdrv_cfg_rd(&f->d, 8, 2), 1); /* max_virtqueue_pairs */
	assert_int_equal(vdrv_cfg_rd(&f->d, 10, 2), NET_MTU_DEFAULT);
	vdrv_cfg_wr(&f->d, 0, 0x77, 1); /* read-only: ignored */
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 1), 0x06);
	/* A given MAC and MTU. */
	memcpy(tcfg.mac, mac, 6);
	tcfg.mac_set = true;
	tcfg.mtu = 9000;
	fx_recreate(f);
	assert_true(vdrv_device_features(&f->d) & F(VIRTIO_NET_F_MTU));
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), 0x33221102);
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 2), 0x5544);
	assert_int_equal(vdrv_cfg_rd(&f->d, 10, 2), 9000);
}

static void test_bad_config_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_net_config c = {.mem = &f->d.mem, .loop = &f->loop, .fd = -1};
	struct virtio_net *n;

	assert_int_equal(virtio_net_create(&c, &n), -EINVAL); /* no backend */
	c.fd = f->peer;
	c.mtu = 67;
	assert_int_equal(virtio_net_create(&c, &n), -EINVAL);
	c.mtu = 0;
	c.loop = NULL;
	assert_int_equal(virtio_net_create(&c, &n), -EINVAL);
}

/* Offloads: offered as the backend allows, set at activation from the GUEST_* features. */
static void test_offloads(void **state)
{
	struct fx *f = *state;
	uint64_t feat;

	tcfg.offloads = TAP_OFFLOADS_ALL;
	tcfg.set_offload = fake_set_offload;
	fx_recreate(f);
	feat = vdrv_device_features(&f->d);
	assert_true(feat & F(VIRTIO_NET_F_CSUM));
	assert_true(feat & F(VIRTIO_NET_F_GUEST_CSUM));
	assert_true(feat & F(VIRTIO_NET_F_GUEST_TSO4));
	assert_true(feat & F(VIRTIO_NET_F_GUEST_TSO6));
	assert_true(feat & F(VIRTIO_NET_F_GUEST_UFO));
	assert_true(feat & F(VIRTIO_NET_F_HOST_TSO4));
	assert_true(feat & F(VIRTIO_NET_F_HOST_TSO6));
	assert_true(feat & F(VIRTIO_NET_F_HOST_UFO));
	assert_int_equal(offload_calls, 0); /* nothing before DRIVER_OK */
	vdrv_start(&f->d, 2,
		   F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
		       F(VIRTIO_NET_F_GUEST_UFO) | F(VIRTIO_NET_F_HOST_TSO6));
	assert_int_equal(offload_calls, 1);
	assert_int_equal(offload_flags, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_UFO);
	/* TSO without checksum offload breaks §5.1.3.1: no offload at all. */
	vdrv_start(&f->d, 2, F(VIRTIO_NET_F_GUEST_TSO4));
	assert_int_equal(offload_calls, 2);
	assert_int_equal(offload_flags, 0);
	/* A backend that only does checksums: no TSO, no UFO offered. */
	tcfg.offloads = TUN_F_CSUM;
	fx_recreate(f);
	feat = vdrv_device_features(&f->d);
	assert_true(feat & F(VIRTIO_NET_F_GUEST_CSUM));
	assert_false(feat & (F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
			     F(VIRTIO_NET_F_GUEST_UFO)));
	/* The backend refusing the offloads at activation: the device needs a reset. */
	offload_ret = -EINVAL;
	assert_true(vdrv_negotiate(&f->d, 2, F(VIRTIO_NET_F_GUEST_CSUM)) &
		    VIRTIO_STATUS_FEATURES_OK);
	vdrv_set_status(&f->d, vdrv_status(&f->d) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- transmit --- */

static void test_tx_frame_arrives_whole(void **state)
{
	struct fx *f = *state;
	uint8_t frame[112], got[256];
	struct vdrv_buf b[3] = {{D, 5, false}, {D + 0x100, 40, false}, {D + 0x200, 67, false}};
	uint32_t id, len;
	uint16_t head;

	vdrv_start(&f->d, 2, 0);
	make_frame(frame, sizeof(frame), 3);
	memcpy(vdrv_ptr(&f->d, D), frame, 5); /* the header split over two buffers */
	memcpy(vdrv_ptr(&f->d, D + 0x100), frame + 5, 40);
	memcpy(vdrv_ptr(&f->d, D + 0x200), frame + 45, 67);
	head = vdrv_add(&f->d, TX, b, 3);
	vdrv_kick(&f->d, TX);
	assert_int_equal(peer_recv(f, got, sizeof(got)), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_true(f->d.irqs >= 1);
	assert_int_equal(virtio_net_stats(f->net).tx_frames, 1);
	assert_int_equal(virtio_net_stats(f->net).tx_bytes, sizeof(frame));
	/* A header-only frame is no protocol violation (the backend judges it). */
	send_tx(f, D + 0x400, NET_HDR_LEN, 9);
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_HDR_LEN);
}

/* The largest frame (65562 bytes with its header) goes; one byte more is malformed. */
static void test_tx_largest(void **state)
{
	struct fx *f = *state;
	static uint8_t got[NET_BUF_MAX + 16];
	int big = 4 * NET_BUF_MAX;
	uint32_t id, len;

	assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)), 0);
	assert_int_equal(setsockopt(f->dev_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	vdrv_start(&f->d, 2, 0);
	send_tx(f, D, NET_BUF_MAX, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), NET_BUF_MAX);
	assert_memory_equal(got, vdrv_ptr(&f->d, D), NET_BUF_MAX);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	send_tx(f, D, NET_BUF_MAX + 1, 1);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
	assert_int_equal(virtio_net_stats(f->net).tx_malformed, 1);
}

static void test_tx_malformed(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf wr[2] = {{D, NET_HDR_LEN, false}, {D + 0x100, 10, true}};
	struct vdrv_buf shortb = {D + 0x200, NET_HDR_LEN - 1, false};
	struct vdrv_buf only_wr = {D + 0x300, 64, true};
	uint8_t got[256];
	uint32_t id, len;
	unsigned n = 0;

	vdrv_start(&f->d, 2, 0);
	vdrv_add(&f->d, TX, wr, 2);	  /* a device-writable buffer */
	vdrv_add(&f->d, TX, &shortb, 1);  /* shorter than the header */
	vdrv_add(&f->d, TX, &only_wr, 1); /* nothing to send at all */
	vdrv_kick(&f->d, TX);
	while (vdrv_used(&f->d, TX, &id, &len)) {
		assert_int_equal(len, 0);
		n++;
	}
	assert_int_equal(n, 3);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
	assert_int_equal(virtio_net_stats(f->net).tx_malformed, 3);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	/* The device keeps working. */
	send_tx(f, D + 0x400, 80, 5);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 80);
	assert_memory_equal(got, vdrv_ptr(&f->d, D + 0x400), 80);
	assert_int_equal(virtio_net_stats(f->net).tx_frames, 1);
}

/* Segments: a chain of VIRTQ_CHAIN_MAX buffers is one writev; more is a ring-level violation
 * (virtq_pop refuses it, as for every device): NEEDS_RESET, nothing sent. */
static void test_tx_segments(void **state)
{
	struct fx *f = *state;
	static struct vdrv_buf b[VIRTQ_CHAIN_MAX + 1];
	uint8_t got[2048];
	uint64_t data, table;
	uint32_t id, len;

	vdrv_start(&f->d, 2, F(VIRTIO_RING_F_INDIRECT_DESC));
	data = vdrv_alloc(&f->d, 4 * (VIRTQ_CHAIN_MAX + 1));
	make_frame(vdrv_ptr(&f->d, data), 4 * (VIRTQ_CHAIN_MAX + 1), 7);
	for (unsigned i = 0; i <= VIRTQ_CHAIN_MAX; i++)
		b[i] = (struct vdrv_buf){data + 4 * i, 4, false};
	table = vdrv_alloc(&f->d, 16 * (VIRTQ_CHAIN_MAX + 1));
	vdrv_add_indirect(&f->d, TX, table, b, VIRTQ_CHAIN_MAX);
	vdrv_kick(&f->d, TX);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 4 * VIRTQ_CHAIN_MAX);
	assert_memory_equal(got, vdrv_ptr(&f->d, data), 4 * VIRTQ_CHAIN_MAX);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	vdrv_add_indirect(&f->d, TX, table, b, VIRTQ_CHAIN_MAX + 1);
	vdrv_kick(&f->d, TX);
	assert_false(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Fill the device's socket buffer until a frame waits; returns the frames posted. */
static unsigned tx_until_blocked(struct fx *f, unsigned frame_len, unsigned max)
{
	unsigned i;

	for (i = 0; i < max && !f->net->tx_wait_out; i++)
		send_tx(f, D + (uint64_t)i * 0x1000, frame_len, (uint8_t)i);
	return i;
}

/* Start the device with the smallest socket buffer the kernel allows and post 3000-byte frames
 * until the backend is full: the frames posted (the last one held). */
static unsigned start_blocked(struct fx *f)
{
	int small = 1; /* the kernel's minimum */

	assert_int_equal(setsockopt(f->dev_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	vdrv_start(&f->d, 2, 0);
	return tx_until_blocked(f, 3000, 12);
}

/* A full backend: EAGAIN keeps the chain, EPOLLOUT after the peer drains resumes; frames arrive
 * whole and in order, and the loop is not spun while waiting. */
static void test_tx_backpressure(void **state)
{
	struct fx *f = *state;
	uint8_t got[4096];
	unsigned posted, seen = 0, completed = 0;
	uint32_t id, len;

	posted = start_blocked(f);
	assert_true(f->net->tx_held);
	assert_true(posted < 12);
	while (vdrv_used(&f->d, TX, &id, &len))
		completed++;
	assert_int_equal(completed, posted - 1); /* the last one waits */
	assert_true(virtio_net_stats(f->net).tx_blocked >= 1);
	vdrv_pump(&f->loop, 20); /* nothing happens while the peer does not read */
	assert_false(vdrv_used(&f->d, TX, &id, &len));
	while (seen < posted) {
		ssize_t r = peer_recv(f, got, sizeof(got));

		if (r < 0) {
			vdrv_pump(&f->loop, 100); /* EPOLLOUT: the held frame goes */
			continue;
		}
		assert_int_equal(r, 3000);
		assert_memory_equal(got, vdrv_ptr(&f->d, D + (uint64_t)seen * 0x1000), 3000);
		seen++;
	}
	while (vdrv_used(&f->d, TX, &id, &len))
		completed++;
	assert_int_equal(completed, posted);
	assert_false(f->net->tx_held);
	assert_int_equal(virtio_net_stats(f->net).tx_frames, posted);
}

/* QueueReady = 0 on the transmit queue with a chain held: forgotten; the queue set up again
 * works, and the late EPOLLOUT completes nothing into the new ring. */
static void test_tx_queue_reset_with_chain_held(void **state)
{
	struct fx *f = *state;
	uint8_t got[4096];
	uint32_t id, len;

	start_blocked(f);
	assert_true(f->net->tx_held);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_SEL, TX);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_READY, 0);
	assert_false(f->net->tx_held);
	assert_int_equal(vdrv_queue_setup(&f->d, TX, VDRV_QSIZE), 1);
	while (peer_recv(f, got, sizeof(got)) > 0)
		;
	vdrv_pump(&f->loop, 50);
	assert_false(vdrv_used(&f->d, TX, &id, &len));
	send_tx(f, D, 100, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(id, 0);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- receive --- */

static void test_rx_without_mrg(void **state)
{
	struct fx *f = *state;
	uint8_t frame[72];
	uint32_t id, len;
	uint16_t head;

	vdrv_start(&f->d, 2, 0);
	head = post_rx(f, D, 1600);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 11);
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 100);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(frame));
	assert_memory_equal(vdrv_ptr(&f->d, D), frame, 10); /* the backend's header, as it was */
	assert_int_equal(num_buffers(f, D), 1);		    /* §5.1.6.4: 1 without MRG_RXBUF */
	assert_memory_equal((uint8_t *)vdrv_ptr(&f->d, D) + 12, frame + 12, sizeof(frame) - 12);
	assert_true(f->d.irqs >= 1);
	assert_int_equal(virtio_net_stats(f->net).rx_frames, 1);
	assert_int_equal(virtio_net_stats(f->net).rx_bytes, sizeof(frame));
}

/* Without MRG_RXBUF a frame longer than the buffer is dropped (counted); the buffer takes the
 * next frame. */
static void test_rx_too_big_without_mrg(void **state)
{
	struct fx *f = *state;
	uint8_t big[200], small[50];
	uint32_t id, len;
	uint16_t head;

	vdrv_start(&f->d, 2, 0);
	head = post_rx(f, D, 100);
	vdrv_kick(&f->d, RX);
	make_frame(big, sizeof(big), 1);
	make_frame(small, sizeof(small), 2);
	peer_send(f, big, sizeof(big));
	peer_send(f, small, sizeof(small));
	vdrv_pump(&f->loop, 100);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, sizeof(small));
	assert_memory_equal((uint8_t *)vdrv_ptr(&f->d, D) + 12, small + 12, sizeof(small) - 12);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(virtio_net_stats(f->net).rx_dropped, 1);
	assert_int_equal(virtio_net_stats(f->net).rx_frames, 1);
}

/* MRG_RXBUF: a frame spreads over as many chains as it needs, num_buffers in the first one's
 * header (here split over two buffers); the chains it did not need take the next frames. */
static void test_rx_mergeable(void **state)
{
	struct fx *f = *state;
	static uint8_t frame[5000], small[100];
	struct vdrv_buf split[2] = {{D, 6, true}, {D + 0x100, 2042, true}};
	uint64_t off[4] = {D, D + 0x1000, D + 0x2000, D + 0x3000};
	uint16_t head[4];
	uint32_t id, len;

	vdrv_start(&f->d, 2, F_MRG);
	head[0] = vdrv_add(&f->d, RX, split, 2);
	for (unsigned i = 1; i < 4; i++)
		head[i] = post_rx(f, off[i], 2048);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 5);
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 100);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(vdrv_used(&f->d, RX, &id, &len));
		assert_int_equal(id, head[i]);
		assert_int_equal(len, i < 2 ? 2048 : 5000 - 4096);
	}
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_memory_equal(vdrv_ptr(&f->d, D), frame, 6);
	assert_memory_equal(vdrv_ptr(&f->d, D + 0x100), frame + 6, 4); /* flags..csum_offset */
	assert_int_equal(num_buffers(f, D + 0x100 - 6), 3);
	assert_memory_equal(vdrv_ptr(&f->d, D + 0x100 + 6), frame + 12, 2042 - 6);
	assert_memory_equal(vdrv_ptr(&f->d, off[1]), frame + 2048, 2048);
	assert_memory_equal(vdrv_ptr(&f->d, off[2]), frame + 4096, 5000 - 4096);
	/* The fourth chain is still the driver's: the next frame goes there. */
	make_frame(small, sizeof(small), 6);
	peer_send(f, small, sizeof(small));
	vdrv_pump(&f->loop, 100);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(id, head[3]);
	assert_int_equal(len, sizeof(small));
	assert_int_equal(num_buffers(f, off[3]), 1);
	assert_int_equal(virtio_net_stats(f->net).rx_frames, 2);
}

/* MRG_RXBUF with the largest frame: 65562 bytes over 33 chains of 2 KiB. */
static void test_rx_mergeable_largest(void **state)
{
	struct fx *f = *state;
	static uint8_t frame[NET_BUF_MAX];
	int big = 4 * NET_BUF_MAX;
	unsigned chains = (NET_BUF_MAX + 2047) / 2048, n = 0;
	uint32_t id, len, total = 0;

	assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	f->d.qsize = 64;
	vdrv_start(&f->d, 2, F_MRG);
	for (unsigned i = 0; i < chains + 2; i++)
		post_rx(f, D + (uint64_t)i * 2048, 2048);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 9);
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 100);
	while (vdrv_used(&f->d, RX, &id, &len)) {
		assert_int_equal(id, n);
		total += len;
		n++;
	}
	assert_int_equal(n, chains);
	assert_int_equal(total, NET_BUF_MAX);
	assert_int_equal(num_buffers(f, D), chains);
	assert_memory_equal((uint8_t *)vdrv_ptr(&f->d, D) + 12, frame + 12, NET_BUF_MAX - 12);
}

/* No receive buffer: the frame stays in the backend (not read into kiln), and goes as soon as
 * the guest posts one. */
static void test_rx_waits_for_buffers(void **state)
{
	struct fx *f = *state;
	uint8_t frame[60];
	uint32_t id, len;

	vdrv_start(&f->d, 2, F_MRG);
	make_frame(frame, sizeof(frame), 4);
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 50);
	assert_int_equal(queued_at_device(f), sizeof(frame));
	assert_true(virtio_net_stats(f->net).rx_no_buffers >= 1);
	vdrv_pump(&f->loop, 20); /* edge-triggered: no event without a new frame */
	post_rx(f, D, 2048);
	vdrv_kick(&f->d, RX);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(frame));
	assert_int_equal(queued_at_device(f), 0);
	assert_memory_equal((uint8_t *)vdrv_ptr(&f->d, D) + 12, frame + 12, sizeof(frame) - 12);
}

/* A frame read while the guest has fewer buffers than it needs (MRG_RXBUF): dropped, counted;
 * the buffers take the next frame. */
static void test_rx_mergeable_short_of_buffers(void **state)
{
	struct fx *f = *state;
	static uint8_t big[3000], small[64];
	uint32_t id, len;

	vdrv_start(&f->d, 2, F_MRG);
	post_rx(f, D, 1024);
	post_rx(f, D + 0x1000, 1024);
	vdrv_kick(&f->d, RX);
	make_frame(big, sizeof(big), 1);
	make_frame(small, sizeof(small), 2);
	peer_send(f, big, sizeof(big));
	peer_send(f, small, sizeof(small));
	vdrv_pump(&f->loop, 100);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(id, 0);
	assert_int_equal(len, sizeof(small));
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(virtio_net_stats(f->net).rx_dropped, 1);
}

static void test_rx_malformed_chains(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf mixed[2] = {{D, 16, false}, {D + 0x100, 2048, true}};
	struct vdrv_buf tiny = {D + 0x1000, NET_HDR_LEN - 1, true};
	uint8_t frame[64];
	uint32_t id, len;
	uint16_t good;

	vdrv_start(&f->d, 2, F_MRG);
	vdrv_add(&f->d, RX, mixed, 2);
	vdrv_add(&f->d, RX, &tiny, 1);
	good = post_rx(f, D + 0x2000, 2048);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 3);
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 100);
	for (unsigned i = 0; i < 2; i++) {
		assert_true(vdrv_used(&f->d, RX, &id, &len));
		assert_int_equal(len, 0);
	}
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(id, good);
	assert_int_equal(len, sizeof(frame));
	assert_int_equal(virtio_net_stats(f->net).rx_malformed, 2);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* A backend whose peer went away: transmitted frames are dropped (counted) and completed, the
 * receive side stops; the loop is not spun (edge-triggered: HUP is reported once). */
static void test_backend_gone(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	vdrv_start(&f->d, 2, 0);
	post_rx(f, D + 0x4000, 2048);
	vdrv_kick(&f->d, RX);
	close(f->peer);
	f->peer = socket(AF_UNIX, SOCK_SEQPACKET, 0); /* teardown closes something */
	vdrv_pump(&f->loop, 50);
	send_tx(f, D, 100, 1);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(virtio_net_stats(f->net).tx_errors, 1);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	vdrv_pump(&f->loop, 20);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- rate limiters --- */

static const struct rate_limit_config one_op_per_100ms = {
    .ops = {.size = 1, .refill_ms = 100},
    .set = true,
};

static void test_tx_rate_limited(void **state)
{
	struct fx *f = *state;
	uint8_t got[256];
	uint32_t id, len;

	tcfg.tx_rate = one_op_per_100ms;
	fx_recreate(f);
	vdrv_start(&f->d, 2, 0);
	send_tx(f, D, 100, 1);
	send_tx(f, D + 0x1000, 100, 2);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1); /* the second waits */
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_false(vdrv_used(&f->d, TX, &id, &len));
	assert_true(virtio_net_stats(f->net).tx_throttled >= 1);
	for (int i = 0; i < 10 && !vdrv_used(&f->d, TX, &id, &len); i++)
		vdrv_pump(&f->loop, 100); /* the limiter's timer */
	assert_int_equal(id, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
	assert_memory_equal(got, vdrv_ptr(&f->d, D + 0x1000), 100);
}

/* Overwrite the stack a returned function used (what a dangling pointer into it then reads). */
static __attribute__((noinline)) void scribble_stack(void)
{
	volatile uint8_t junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = 0xa5;
}

/* A tx limiter given after activation (PATCH /network-interfaces after boot): its timer, which
 * fires long after the call returned, resumes the queue (it once pointed into the setter's stack
 * frame: kiln crashed when the timer fired). */
static void test_tx_rate_limit_set_later(void **state)
{
	struct fx *f = *state;
	uint8_t got[256];
	uint32_t id, len;

	vdrv_start(&f->d, 2, 0);
	assert_int_equal(virtio_net_set_rate_limits(f->net, NULL, &one_op_per_100ms), 0);
	scribble_stack();
	send_tx(f, D, 100, 1);
	send_tx(f, D + 0x1000, 100, 2);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1); /* the second waits */
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	for (int i = 0; i < 10 && !vdrv_used(&f->d, TX, &id, &len); i++)
		vdrv_pump(&f->loop, 100); /* the limiter's timer */
	assert_int_equal(id, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
}

static void test_rx_rate_limited(void **state)
{
	struct fx *f = *state;
	uint8_t a[80], b[90];
	uint32_t id, len;

	tcfg.rx_rate = one_op_per_100ms;
	fx_recreate(f);
	vdrv_start(&f->d, 2, 0);
	post_rx(f, D, 2048);
	post_rx(f, D + 0x1000, 2048);
	vdrv_kick(&f->d, RX);
	make_frame(a, sizeof(a), 1);
	make_frame(b, sizeof(b), 2);
	peer_send(f, a, sizeof(a));
	peer_send(f, b, sizeof(b));
	vdrv_pump(&f->loop, 20);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(a));
	assert_false(vdrv_used(&f->d, RX, &id, &len)); /* the second is held back */
	assert_true(f->net->rx_held);
	assert_true(virtio_net_stats(f->net).rx_throttled >= 1);
	for (int i = 0; i < 10 && !vdrv_used(&f->d, RX, &id, &len); i++)
		vdrv_pump(&f->loop, 100);
	assert_int_equal(id, 1);
	assert_int_equal(len, sizeof(b));
	assert_memory_equal((uint8_t *)vdrv_ptr(&f->d, D + 0x1000) + 12, b + 12, sizeof(b) - 12);
	/* A new limiter without limits lets everything through at once. */
	assert_int_equal(virtio_net_set_rate_limits(f->net, &(struct rate_limit_config){0}, NULL),
			 0);
	post_rx(f, D + 0x2000, 2048);
	post_rx(f, D + 0x3000, 2048);
	vdrv_kick(&f->d, RX);
	peer_send(f, a, sizeof(a));
	peer_send(f, b, sizeof(b));
	vdrv_pump(&f->loop, 50);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(b));
}

/* --- the MMDS hooks, with a trivial source: frames of ethertype ETH_LOCAL are answered --- */

static uint8_t src_frame[256];
static size_t src_len; /* 0: nothing pending */
static unsigned src_drops, intercepts;

static bool test_intercept(void *ctx, const struct net_hdr *hdr, const struct iovec *frame,
			   int iovcnt, size_t len)
{
	uint8_t eth[14], *p = eth;
	size_t need = sizeof(eth);

	(void)ctx;
	(void)hdr;
	if (len < sizeof(eth) || len > sizeof(src_frame))
		return false;
	for (int i = 0; i < iovcnt && need; i++) {
		size_t n = frame[i].iov_len < need ? frame[i].iov_len : need;

		memcpy(p, frame[i].iov_base, n);
		p += n;
		need -= n;
	}
	if (eth[12] != ETH_LOCAL >> 8 || eth[13] != (ETH_LOCAL & 0xff))
		return false;
	intercepts++;
	/* The answer: the request with the addresses swapped. */
	memcpy(src_frame, eth + 6, 6);
	memcpy(src_frame + 6, eth, 6);
	memcpy(src_frame + 12, eth + 12, 2);
	memset(src_frame + 14, 0xab, len - 14);
	src_len = len;
	return true;
}

static size_t test_pending(void *ctx)
{
	(void)ctx;
	return src_len;
}

static size_t test_take(void *ctx, const struct iovec *iov, int iovcnt)
{
	size_t done = 0;

	(void)ctx;
	if (!iov) {
		src_drops++;
		src_len = 0;
		return 0;
	}
	for (int i = 0; i < iovcnt && done < src_len; i++) {
		size_t n = iov[i].iov_len < src_len - done ? iov[i].iov_len : src_len - done;

		memcpy(iov[i].iov_base, src_frame + done, n);
		done += n;
	}
	src_len = 0;
	return done;
}

static const struct virtio_net_hooks hooks = {
    .tx_intercept = test_intercept,
    .rx_pending = test_pending,
    .rx_take = test_take,
};

/* A frame of ethertype ETH_LOCAL (header + 14 + payload, len bytes) at off. */
static void local_frame(struct fx *f, uint64_t off, uint32_t len)
{
	uint8_t *p = vdrv_ptr(&f->d, off);

	make_frame(p, len, 1);
	memset(p + 12, 0x11, 6);
	memset(p + 18, 0x22, 6);
	p[24] = ETH_LOCAL >> 8;
	p[25] = ETH_LOCAL & 0xff;
}

static void test_hooks(void **state)
{
	struct fx *f = *state;
	uint8_t tap[70], got[256];
	const uint8_t *rx;
	uint32_t id, len;

	src_len = src_drops = intercepts = 0;
	vdrv_start(&f->d, 2, 0);
	virtio_net_set_hooks(f->net, &hooks);
	post_rx(f, D + 0x8000, 2048);
	vdrv_kick(&f->d, RX);
	/* Intercepted: not at the backend, completed, answered at once into the posted buffer. */
	local_frame(f, D, 100);
	vdrv_add(&f->d, TX, &(struct vdrv_buf){D, 100, false}, 1);
	vdrv_kick(&f->d, TX);
	assert_int_equal(intercepts, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), -1);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, 100);
	rx = vdrv_ptr(&f->d, D + 0x8000);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(rx[i], 0); /* a zero header */
	assert_int_equal(num_buffers(f, D + 0x8000), 1);
	assert_int_equal(rx[12], 0x22); /* addresses swapped */
	assert_int_equal(rx[18], 0x11);
	assert_int_equal(rx[99], 0xab);
	/* Other frames go to the backend. */
	send_tx(f, D + 0x1000, 60, 2);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 60);
	/* No buffers: the answer waits at the source; a backend frame waits in the backend; once
	 * the guest posts, the source's frame goes first. */
	local_frame(f, D + 0x2000, 80);
	vdrv_add(&f->d, TX, &(struct vdrv_buf){D + 0x2000, 80, false}, 1);
	vdrv_kick(&f->d, TX);
	assert_int_equal(src_len, 80 - NET_HDR_LEN);
	make_frame(tap, sizeof(tap), 3);
	peer_send(f, tap, sizeof(tap));
	vdrv_pump(&f->loop, 50);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	post_rx(f, D + 0x9000, 2048);
	post_rx(f, D + 0xa000, 2048);
	vdrv_kick(&f->d, RX);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, 80);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(tap));
	assert_int_equal(src_len, 0);
	/* virtio_net_rx_kick: a frame that became pending outside the device. */
	post_rx(f, D + 0xb000, 2048);
	vdrv_kick(&f->d, RX);
	memset(src_frame, 0x5a, 64);
	src_len = 64;
	virtio_net_rx_kick(f->net);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 64);
	/* A pending frame larger than a buffer without MRG_RXBUF: dropped at the source. */
	post_rx(f, D + 0xc000, 40);
	vdrv_kick(&f->d, RX);
	src_len = 100;
	virtio_net_rx_kick(f->net);
	assert_int_equal(src_drops, 1);
	assert_int_equal(src_len, 0);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(virtio_net_stats(f->net).tx_intercepted, 2);
	assert_int_equal(virtio_net_stats(f->net).rx_injected, 3);
	assert_int_equal(virtio_net_stats(f->net).rx_dropped, 1);
	virtio_net_set_hooks(f->net, &(struct virtio_net_hooks){0});
}

/* With MRG_RXBUF a pending frame waits for enough buffers instead of being dropped. */
static void test_hooks_mergeable_waits(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	src_len = src_drops = 0;
	vdrv_start(&f->d, 2, F_MRG);
	virtio_net_set_hooks(f->net, &hooks);
	post_rx(f, D, 100);
	vdrv_kick(&f->d, RX);
	memset(src_frame, 0x77, sizeof(src_frame));
	src_len = 200;
	virtio_net_rx_kick(f->net);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(src_len, 200);
	post_rx(f, D + 0x1000, 200);
	vdrv_kick(&f->d, RX);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, 100);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, NET_HDR_LEN + 200 - 100);
	assert_int_equal(num_buffers(f, D), 2);
	assert_int_equal(src_drops, 0);
	virtio_net_set_hooks(f->net, &(struct virtio_net_hooks){0});
}

/* --- state --- */

static void save_section(struct state_buf *w, int (*save)(void *, struct state_buf *), void *o)
{
	state_buf_free(w);
	assert_int_equal(state_begin_section(w, "s", 1), 0);
	assert_int_equal(save(o, w), 0);
	assert_int_equal(state_end_section(w), 0);
}

static int load_section(const struct state_buf *w,
			int (*load)(void *, struct state_buf *, uint16_t), void *o,
			uint16_t version)
{
	struct state_buf r;
	uint16_t v;

	assert_int_equal(state_open(&r, w->data, w->len), 0);
	assert_int_equal(state_section(&r, "s", &v), 0);
	return load(o, &r, version);
}

static int mmio_save(void *o, struct state_buf *b)
{
	virtio_mmio_save(o, b);
	return 0;
}

static int mmio_load(void *o, struct state_buf *b, uint16_t v)
{
	return virtio_mmio_load(o, b, v, "virtio.0");
}

static int net_save(void *o, struct state_buf *b)
{
	return virtio_net_save(o, b);
}

static int net_load(void *o, struct state_buf *b, uint16_t v)
{
	return virtio_net_load(o, b, v);
}

/* A snapshot with a transmit chain held (the backend full): the restored device has the MAC and
 * sends the held frame on its own backend; the state saved again is the same. */
static void test_save_load(void **state)
{
	struct fx *a = *state, b = {0};
	struct state_buf w = {0}, w2 = {0};
	int small = 1;
	uint8_t mac_a[6], mac_b[6], got[4096];
	unsigned posted;
	uint32_t id, len;

	assert_int_equal(setsockopt(a->dev_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	vdrv_start(&a->d, 2, F_MRG);
	posted = tx_until_blocked(a, 3000, 12);
	assert_true(a->net->tx_held);
	vdrv_init_mem(&b.d, MEM);
	assert_int_equal(event_loop_init(&b.loop), 0);
	fx_create(&b);
	memcpy(b.d.ram, a->d.ram, MEM); /* guest memory travels as the memory file would */
	save_section(&w, mmio_save, a->d.t);
	assert_int_equal(load_section(&w, mmio_load, b.d.t, 1), 0);
	save_section(&w, net_save, a->net);
	assert_int_equal(load_section(&w, net_load, b.net, VIRTIO_NET_STATE_VERSION), 0);
	virtio_net_mac(a->net, mac_a);
	virtio_net_mac(b.net, mac_b);
	assert_memory_equal(mac_a, mac_b, 6);
	assert_int_equal(vdrv_cfg_rd(&b.d, 5, 1), mac_a[5]);
	assert_true(b.net->tx_held);
	save_section(&w2, net_save, b.net);
	assert_int_equal(w.len, w2.len);
	assert_memory_equal(w.data, w2.data, w.len);
	/* Restored: the held frame goes on b's backend. */
	while (vdrv_used(&a->d, TX, &id, &len))
		; /* those completed before the save */
	memcpy(b.d.q, a->d.q, sizeof(a->d.q));
	pthread_mutex_lock(&b.net->vd.lock);
	virtio_dev_restored(&b.net->vd);
	pthread_mutex_unlock(&b.net->vd.lock);
	assert_int_equal(peer_recv(&b, got, sizeof(got)), 3000);
	assert_memory_equal(got, vdrv_ptr(&b.d, D + (uint64_t)(posted - 1) * 0x1000), 3000);
	assert_true(vdrv_used(&b.d, TX, &id, &len));
	assert_int_equal(id, posted - 1);
	assert_false(b.net->tx_held);
	state_buf_free(&w);
	state_buf_free(&w2);
	fx_destroy(&b);
	vdrv_fini(&b.d);
	event_loop_destroy(&b.loop);
}

/* Every bad section is refused, the device unchanged. Payload: mac[6], held u8, head u16. */
static void test_load_refusals(void **state)
{
	struct fx *f = *state;
	struct state_buf w = {0};
	uint8_t mac[6];
	static const struct {
		size_t off;
		uint8_t val;
	} bad[] = {
	    {0, 0x07}, /* a multicast MAC */
	    {6, 2},    /* held flag */
	    {6, 1},    /* held, but nothing was popped */
	};

	vdrv_start(&f->d, 2, 0);
	virtio_net_mac(f->net, mac);
	save_section(&w, net_save, f->net);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t old = w.data[8 + bad[i].off];

		w.data[8 + bad[i].off] = bad[i].val;
		if (load_section(&w, net_load, f->net, 1) != -EINVAL)
			fail_msg("case %zu was accepted", i);
		w.data[8 + bad[i].off] = old;
	}
	assert_int_equal(load_section(&w, net_load, f->net, 2), -EINVAL); /* a newer version */
	w.data[4]--; /* the payload one byte short */
	assert_int_equal(load_section(&(struct state_buf){.data = w.data, .len = w.len - 1},
				      net_load, f->net, 1),
			 -EINVAL);
	w.data[4]++;
	assert_int_equal(load_section(&w, net_load, f->net, 1), 0);
	state_buf_free(&w);
}

/* A received frame the rate limiter holds: a save refuses, drain delivers it. */
static void test_drain_delivers_held_frame(void **state)
{
	struct fx *f = *state;
	struct state_buf w = {0};
	uint8_t frame[70];
	uint32_t id, len;

	tcfg.rx_rate = one_op_per_100ms;
	fx_recreate(f);
	vdrv_start(&f->d, 2, 0);
	post_rx(f, D, 2048);
	post_rx(f, D + 0x1000, 2048);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 1);
	peer_send(f, frame, sizeof(frame));
	peer_send(f, frame, sizeof(frame));
	vdrv_pump(&f->loop, 20);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_true(f->net->rx_held);
	assert_int_equal(state_begin_section(&w, "s", 1), 0);
	assert_int_equal(virtio_net_save(f->net, &w), -EBUSY);
	state_buf_free(&w);
	assert_int_equal(virtio_net_drain(f->net), 0);
	assert_false(f->net->rx_held);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(frame));
	save_section(&w, net_save, f->net);
	state_buf_free(&w);
}

/* Quiesced (a live migration's last phase), the device leaves its queues and backend alone: a
 * frame waiting in the backend is not read, one the guest transmits is not sent; resumed, both
 * go. */
static void test_quiesce(void **state)
{
	struct fx *f = *state;
	uint8_t frame[64], got[4096];
	uint32_t id, len;

	vdrv_start(&f->d, 2, 0);
	virtio_device_ops.quiesce(&f->net->vd, true);
	post_rx(f, D, 1600);
	vdrv_kick(&f->d, RX);
	make_frame(frame, sizeof(frame), 5);
	peer_send(f, frame, sizeof(frame));
	send_tx(f, D + 0x1000, 100, 6);
	vdrv_pump(&f->loop, 50);
	assert_false(vdrv_used(&f->d, RX, &id, &len));
	assert_false(vdrv_used(&f->d, TX, &id, &len));
	assert_true(peer_recv(f, got, sizeof(got)) < 0); /* nothing was sent */
	virtio_device_ops.quiesce(&f->net->vd, false);
	vdrv_pump(&f->loop, 50);
	assert_true(vdrv_used(&f->d, RX, &id, &len));
	assert_int_equal(len, sizeof(frame));
	assert_int_equal(peer_recv(f, got, sizeof(got)), 100);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
}

/* A device reset forgets what it holds; the device works after a new initialisation. */
static void test_reset(void **state)
{
	struct fx *f = *state;
	uint8_t got[4096];
	uint32_t id, len;

	start_blocked(f);
	vdrv_set_status(&f->d, 0);
	assert_false(f->net->tx_held);
	while (peer_recv(f, got, sizeof(got)) > 0)
		;
	vdrv_pump(&f->loop, 20);
	vdrv_start(&f->d, 2, 0);
	send_tx(f, D, 64, 1);
	assert_int_equal(peer_recv(f, got, sizeof(got)), 64);
	assert_true(vdrv_used(&f->d, TX, &id, &len));
	assert_int_equal(id, 0);
}

/* --- the TAP backend without privileges: names --- */

static void test_tap_names(void **state)
{
	char why[TAP_WHY_MAX];

	(void)state;
	assert_int_equal(tap_check_name("", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "empty"));
	assert_int_equal(tap_check_name("abcdefghijklmnop", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "abcdefghijklmnop"));
	assert_non_null(strstr(why, "15"));
	assert_int_equal(tap_check_name("abcdefghijklmno", why, sizeof(why)), 0);
	assert_int_equal(tap_check_name("t", why, sizeof(why)), 0);
	assert_int_equal(tap_open("", why, sizeof(why)), -EINVAL);
	assert_int_equal(tap_open("abcdefghijklmnop", why, sizeof(why)), -EINVAL);
}

/* Not a TAP: TUNSETOFFLOAD fails, so nothing is offered. */
static void test_tap_probe_on_socket(void **state)
{
	struct fx *f = *state;

	assert_int_equal(tap_probe_offloads(f->peer), 0);
	assert_true(tap_set_offload(f->peer, TUN_F_CSUM) < 0);
}

/* The board's error for a TAP it cannot open names the interface. */
static void test_board_add_bad_tap(void **state)
{
	static struct vm_config cfg;
	struct kiln_err err = {0};
	struct vm vm = {.cfg = &cfg, .err = &err};

	(void)state;
	assert_int_equal(virtio_net_board_add(&vm), 0); /* no interface: nothing to do */
	cfg.nr_nets = 1;
	strcpy(cfg.nets[0].id, "eth0");
	assert_int_equal(virtio_net_board_add(&vm), -EINVAL);
	assert_non_null(strstr(err.msg, "network interface eth0: "));
	assert_non_null(strstr(err.msg, "empty"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_identity),
	    T(test_config_space),
	    T(test_bad_config_refused),
	    T(test_offloads),
	    T(test_tx_frame_arrives_whole),
	    T(test_tx_largest),
	    T(test_tx_malformed),
	    T(test_tx_segments),
	    T(test_tx_backpressure),
	    T(test_tx_queue_reset_with_chain_held),
	    T(test_rx_without_mrg),
	    T(test_rx_too_big_without_mrg),
	    T(test_rx_mergeable),
	    T(test_rx_mergeable_largest),
	    T(test_rx_waits_for_buffers),
	    T(test_rx_mergeable_short_of_buffers),
	    T(test_rx_malformed_chains),
	    T(test_backend_gone),
	    T(test_tx_rate_limited),
	    T(test_tx_rate_limit_set_later),
	    T(test_rx_rate_limited),
	    T(test_hooks),
	    T(test_hooks_mergeable_waits),
	    T(test_save_load),
	    T(test_load_refusals),
	    T(test_drain_delivers_held_frame),
	    T(test_reset),
	    T(test_quiesce),
	    T(test_tap_names),
	    T(test_tap_probe_on_socket),
	    cmocka_unit_test(test_board_add_bad_tap),
	};

	signal(SIGPIPE, SIG_IGN); /* as kiln does (vmm_init): a gone peer is EPIPE */
	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

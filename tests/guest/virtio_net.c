/* virtio_net.c — kiln's virtio-net on a TAP, with the host's Linux on the other end. One part
 * per case (part=): basic (ARP and ping round trips), backpressure (no receive buffers during a
 * ping flood: what arrives later is bounded by the TAP's own queue, kiln buffered nothing),
 * oversize (frames too long, too short or headless on transmit; receive buffers too small, with
 * and without MRG_RXBUF: no byte past a buffer is written), malformed (loops, buffers outside RAM
 * and wrong directions on both queues: a used entry or DEVICE_NEEDS_RESET, then a reset works). */
#include "net.h"

/* Command line: ip=, host= (the guest's and the TAP's addresses), part=, and for backpressure
 * flood=N (echo requests sent) and qlen=N (the TAP's txqueuelen). */
#define WAIT_MS	    2000
#define QUIET_MS    500
#define OUTSIDE_RAM 0x7f0000000000ULL
#define GUARD	    0xa5
#define BIG_PAYLOAD 1000 /* an echo reply of 1042 bytes + 12 of header: 1054 */
#define TINY	    (NET_HDR_LEN + 64)
#define MRG_BUF	    112 /* 12 + 100: the 1054 bytes fill ten of them, the last 46 bytes */
#define MRG_SLOT    256 /* each MRG buffer's slot: the rest is guard */
#define MRG_NR	    16
#define FLOOD_PAYLD 1400

static struct vnet net;
static uint8_t host_mac[6];
static uint8_t frame[NET_RX_BUF];

static void need_host(void)
{
	if (!arp_resolve(&net, net.host_ip, host_mac, WAIT_MS))
		guest_fail("no ARP reply from the host (%u frames ignored)", net.ignored);
}

static bool reply_match(const uint8_t *f, uint32_t len, void *ctx)
{
	return icmp_is_reply(&net, f, len, *(uint16_t *)ctx);
}

/* A ping of payload bytes to the host: its reply must come back intact. */
static void ping_ok(uint16_t seq, uint32_t payload)
{
	static uint8_t req[NET_RX_BUF];

	vnet_send(&net, req, icmp_echo(&net, req, host_mac, seq, payload));
	if (!vnet_recv_match(&net, frame, sizeof(frame), WAIT_MS, reply_match, &seq))
		guest_fail("no echo reply %u from the host (%u frames ignored)", seq, net.ignored);
}

static bool guard_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != GUARD)
			return false;
	return true;
}

static bool needs_reset(void)
{
	return vdev_status(&net.dev) & VIRTIO_STATUS_NEEDS_RESET;
}

/* ---- basic -------------------------------------------------------------------------------- */

static void part_basic(void)
{
	vnet_start(&net, 0, 64);
	need_host();
	guest_printf("ARP: the host is at %x:%x:%x:%x:%x:%x\n", host_mac[0], host_mac[1],
		     host_mac[2], host_mac[3], host_mac[4], host_mac[5]);
	ping_ok(1, 56);
	ping_ok(2, 1400);
	guest_printf("basic: ARP and two pings (56 and 1400 bytes) answered by the host\n");
}

/* ---- backpressure ------------------------------------------------------------------------- */

static void part_backpressure(void)
{
	static uint8_t req[NET_RX_BUF];
	uint64_t flood, qlen;
	unsigned replies = 0, others = 0;
	uint32_t len;
	uint16_t seq = 100;

	GUEST_ASSERT(guest_cmdline_u64("flood", &flood) && guest_cmdline_u64("qlen", &qlen));
	vnet_start(&net, 0, 64);
	need_host();
	vnet_start(&net, 0, 0); /* no receive buffers from here on */
	len = icmp_echo(&net, req, host_mac, seq, FLOOD_PAYLD);
	guest_sample("flood-begin");
	vnet_send_many(&net, req, len, (unsigned)flood);
	guest_delay_ms(1000); /* the host's replies pile up at the TAP */
	guest_sample("flood-end");
	vnet_post(&net, 128);
	while ((len = vnet_recv(&net, frame, sizeof(frame), QUIET_MS)) != 0) {
		if (icmp_is_reply(&net, frame, len, seq))
			replies++;
		else
			others++;
	}
	guest_printf("backpressure: %u of %lu echo replies arrived, %u other frames (TAP queue "
		     "%lu)\n",
		     replies, flood, others, qlen);
	GUEST_ASSERT(replies >= 1);
	GUEST_ASSERT(replies + others <= qlen);
	need_host();
	ping_ok(101, 56);
	guest_printf("backpressure: ARP and ping work after the flood\n");
}

/* ---- oversize ----------------------------------------------------------------------------- */

/* Run a hand-made transmit chain (b, nb buffers): it must come back used, written length 0. */
static void tx_refused(const char *what, const struct vbuf *b, unsigned nb)
{
	uint32_t len = VQ_RUN(&net.tx, b, nb);

	GUEST_ASSERT(!needs_reset());
	GUEST_ASSERT_EQ(len, 0);
	guest_printf("tx %s: used, length 0\n", what);
}

static void oversize_tx(void)
{
	uint8_t *big = virtio_alloc(70000, 4096), *hdr = virtio_alloc(NET_HDR_LEN, 16);
	struct vbuf b[2] = {{hdr, NET_HDR_LEN, false}, {big, 70000, false}};

	arp_request(&net, big, net.host_ip); /* a real frame at its start */
	guest_sample("tx-begin");
	tx_refused("70000-byte frame", b, 2);
	b[1].len = 65551; /* one byte past the longest frame kiln takes (65550) */
	tx_refused("65551-byte frame", b, 2);
	b[0].len = 8;
	tx_refused("8 bytes of header only", b, 1);
	b[0].len = NET_HDR_LEN;
	tx_refused("header without a frame", b, 1);
	b[1].len = 6;
	tx_refused("6-byte frame", b, 2);
	b[1].len = 0;
	tx_refused("zero-length frame descriptor", b, 2);
	guest_sample("tx-end"); /* the runner: none of these reached the TAP */
}

/* No used entry for the tiny buffer within QUIET_MS, or one within it. Returns the length. */
static uint32_t tiny_outcome(const char *what, uint32_t room)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * QUIET_MS;
	uint32_t id, len;

	while (guest_rdtsc() < end)
		if (vq_poll(&net.rx, &id, &len)) {
			GUEST_ASSERT(len <= room);
			guest_printf("rx %s: used, length %u\n", what, len);
			return len;
		}
	guest_printf("rx %s: dropped (no used entry)\n", what);
	return 0;
}

/* Receive buffers smaller than the frame, no MRG_RXBUF: dropped or within the buffer. */
static void oversize_rx_tiny(void)
{
	uint8_t *area = virtio_alloc(4096, 4096), req[NET_RX_BUF];
	struct vbuf b = {area, 8, true};
	uint32_t id, len;
	uint16_t seq = 7;

	vnet_start(&net, 0, 0);
	memset(area, GUARD, 4096);
	GUEST_ASSERT(vq_add(&net.rx, &b, 1) >= 0);
	vq_kick(&net.rx);
	id = VQ_WAIT(&net.rx, &len);
	GUEST_ASSERT_EQ(id, 0);
	GUEST_ASSERT_EQ(len, 0);
	GUEST_ASSERT(guard_ok(area + 8, 4096 - 8));
	guest_printf("rx 8-byte buffer: used, length 0\n");

	b.len = TINY;
	GUEST_ASSERT(vq_add(&net.rx, &b, 1) >= 0);
	vq_kick(&net.rx);
	vnet_send(&net, req, icmp_echo(&net, req, host_mac, seq, BIG_PAYLOAD));
	if (tiny_outcome("1054 bytes for a 76-byte buffer", TINY) == 0) {
		GUEST_ASSERT(guard_ok(area + TINY, 4096 - TINY));
		vnet_send(&net, req, arp_request(&net, req, net.host_ip));
		len = tiny_outcome("ARP reply after it", TINY);
		GUEST_ASSERT_EQ(len, NET_HDR_LEN + ARP_FRAME_LEN);
		GUEST_ASSERT_EQ(get16(area + NET_HDR_LEN + ETH_HLEN + 6), 2);
	}
	GUEST_ASSERT(guard_ok(area + TINY, 4096 - TINY));
}

/* Take the frame spread over the first buffers (num_buffers of them) into out. */
static uint32_t mrg_collect(uint8_t *slots, uint8_t *out)
{
	uint32_t len, got = 0, nb = 0;

	for (uint32_t i = 0; i == 0 || i < nb; i++) {
		GUEST_ASSERT_EQ(VQ_WAIT(&net.rx, &len), i); /* posted in slot order */
		GUEST_ASSERT(len <= MRG_BUF);
		if (i == 0) {
			nb = slots[10] | (uint32_t)slots[11] << 8; /* num_buffers, little-endian */
			GUEST_ASSERT(nb >= 1 && nb <= MRG_NR);
			memcpy(out, slots + NET_HDR_LEN, len - NET_HDR_LEN);
			got = len - NET_HDR_LEN;
		} else {
			memcpy(out + got, slots + (size_t)i * MRG_SLOT, len);
			got += len;
		}
	}
	guest_printf("rx MRG: %u bytes in %u buffers\n", got + NET_HDR_LEN, nb);
	return got;
}

/* MRG_RXBUF: a frame across ten small buffers, then one longer than all that are left. */
static void oversize_rx_mrg(void)
{
	uint8_t *slots = virtio_alloc(MRG_SLOT * MRG_NR, 4096), req[NET_RX_BUF];
	static uint8_t out[NET_RX_BUF];
	uint32_t len;

	vnet_start(&net, VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF), 0);
	GUEST_ASSERT(net.features & VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF));
	memset(slots, GUARD, MRG_SLOT * MRG_NR);
	for (unsigned i = 0; i < MRG_NR; i++) {
		struct vbuf b = {slots + (size_t)i * MRG_SLOT, MRG_BUF, true};

		GUEST_ASSERT_EQ(vq_add(&net.rx, &b, 1), i);
	}
	vq_kick(&net.rx);
	vnet_send(&net, req, icmp_echo(&net, req, host_mac, 8, BIG_PAYLOAD));
	len = mrg_collect(slots, out);
	GUEST_ASSERT_EQ(len, ETH_HLEN + IP_HLEN + 8 + BIG_PAYLOAD);
	GUEST_ASSERT(icmp_is_reply(&net, out, len, 8));
	for (unsigned i = 0; i < MRG_NR; i++)
		GUEST_ASSERT(guard_ok(slots + (size_t)i * MRG_SLOT + MRG_BUF, MRG_SLOT - MRG_BUF));
	/* Six buffers left (672 bytes): the next reply cannot fit in all of them. */
	vnet_send(&net, req, icmp_echo(&net, req, host_mac, 9, BIG_PAYLOAD));
	tiny_outcome("MRG 1054 bytes for six 112-byte buffers", MRG_BUF);
	for (unsigned i = 0; i < MRG_NR; i++)
		GUEST_ASSERT(guard_ok(slots + (size_t)i * MRG_SLOT + MRG_BUF, MRG_SLOT - MRG_BUF));
}

static void part_oversize(void)
{
	vnet_start(&net, 0, 64);
	need_host();
	oversize_tx();
	need_host();
	oversize_rx_tiny();
	oversize_rx_mrg();
	vnet_start(&net, 0, 64);
	need_host();
	ping_ok(3, BIG_PAYLOAD);
	guest_printf("oversize: kiln wrote nothing past any buffer; ARP and ping work after\n");
}

/* ---- malformed ---------------------------------------------------------------------------- */

/*
 * Publish the hand-made chain at descriptor 0 (nr descriptors) on q and wait for a used entry
 * (written length 0) or NEEDS_RESET; then reset, and an ARP round trip must work.
 */
static void expect_refused(struct vq *q, const char *what, uint16_t nr)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * WAIT_MS;
	const char *outcome = NULL;
	uint32_t id, len;

	q->free_head = nr;
	q->nr_free = (uint16_t)(q->size - nr);
	vq_publish(q, 0, nr);
	vq_kick(q);
	while (!outcome) {
		if (vq_poll(q, &id, &len)) {
			GUEST_ASSERT_EQ(id, 0);
			if (len != 0)
				guest_fail("%s: used with length %u, expected 0", what, len);
			outcome = "used, length 0";
		} else if (needs_reset()) {
			outcome = "DEVICE_NEEDS_RESET";
		} else if (guest_rdtsc() > end) {
			guest_fail("%s: neither used nor NEEDS_RESET after %d ms (status %#x)",
				   what, WAIT_MS, vdev_status(&net.dev));
		}
	}
	guest_printf("%s: %s\n", what, outcome);
	vnet_start(&net, 0, 32);
	need_host();
}

static void malformed_tx(void)
{
	struct virtq_desc *d;
	uint8_t *hdr = virtio_alloc(NET_HDR_LEN, 16), *f = virtio_alloc(64, 64);

	arp_request(&net, f, net.host_ip);
	vnet_start(&net, 0, 32);
	d = net.tx.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, NET_HDR_LEN, VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)f, ARP_FRAME_LEN, VIRTQ_DESC_F_NEXT, 0};
	expect_refused(&net.tx, "tx descriptor loop", 2);

	d = net.tx.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, NET_HDR_LEN, VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){OUTSIDE_RAM, ARP_FRAME_LEN, 0, 0};
	expect_refused(&net.tx, "tx buffer outside guest memory", 2);

	guest_sample("dirty-tx-begin");
	d = net.tx.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, NET_HDR_LEN, VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)f, ARP_FRAME_LEN, VIRTQ_DESC_F_NEXT, 2};
	d[2] = (struct virtq_desc){(uint64_t)f + ARP_FRAME_LEN, 16, VIRTQ_DESC_F_WRITE, 0};
	net.tx.free_head = 3;
	net.tx.nr_free = (uint16_t)(net.tx.size - 3);
	vq_publish(&net.tx, 0, 3);
	vq_kick(&net.tx);
	{
		uint32_t len, id = VQ_WAIT(&net.tx, &len);

		GUEST_ASSERT_EQ(id, 0);
		GUEST_ASSERT_EQ(len, 0);
		GUEST_ASSERT(!needs_reset());
	}
	guest_sample("dirty-tx-end"); /* the runner: the frame did not reach the TAP */
	guest_printf("tx device-writable buffer: used, length 0\n");

	d = net.tx.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, NET_HDR_LEN,
				   VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)f, ARP_FRAME_LEN, 0, 0};
	expect_refused(&net.tx, "tx readable after writable", 2);
}

static void malformed_rx(void)
{
	struct virtq_desc *d;
	uint8_t *a = virtio_alloc(4096, 4096);

	/* The device reads the receive queue at once: after (re)activation it expects frames. */
	vnet_start(&net, 0, 0);
	d = net.rx.desc;
	d[0] = (struct virtq_desc){(uint64_t)a, 2048, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)a + 2048, 2048, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
				   0};
	expect_refused(&net.rx, "rx descriptor loop", 2);

	vnet_start(&net, 0, 0);
	d = net.rx.desc;
	d[0] = (struct virtq_desc){OUTSIDE_RAM, 2048, VIRTQ_DESC_F_WRITE, 0};
	expect_refused(&net.rx, "rx buffer outside guest memory", 1);

	vnet_start(&net, 0, 0);
	d = net.rx.desc;
	d[0] = (struct virtq_desc){(uint64_t)a, 64, VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)a + 64, 2048, VIRTQ_DESC_F_WRITE, 0};
	expect_refused(&net.rx, "rx device-readable buffer", 2);

	vnet_start(&net, 0, 0);
	d = net.rx.desc;
	d[0] = (struct virtq_desc){(uint64_t)a, 2048, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){(uint64_t)a + 2048, 64, 0, 0};
	expect_refused(&net.rx, "rx readable after writable", 2);
}

static void part_malformed(void)
{
	vnet_start(&net, 0, 32);
	need_host();
	malformed_tx();
	malformed_rx();
	ping_ok(4, 56);
	guest_printf("malformed: kiln survived 8 malformed chains; the device works after each "
		     "reset\n");
}

int main(void)
{
	char part[16];

	GUEST_ASSERT(guest_cmdline_get("part", part, sizeof(part)));
	vnet_open(&net);
	if (strcmp(part, "basic") == 0)
		part_basic();
	else if (strcmp(part, "backpressure") == 0)
		part_backpressure();
	else if (strcmp(part, "oversize") == 0)
		part_oversize();
	else if (strcmp(part, "malformed") == 0)
		part_malformed();
	else
		guest_fail("part=%s: basic, backpressure, oversize or malformed", part);
	return 0;
}

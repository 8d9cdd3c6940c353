/* net.c — the kit's virtio-net helpers: device bring-up, receive pool, transmit, frame builders,
 * the runner's SAMPLE handshake. */
#include "net.h"

#define COM1_RBR   0x3f8
#define COM1_LSR   0x3fd
#define LSR_DR	   0x01
#define SAMPLE_MS  10000
#define TX_BATCH   100
#define ECHO_ID	   0x6b6e /* "kn" */
#define ICMP_ECHO  8
#define ICMP_REPLY 0

const uint8_t eth_broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ---- bytes ---------------------------------------------------------------------------------- */

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		sum += get16(p);
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* ---- the device ----------------------------------------------------------------------------- */

void cmdline_ip(const char *key, uint32_t *ip)
{
	char s[32];
	const char *p = s;
	uint32_t v = 0;

	if (!guest_cmdline_get(key, s, sizeof(s)))
		guest_fail("no %s= on the command line", key);
	for (int i = 0; i < 4; i++) {
		uint32_t b = 0;

		if (*p < '0' || *p > '9')
			guest_fail("%s=%s is not a dotted quad", key, s);
		while (*p >= '0' && *p <= '9')
			b = b * 10 + (uint32_t)(*p++ - '0');
		if (b > 255 || (i < 3 && *p++ != '.'))
			guest_fail("%s=%s is not a dotted quad", key, s);
		v = v << 8 | b;
	}
	*ip = v;
}

void vnet_open(struct vnet *n)
{
	memset(n, 0, sizeof(*n));
	VDEV_FIND(VIRTIO_ID_NET, &n->dev);
	GUEST_ASSERT(n->dev.offered & VIRTIO_BIT(VIRTIO_NET_F_MAC));
	for (unsigned i = 0; i < 6; i++)
		n->mac[i] = vdev_config8(&n->dev, i);
	cmdline_ip("ip", &n->ip);
	cmdline_ip("host", &n->host_ip);
	n->pool = virtio_alloc((size_t)NET_RX_POOL * NET_RX_BUF, 4096);
	n->txbuf = virtio_alloc(NET_HDR_LEN + NET_TX_MAX, 4096);
}

void vnet_start(struct vnet *n, uint64_t want, unsigned post)
{
	n->features = vdev_init(&n->dev, want | VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&n->dev, &n->rx, NET_RXQ, NET_RX_POOL);
	vq_setup(&n->dev, &n->tx, NET_TXQ, NET_RX_POOL);
	vdev_driver_ok(&n->dev);
	for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
		n->buf_of_head[i] = -1;
	n->posted = 0;
	vnet_post(n, post);
}

/* Post pool buffer b: a chain of one device-writable descriptor. */
static void post_one(struct vnet *n, unsigned b)
{
	struct vbuf v = {n->pool + (size_t)b * NET_RX_BUF, NET_RX_BUF, true};
	int head = vq_add(&n->rx, &v, 1);

	if (head < 0)
		guest_fail("vnet: no free receive descriptor");
	n->buf_of_head[head] = (int16_t)b;
	n->posted++;
}

void vnet_post(struct vnet *n, unsigned count)
{
	bool kick = false;

	/* A buffer is free when no head maps to it: with at most NET_RX_POOL posted, the pool
	 * buffer with the posted count's index may be taken; search for a free one. */
	while (n->posted < count) {
		static bool busy[NET_RX_POOL];
		unsigned b = 0;

		memset(busy, 0, sizeof(busy));
		for (unsigned i = 0; i < VQ_MAX_SIZE; i++)
			if (n->buf_of_head[i] >= 0)
				busy[n->buf_of_head[i]] = true;
		while (busy[b])
			b++;
		post_one(n, b);
		kick = true;
	}
	if (kick)
		vq_kick(&n->rx);
}

void vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	struct vbuf b[2] = {{n->txbuf, NET_HDR_LEN, false}, {n->txbuf + NET_HDR_LEN, len, false}};

	GUEST_ASSERT(len <= NET_TX_MAX);
	memset(n->txbuf, 0, NET_HDR_LEN);
	memcpy(n->txbuf + NET_HDR_LEN, frame, len);
	VQ_RUN(&n->tx, b, len ? 2 : 1);
}

void vnet_send_many(struct vnet *n, const void *frame, uint32_t len, unsigned count)
{
	struct vbuf b[2] = {{n->txbuf, NET_HDR_LEN, false}, {n->txbuf + NET_HDR_LEN, len, false}};

	GUEST_ASSERT(len && len <= NET_TX_MAX);
	memset(n->txbuf, 0, NET_HDR_LEN);
	memcpy(n->txbuf + NET_HDR_LEN, frame, len);
	while (count) {
		unsigned k = count < TX_BATCH ? count : TX_BATCH;

		for (unsigned i = 0; i < k; i++)
			if (vq_add(&n->tx, b, 2) < 0)
				guest_fail("vnet: no free transmit descriptors");
		vq_kick(&n->tx);
		for (unsigned i = 0; i < k; i++)
			VQ_WAIT(&n->tx, NULL);
		count -= k;
	}
}

uint32_t vnet_recv(struct vnet *n, void *buf, uint32_t cap, unsigned ms)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * ms;
	uint32_t id, len, flen;
	int b;

	while (!vq_poll(&n->rx, &id, &len)) {
		if (guest_rdtsc() > end)
			return 0;
		guest_pause();
	}
	b = n->buf_of_head[id];
	if (b < 0)
		guest_fail("vnet: used id %u is no posted buffer", id);
	if (len < NET_HDR_LEN || len > NET_RX_BUF)
		guest_fail("vnet: used length %u for a %u-byte buffer", len, NET_RX_BUF);
	n->buf_of_head[id] = -1;
	n->posted--;
	flen = len - NET_HDR_LEN;
	memcpy(buf, n->pool + (size_t)b * NET_RX_BUF + NET_HDR_LEN, flen < cap ? flen : cap);
	post_one(n, (unsigned)b);
	vq_kick(&n->rx);
	return flen;
}

uint32_t vnet_recv_match(struct vnet *n, void *buf, uint32_t cap, unsigned ms, vnet_match_fn match,
			 void *ctx)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * ms;

	while (guest_rdtsc() < end) {
		uint32_t len = vnet_recv(n, buf, cap, 10);

		if (len && match(buf, len < cap ? len : cap, ctx))
			return len;
		if (len)
			n->ignored++;
	}
	return 0;
}

/* ---- frames --------------------------------------------------------------------------------- */

void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

void ip_header(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload)
{
	memset(ip, 0, IP_HLEN);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(IP_HLEN + payload));
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, IP_HLEN)));
}

uint32_t arp_request(const struct vnet *n, uint8_t *f, uint32_t target_ip)
{
	uint8_t *a = f + ETH_HLEN;

	eth_header(f, eth_broadcast, n->mac, ETH_P_ARP);
	put16(a, 1);
	put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, n->mac, 6);
	put32(a + 14, n->ip);
	memset(a + 18, 0, 6);
	put32(a + 24, target_ip);
	return ARP_FRAME_LEN;
}

struct arp_want {
	const struct vnet *n;
	uint32_t ip;
};

static bool is_arp_reply(const uint8_t *f, uint32_t len, void *ctx)
{
	const struct arp_want *w = ctx;
	const uint8_t *a = f + ETH_HLEN;

	return len >= ARP_FRAME_LEN && get16(f + 12) == ETH_P_ARP && get16(a + 6) == 2 &&
	       get32(a + 14) == w->ip && get32(a + 24) == w->n->ip &&
	       memcmp(a + 18, w->n->mac, 6) == 0 && memcmp(f, w->n->mac, 6) == 0;
}

bool arp_resolve(struct vnet *n, uint32_t ip, uint8_t mac[6], unsigned ms)
{
	struct arp_want w = {n, ip};
	uint8_t f[ARP_FRAME_LEN];
	static uint8_t r[NET_RX_BUF];

	vnet_send(n, f, arp_request(n, f, ip));
	if (!vnet_recv_match(n, r, sizeof(r), ms, is_arp_reply, &w))
		return false;
	memcpy(mac, r + ETH_HLEN + 8, 6);
	return true;
}

uint32_t icmp_echo(const struct vnet *n, uint8_t *f, const uint8_t *dmac, uint16_t seq,
		   uint32_t payload)
{
	uint8_t *icmp = f + ETH_HLEN + IP_HLEN;

	eth_header(f, dmac, n->mac, ETH_P_IP);
	ip_header(f + ETH_HLEN, n->ip, n->host_ip, IP_PROTO_ICMP, (uint16_t)(8 + payload));
	icmp[0] = ICMP_ECHO;
	icmp[1] = 0;
	put16(icmp + 2, 0);
	put16(icmp + 4, ECHO_ID);
	put16(icmp + 6, seq);
	for (uint32_t i = 0; i < payload; i++)
		icmp[8 + i] = (uint8_t)(i + seq);
	put16(icmp + 2, csum_fold(csum_add(0, icmp, 8 + payload)));
	return ETH_HLEN + IP_HLEN + 8 + payload;
}

bool icmp_is_reply(const struct vnet *n, const uint8_t *f, uint32_t len, uint16_t seq)
{
	const uint8_t *ip = f + ETH_HLEN, *icmp = ip + IP_HLEN;
	uint32_t payload;

	if (len < ETH_HLEN + IP_HLEN + 8 || get16(f + 12) != ETH_P_IP || ip[0] != 0x45 ||
	    ip[9] != IP_PROTO_ICMP || get32(ip + 12) != n->host_ip || get32(ip + 16) != n->ip ||
	    icmp[0] != ICMP_REPLY || get16(icmp + 4) != ECHO_ID || get16(icmp + 6) != seq)
		return false;
	payload = get16(ip + 2) - IP_HLEN - 8;
	if (ETH_HLEN + IP_HLEN + 8 + payload > len)
		return false;
	for (uint32_t i = 0; i < payload; i++)
		if (icmp[8 + i] != (uint8_t)(i + seq))
			return false;
	return csum_fold(csum_add(0, icmp, 8 + payload)) == 0;
}

/* ---- the runner ----------------------------------------------------------------------------- */

void guest_sample(const char *name)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * SAMPLE_MS;
	char c = 0;

	guest_printf("SAMPLE %s\n", name);
	while (c != '\n') {
		if (guest_rdtsc() > end)
			guest_fail("SAMPLE %s: no answer from the runner on COM1 in %d ms", name,
				   SAMPLE_MS);
		if (inb(COM1_LSR) & LSR_DR)
			c = (char)inb(COM1_RBR);
		else
			guest_pause();
	}
}

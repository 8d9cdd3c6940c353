/* net.h — the kit's virtio-net helpers: a polling driver on top of virtio.h (one receive pool,
 * one transmit staging buffer), Ethernet/ARP/IPv4/ICMP frame builders and the runner's SAMPLE
 * handshake. Linked into the network guests only (virtio_net, mmds_hostile). */
#ifndef GUEST_NET_H
#define GUEST_NET_H

#include "virtio.h"

#define VIRTIO_ID_NET	       1
#define VIRTIO_NET_F_MAC       5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define NET_RXQ		       0
#define NET_TXQ		       1
#define NET_HDR_LEN	       12   /* virtio_net_hdr_v1, num_buffers included */
#define NET_RX_BUF	       2048 /* each pool buffer: header + a 1514-byte frame, rounded */
#define NET_RX_POOL	       256  /* buffers in the receive pool (the queue's size) */
#define NET_TX_MAX	       (80 * 1024) /* the transmit staging buffer */

#define ETH_HLEN      14
#define ETH_P_IP      0x0800
#define ETH_P_ARP     0x0806
#define ARP_FRAME_LEN 42
#define IP_HLEN	      20
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17

/* struct virtio_net_hdr_v1 (§5.1.6). */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/* One virtio-net device and the guest's addresses (host byte order). */
struct vnet {
	struct vdev dev;
	struct vq rx, tx;
	uint64_t features;
	uint8_t mac[6];
	uint32_t ip, host_ip;		  /* from the command line: ip=, host= */
	uint8_t *pool;			  /* NET_RX_POOL buffers of NET_RX_BUF bytes */
	uint8_t *txbuf;			  /* NET_HDR_LEN zero bytes, then the frame being sent */
	int16_t buf_of_head[VQ_MAX_SIZE]; /* receive chain head -> pool buffer, -1 none */
	unsigned posted;		  /* receive buffers the device holds */
	unsigned ignored;		  /* frames vnet_recv_match skipped */
};

/* ---- bytes ---------------------------------------------------------------------------------- */
void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
uint16_t get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
/* The Internet checksum of p (n bytes) continuing the unfolded sum: fold it with csum_fold. */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n);
uint16_t csum_fold(uint32_t sum);

/* "a.b.c.d" from the command line's key= into *ip (host order); fails the test without it. */
void cmdline_ip(const char *key, uint32_t *ip);

/* ---- the device ----------------------------------------------------------------------------- */
/* Find the device, read the MAC, ip= and host= from the command line, allocate the pool and
 * the staging buffer (touched now: nothing new is touched later). Then vnet_start. */
void vnet_open(struct vnet *n);
/* Reset and initialise with want & offered (VERSION_1 always), fresh rings, DRIVER_OK; post
 * `post` pool buffers (0: none). Every earlier chain is forgotten. */
void vnet_start(struct vnet *n, uint64_t want, unsigned post);
/* Post pool buffers until `count` are posted (a chain of one device-writable descriptor each). */
void vnet_post(struct vnet *n, unsigned count);

/* Send frame (len bytes, no virtio header) as [header][frame]; wait for its used entry. */
void vnet_send(struct vnet *n, const void *frame, uint32_t len);
/* Send the same frame count times, in batches of up to 100 chains per notification. */
void vnet_send_many(struct vnet *n, const void *frame, uint32_t len, unsigned count);

/* Take one received frame within ms: copy up to cap bytes of it (header removed) to buf, give
 * the buffer back to the device and return the frame's length; 0 on timeout. Fails the test on
 * a used length below the header or above the buffer. */
uint32_t vnet_recv(struct vnet *n, void *buf, uint32_t cap, unsigned ms);
/* vnet_recv until match(frame, len, ctx) is true (others are counted in n->ignored); 0 on
 * timeout. */
typedef bool (*vnet_match_fn)(const uint8_t *frame, uint32_t len, void *ctx);
uint32_t vnet_recv_match(struct vnet *n, void *buf, uint32_t cap, unsigned ms, vnet_match_fn match,
			 void *ctx);

/* ---- frames --------------------------------------------------------------------------------- */
extern const uint8_t eth_broadcast[6];
void eth_header(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type);
/* An IPv4 header (20 bytes, DF, TTL 64) with its checksum, for payload bytes after it. */
void ip_header(uint8_t *ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t payload);
/* An ARP request from n for target_ip (broadcast): ARP_FRAME_LEN bytes. */
uint32_t arp_request(const struct vnet *n, uint8_t *f, uint32_t target_ip);
/* Send an ARP request for ip and wait for the reply from it: its MAC in mac. false on timeout. */
bool arp_resolve(struct vnet *n, uint32_t ip, uint8_t mac[6], unsigned ms);
/* An ICMP echo request to the host (dst MAC dmac) with payload bytes of a ramp from seq. */
uint32_t icmp_echo(const struct vnet *n, uint8_t *f, const uint8_t *dmac, uint16_t seq,
		   uint32_t payload);
/* Whether f is an ICMP echo reply from the host to n for seq, whose payload is echo's ramp. */
bool icmp_is_reply(const struct vnet *n, const uint8_t *f, uint32_t len, uint16_t seq);

/* ---- the runner ----------------------------------------------------------------------------- */
/* Print "SAMPLE <name>" and wait (10 s at most) for the runner's line on COM1: run-guest samples
 * kiln's memory and the TAP's counters then (its --rss-growth-max, --tap-rx-delta). */
void guest_sample(const char *name);

#endif

/* virtio_vsock.c — malformed and hostile packets to kiln's virtio-vsock, checked from inside: every
 * one gets exactly the answer kiln documents (docs/architecture.md, "virtio-vsock"), kiln keeps
 * running, and afterwards a well-formed connection to a host listener echoes.
 *
 * Command line: cid=N (the guest's CID, kiln's --vsock cid=N), echo=P (run-guest's echoing
 * listener at <uds>_P), hold=P (a listener that accepts and never reads), none=P (no listener).
 * The runner answers "SAMPLE NAME" lines (VmRSS samples around the REQUEST flood).
 *
 * Outcomes asserted (kiln): a transmit chain with a device-writable buffer, under 44 bytes, or
 * whose len is over 64 KiB or beyond the chain is used with length 0 and ignored; wrong CIDs are
 * dropped; a bad type or op, a REQUEST for an existing connection, a RESPONSE on an established
 * one: RST (the connection is gone); anything but RST for an unknown connection: RST; a receive
 * chain with a device-readable buffer or under 44 bytes is used with length 0; a descriptor loop
 * or a buffer outside RAM on either queue: DEVICE_NEEDS_RESET. Bounds: 4000 REQUESTs to no
 * listener get 4000 RSTs (VmRSS sampled); without receive buffers 1024 resets wait, the rest are
 * dropped; of 1100 REQUESTs to a listener 1023 are connected and 77 get RST, without kiln
 * connecting for them (run-guest counts the listener's connections); a device reset closes all.
 * "Ignored" is checked with a sentinel: a RW for an unknown connection sent next must get the very
 * next packet (its RST).
 */
#include "net.h" /* guest_sample */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define RXQ		0
#define TXQ		1
#define EVQ		2
#define QSIZE		256
#define HDR		44
#define RX_PAYLOAD	4096
#define RXN		128 /* receive buffers posted */
#define HOST_CID	2
#define KILN_BUF	(256u << 10) /* buf_alloc kiln advertises */
#define PKT_MAX		(64u << 10)
#define RSTQ_MAX	1024 /* resets kiln queues without receive buffers */
#define OUTSIDE_RAM	0x7f0000000000ULL
#define WAIT_MS		2000

#define TYPE_STREAM	  1
#define OP_REQUEST	  1
#define OP_RESPONSE	  2
#define OP_RST		  3
#define OP_SHUTDOWN	  4
#define OP_RW		  5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7

struct vhdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

_Static_assert(sizeof(struct vhdr) == HDR, "virtio_vsock_hdr is 44 bytes");

struct pkt {
	struct vhdr h;
	uint8_t data[RX_PAYLOAD];
};

static struct vdev dev;
static struct vq rxq, txq, evq;
static uint8_t *rxbuf[RXN];
static int rxbuf_of[QSIZE]; /* receive head -> rxbuf index */
static struct vhdr *txhdr;  /* QSIZE header slots */
static unsigned txslot;
static uint8_t *payload; /* PKT_MAX + 4096 bytes for transmit payloads */
static uint64_t cid, port_echo, port_hold, port_none;
static uint32_t sentinel_port = 40000;

/* ---- the device ------------------------------------------------------------------------------ */

static void rx_post(int i)
{
	struct vbuf b = {rxbuf[i], HDR + RX_PAYLOAD, true};
	int head = vq_add(&rxq, &b, 1);

	GUEST_ASSERT(head >= 0);
	rxbuf_of[head] = i;
}

/* Reset and initialise; fresh rings (the allocator never frees). With pool, post the receive
 * buffers too. */
static void start(bool pool)
{
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &rxq, RXQ, QSIZE);
	vq_setup(&dev, &txq, TXQ, QSIZE);
	vq_setup(&dev, &evq, EVQ, 4);
	vdev_driver_ok(&dev);
	GUEST_ASSERT_EQ(vdev_config64(&dev, 0), cid);
	for (int i = 0; i < QSIZE; i++)
		rxbuf_of[i] = -1;
	if (pool) {
		for (int i = 0; i < RXN; i++)
			rx_post(i);
		vq_kick(&rxq);
	}
}

static void post_pool(void)
{
	for (int i = 0; i < RXN; i++)
		rx_post(i);
	vq_kick(&rxq);
}

static struct vhdr hdr(uint32_t src_port, uint32_t dst_port, uint16_t op)
{
	return (struct vhdr){.src_cid = cid,
			     .dst_cid = HOST_CID,
			     .src_port = src_port,
			     .dst_port = dst_port,
			     .type = TYPE_STREAM,
			     .op = op,
			     .buf_alloc = 1u << 20,
			     .fwd_cnt = 0};
}

/* Queue h (+ len bytes of payload in a second descriptor) without kicking. */
static void tx_queue(struct vhdr h, uint32_t len)
{
	struct vhdr *slot = &txhdr[txslot++ % QSIZE];
	struct vbuf b[2] = {{slot, HDR, false}, {payload, len, false}};

	*slot = h;
	GUEST_ASSERT(vq_add(&txq, b, len ? 2 : 1) >= 0);
}

/* Wait for n transmit chains to be used, each with length 0. */
static void tx_reap(unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint32_t len;

		VQ_WAIT(&txq, &len);
		GUEST_ASSERT_EQ(len, 0);
	}
}

static void tx(struct vhdr h, uint32_t len)
{
	tx_queue(h, len);
	vq_kick(&txq);
	tx_reap(1);
}

/* The next packet for the guest (within ms), checked for kiln's constant fields; the buffer is
 * posted again. */
static void rx_get_at(struct pkt *p, unsigned ms, int line)
{
	uint32_t len, head = vq_wait_at(&rxq, &len, ms, __FILE__, line);
	int i;

	GUEST_ASSERT(head < QSIZE && rxbuf_of[head] >= 0);
	i = rxbuf_of[head];
	rxbuf_of[head] = -1;
	if (len < HDR)
		guest_fail("line %d: receive buffer used with length %u", line, len);
	memcpy(&p->h, rxbuf[i], HDR);
	if (len != HDR + p->h.len)
		guest_fail("line %d: used length %u for a packet of len %u", line, len, p->h.len);
	memcpy(p->data, rxbuf[i] + HDR, p->h.len);
	if (p->h.src_cid != HOST_CID || p->h.dst_cid != cid || p->h.type != TYPE_STREAM)
		guest_fail("line %d: packet cids %lu->%lu type %u", line, p->h.src_cid,
			   p->h.dst_cid, p->h.type);
	rx_post(i);
	vq_kick(&rxq);
}
#define RX_GET(p, ms) rx_get_at((p), (ms), __LINE__)

/* The next packet must be op from host port src to guest port dst. */
static void expect_at(struct pkt *p, uint16_t op, uint32_t src, uint32_t dst, int line)
{
	rx_get_at(p, WAIT_MS, line);
	if (p->h.op != op || p->h.src_port != src || p->h.dst_port != dst)
		guest_fail("line %d: got op %u %u->%u (len %u flags %u), expected op %u %u->%u",
			   line, p->h.op, p->h.src_port, p->h.dst_port, p->h.len, p->h.flags, op,
			   src, dst);
}
#define EXPECT(p, op, src, dst) expect_at((p), (op), (src), (dst), __LINE__)

/* Nothing came back for what was sent before: a RW for an unknown connection gets the next
 * packet, its RST (with kiln's buf_alloc and fwd_cnt 0). */
static void sentinel_at(int line)
{
	struct pkt p;
	uint32_t port = sentinel_port++;

	tx(hdr(port, (uint32_t)port_none, OP_RW), 0);
	expect_at(&p, OP_RST, (uint32_t)port_none, port, line);
	if (p.h.len || p.h.buf_alloc != KILN_BUF || p.h.fwd_cnt || p.h.flags)
		guest_fail("line %d: RST len %u buf_alloc %u fwd_cnt %u flags %u", line, p.h.len,
			   p.h.buf_alloc, p.h.fwd_cnt, p.h.flags);
}
#define SENTINEL() sentinel_at(__LINE__)

/* A connection from guest port gp to host port hp: REQUEST, RESPONSE. */
static void connect_at(uint32_t gp, uint32_t hp, int line)
{
	struct pkt p;

	tx(hdr(gp, hp, OP_REQUEST), 0);
	expect_at(&p, OP_RESPONSE, hp, gp, line);
	if (p.h.buf_alloc != KILN_BUF || p.h.fwd_cnt || p.h.len)
		guest_fail("line %d: RESPONSE buf_alloc %u fwd_cnt %u", line, p.h.buf_alloc,
			   p.h.fwd_cnt);
}
#define CONNECT(gp, hp) connect_at((gp), (hp), __LINE__)

/* ---- before DRIVER_OK ------------------------------------------------------------------------ */

/*
 * Receive buffers and a REQUEST (to nobody) made available before DRIVER_OK, without a
 * notification (§3.1.1 forbids one before DRIVER_OK): kiln takes them when the device goes live
 * and answers RST. The status write arrives on a vCPU thread, whose seccomp filter allows no
 * socket: guest_fuzz found kiln stopping there ("vcpu 0 thread made a system call its filter
 * forbids: socket") when it connected from that thread.
 */
static void request_before_driver_ok(void)
{
	uint32_t port = sentinel_port++;
	struct pkt p;

	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &rxq, RXQ, QSIZE);
	vq_setup(&dev, &txq, TXQ, QSIZE);
	vq_setup(&dev, &evq, EVQ, 4);
	for (int i = 0; i < QSIZE; i++)
		rxbuf_of[i] = -1;
	for (int i = 0; i < RXN; i++)
		rx_post(i);
	tx_queue(hdr(port, (uint32_t)port_none, OP_REQUEST), 0);
	vdev_driver_ok(&dev);
	tx_reap(1);
	EXPECT(&p, OP_RST, (uint32_t)port_none, port);
	guest_printf("REQUEST made available before DRIVER_OK: RST once live\n");
}

/* ---- malformed receive chains ---------------------------------------------------------------- */

static void rx_malformed(void)
{
	uint8_t *b = virtio_alloc(HDR + RX_PAYLOAD, 64), *r = virtio_alloc(64, 64);
	/* a device-readable buffer before room enough for any packet; a readable one alone; 43
	 * writable bytes */
	struct vbuf readable[2] = {{r, 64, false}, {b, HDR + RX_PAYLOAD, true}},
		    only_readable = {b, HDR + RX_PAYLOAD, false}, shortb = {b, HDR - 1, true};
	int h[3];
	uint32_t id, len;

	/* fresh queues, nothing posted: the bad chains are the only ones */
	start(false);
	memset(b, 0xa5, HDR + RX_PAYLOAD);
	memset(r, 0x5a, 64);
	h[0] = vq_add(&rxq, readable, 2);
	h[1] = vq_add(&rxq, &only_readable, 1);
	h[2] = vq_add(&rxq, &shortb, 1);
	vq_kick(&rxq);
	tx(hdr(100, (uint32_t)port_none, OP_RW), 0); /* owes an RST: kiln takes receive chains */
	for (int i = 0; i < 3; i++) {
		id = VQ_WAIT(&rxq, &len);
		GUEST_ASSERT_EQ(id, (uint32_t)h[i]);
		GUEST_ASSERT_EQ(len, 0);
	}
	for (int i = 0; i < HDR + RX_PAYLOAD; i++)
		GUEST_ASSERT_EQ(b[i], 0xa5);
	for (int i = 0; i < 64; i++)
		GUEST_ASSERT_EQ(r[i], 0x5a);
	guest_printf("rx device-readable buffer (before a writable one, or alone): used, length 0, "
		     "untouched\n");
	guest_printf("rx 43-byte buffer: used, length 0\n");
	post_pool(); /* the RST waited for a good buffer */
	{
		struct pkt p;

		EXPECT(&p, OP_RST, (uint32_t)port_none, 100);
	}
	SENTINEL();
}

/* ---- malformed transmit chains --------------------------------------------------------------- */

/* Add the chain b[n] to the transmit queue; it must be used with length 0. Then nothing may have
 * come back: the sentinel's RST is next. */
static void tx_refused(const char *what, const struct vbuf *b, unsigned n)
{
	GUEST_ASSERT(vq_add(&txq, b, n) >= 0);
	vq_kick(&txq);
	tx_reap(1);
	SENTINEL();
	guest_printf("tx %s: used, length 0, ignored\n", what);
}

static void tx_malformed(void)
{
	struct vhdr *h = virtio_alloc(HDR, 64);
	uint8_t *big = virtio_alloc(PKT_MAX + 64, 64);

	/* Every header below is a RW for an unknown connection: were it taken, an RST would come.
	 */
	*h = hdr(200, (uint32_t)port_none, OP_RW);
	{
		struct vbuf b[1] = {{h, HDR - 1, false}};

		tx_refused("43-byte chain", b, 1);
	}
	{
		struct vbuf b[2] = {{h, 20, false}, {h, 20, false}};

		tx_refused("40 bytes in two descriptors", b, 2);
	}
	{
		struct vbuf b[2] = {{h, HDR, false}, {payload, 16, true}};

		h->len = 0;
		tx_refused("device-writable buffer", b, 2);
	}
	{
		struct vbuf b[1] = {{h, HDR, true}};

		tx_refused("device-writable header", b, 1);
	}
	{
		struct vbuf b[2] = {{h, HDR, false}, {payload, 50, false}};

		h->len = 51;
		tx_refused("len 51 beyond a 50-byte payload", b, 2);
	}
	{
		struct vbuf b[2] = {{h, HDR, false}, {big, PKT_MAX + 64, false}};

		h->len = PKT_MAX + 1;
		tx_refused("len 65537 (over 64 KiB)", b, 2);
		h->len = 0xffffffffu;
		tx_refused("len 0xffffffff", b, 2);
	}
	{
		/* the boundary: len exactly 64 KiB is a packet (RW for an unknown connection: RST)
		 */
		struct vbuf b[2] = {{h, HDR, false}, {big, PKT_MAX, false}};
		struct pkt p;

		h->len = PKT_MAX;
		GUEST_ASSERT(vq_add(&txq, b, 2) >= 0);
		vq_kick(&txq);
		tx_reap(1);
		EXPECT(&p, OP_RST, (uint32_t)port_none, 200);
		guest_printf("tx len 65536: taken (RST for its unknown connection)\n");
	}
	{
		/* a header split over three descriptors is fine */
		struct vbuf b[3] = {
		    {h, 10, false}, {(uint8_t *)h + 10, 30, false}, {(uint8_t *)h + 40, 4, false}};
		struct pkt p;

		*h = hdr(201, (uint32_t)port_none, OP_CREDIT_REQUEST);
		GUEST_ASSERT(vq_add(&txq, b, 3) >= 0);
		vq_kick(&txq);
		tx_reap(1);
		EXPECT(&p, OP_RST, (uint32_t)port_none, 201);
	}
}

/* ---- addressing, types, operations ----------------------------------------------------------- */

static void bad_addresses(void)
{
	struct pkt p;
	struct vhdr h;

	h = hdr(300, (uint32_t)port_none, OP_RW);
	h.src_cid = cid + 1;
	tx(h, 0);
	SENTINEL();
	h = hdr(301, (uint32_t)port_none, OP_RW);
	h.dst_cid = cid; /* to itself */
	tx(h, 0);
	SENTINEL();
	h = hdr(302, (uint32_t)port_none, OP_REQUEST);
	h.dst_cid = 1;
	tx(h, 0);
	SENTINEL();
	h = hdr(303, (uint32_t)port_echo, OP_REQUEST);
	h.src_cid = 0xffffffffull << 32 | cid; /* the high half counts too */
	tx(h, 0);
	SENTINEL();
	guest_printf("wrong src_cid / dst_cid: dropped (4 packets)\n");

	/* unknown connection: bad type, bad op, RESPONSE, CREDIT_*: RST; RST: nothing */
	h = hdr(310, (uint32_t)port_none, OP_REQUEST);
	h.type = 2; /* SEQPACKET: not offered */
	tx(h, 0);
	EXPECT(&p, OP_RST, (uint32_t)port_none, 310);
	h = hdr(311, (uint32_t)port_none, 99);
	tx(h, 0);
	EXPECT(&p, OP_RST, (uint32_t)port_none, 311);
	h = hdr(312, (uint32_t)port_none, 0);
	tx(h, 0);
	EXPECT(&p, OP_RST, (uint32_t)port_none, 312);
	tx(hdr(313, (uint32_t)port_echo, OP_RESPONSE), 0);
	EXPECT(&p, OP_RST, (uint32_t)port_echo, 313);
	tx(hdr(314, (uint32_t)port_echo, OP_CREDIT_UPDATE), 0);
	EXPECT(&p, OP_RST, (uint32_t)port_echo, 314);
	tx(hdr(315, (uint32_t)port_echo, OP_SHUTDOWN), 0);
	EXPECT(&p, OP_RST, (uint32_t)port_echo, 315);
	/* RW with data on a connection that does not exist: RST, no data taken */
	memset(payload, 'x', 100);
	h = hdr(316, (uint32_t)port_echo, OP_RW);
	h.len = 100;
	tx(h, 100);
	EXPECT(&p, OP_RST, (uint32_t)port_echo, 316);
	tx(hdr(317, (uint32_t)port_echo, OP_RST), 0);
	SENTINEL();
	/* a REQUEST to a port nobody listens on: RST */
	tx(hdr(318, (uint32_t)port_none, OP_REQUEST), 0);
	EXPECT(&p, OP_RST, (uint32_t)port_none, 318);
	guest_printf("unknown connection: type 2, op 99, op 0, RESPONSE, CREDIT_UPDATE, SHUTDOWN, "
		     "RW: RST; RST: ignored; REQUEST to no listener: RST\n");

	/* on an established connection: each of these resets it (then a RW gets RST: it is gone) */
	static const struct {
		const char *what;
		uint16_t type, op;
	} kill[] = {
	    {"REQUEST for an existing connection", TYPE_STREAM, OP_REQUEST},
	    {"op 99", TYPE_STREAM, 99},
	    {"type 2", 2, OP_RW},
	    {"RESPONSE after the handshake", TYPE_STREAM, OP_RESPONSE},
	};
	for (unsigned i = 0; i < sizeof(kill) / sizeof(kill[0]); i++) {
		uint32_t gp = 400 + i;

		CONNECT(gp, (uint32_t)port_echo);
		h = hdr(gp, (uint32_t)port_echo, kill[i].op);
		h.type = kill[i].type;
		tx(h, 0);
		EXPECT(&p, OP_RST, (uint32_t)port_echo, gp);
		tx(hdr(gp, (uint32_t)port_echo, OP_RW), 0);
		EXPECT(&p, OP_RST, (uint32_t)port_echo, gp);
		guest_printf("established, %s: RST, connection gone\n", kill[i].what);
	}
}

/* ---- credit ---------------------------------------------------------------------------------- */

/* Ask for kiln's credit on connection gp -> hp: CREDIT_REQUEST, then every packet for 200 ms
 * more (kiln may also have sent CREDIT_UPDATEs of its own); returns the last fwd_cnt. */
static uint32_t credit_packet(struct pkt *p, uint32_t gp, uint32_t hp, uint32_t tx_cnt)
{
	if (p->h.op != OP_CREDIT_UPDATE || p->h.src_port != hp || p->h.dst_port != gp)
		guest_fail("credit: got op %u %u->%u", p->h.op, p->h.src_port, p->h.dst_port);
	GUEST_ASSERT_EQ(p->h.buf_alloc, KILN_BUF);
	GUEST_ASSERT(tx_cnt - p->h.fwd_cnt <= KILN_BUF);
	return p->h.fwd_cnt;
}

static uint32_t fwd_cnt_of(uint32_t gp, uint32_t hp, uint32_t tx_cnt)
{
	uint64_t end;
	uint32_t fwd;
	struct pkt p;

	tx(hdr(gp, hp, OP_CREDIT_REQUEST), 0);
	RX_GET(&p, WAIT_MS);
	fwd = credit_packet(&p, gp, hp, tx_cnt);
	end = guest_rdtsc() + guest_tsc_per_ms() * 200;
	while (guest_rdtsc() < end) {
		if (__atomic_load_n(&rxq.used->idx, __ATOMIC_ACQUIRE) == rxq.last_used) {
			guest_pause();
			continue;
		}
		RX_GET(&p, WAIT_MS);
		fwd = credit_packet(&p, gp, hp, tx_cnt);
	}
	return fwd;
}

/* Send n bytes of RW on gp -> hp in packets of at most 64 KiB. */
static void write_n(uint32_t gp, uint32_t hp, uint32_t n)
{
	while (n) {
		uint32_t k = n < PKT_MAX ? n : PKT_MAX;
		struct vhdr h = hdr(gp, hp, OP_RW);

		h.len = k;
		tx(h, k);
		n -= k;
	}
}

static void credit_overrun(void)
{
	uint32_t gp = 500, hp = (uint32_t)port_hold, tx_cnt = 0, fwd, credit;
	struct pkt p;

	CONNECT(gp, hp);
	/* The host peer never reads: fill its socket and then kiln's buffer until no credit is left
	 */
	for (int round = 0;; round++) {
		GUEST_ASSERT(round < 64);
		fwd = fwd_cnt_of(gp, hp, tx_cnt);
		credit = KILN_BUF - (tx_cnt - fwd);
		if (credit == 0)
			break;
		write_n(gp, hp, credit);
		tx_cnt += credit;
	}
	guest_printf("credit: %u bytes sent, %u forwarded, %u buffered by kiln: no credit left\n",
		     tx_cnt, fwd, tx_cnt - fwd);
	GUEST_ASSERT(tx_cnt - fwd == KILN_BUF);
	/* a zero-length RW within the credit is fine; one byte beyond it resets the connection */
	tx(hdr(gp, hp, OP_RW), 0);
	SENTINEL();
	{
		struct vhdr h = hdr(gp, hp, OP_RW);

		h.len = 1;
		tx(h, 1);
	}
	EXPECT(&p, OP_RST, hp, gp);
	tx(hdr(gp, hp, OP_CREDIT_REQUEST), 0);
	EXPECT(&p, OP_RST, hp, gp);
	guest_printf("credit: one byte beyond it: RST, connection gone\n");
}

/* ---- floods ---------------------------------------------------------------------------------- */

#define FLOOD	    4000
#define FLOOD_BATCH 100

static void request_flood(void)
{
	struct pkt p;

	guest_sample("flood-begin");
	for (unsigned i = 0; i < FLOOD; i += FLOOD_BATCH) {
		for (unsigned k = 0; k < FLOOD_BATCH; k++)
			tx_queue(hdr(10000 + i + k, (uint32_t)port_none, OP_REQUEST), 0);
		vq_kick(&txq);
		tx_reap(FLOOD_BATCH);
		for (unsigned k = 0; k < FLOOD_BATCH; k++)
			EXPECT(&p, OP_RST, (uint32_t)port_none, 10000 + i + k);
	}
	guest_sample("flood-end");
	SENTINEL();
	guest_printf("REQUEST flood to a port nobody listens on: %u RSTs, in order\n", FLOOD);
}

/* No receive buffer while 1100 REQUESTs go out: kiln keeps 1024 resets and drops the rest. */
static void rst_queue_bound(void)
{
	const unsigned n = RSTQ_MAX + 76;
	struct pkt p;

	start(false);
	for (unsigned i = 0; i < n; i += 100) {
		unsigned m = n - i < 100 ? n - i : 100;

		for (unsigned k = 0; k < m; k++)
			tx_queue(hdr(20000 + i + k, (uint32_t)port_none, OP_REQUEST), 0);
		vq_kick(&txq);
		tx_reap(m);
	}
	post_pool();
	for (unsigned i = 0; i < RSTQ_MAX; i++)
		EXPECT(&p, OP_RST, (uint32_t)port_none, 20000 + i);
	SENTINEL(); /* the 76 others were dropped, not delayed */
	guest_printf("%u REQUESTs without a receive buffer: %u RSTs, %u dropped\n", n, RSTQ_MAX,
		     n - RSTQ_MAX);
}

/* 1100 REQUESTs to the echo listener: kiln keeps at most 1023 connections, the rest get RST
 * (within a batch the queued resets come before the RESPONSEs); a device reset closes them all. */
#define CONN_MAX 1023

static void connection_limit(void)
{
	const unsigned n = CONN_MAX + 77, batch = 100;
	static uint8_t seen[100];
	struct pkt p;

	guest_sample("conns-begin");
	for (unsigned i = 0; i < n; i += batch) {
		unsigned m = n - i < batch ? n - i : batch;

		for (unsigned k = 0; k < m; k++)
			tx_queue(hdr(30000 + i + k, (uint32_t)port_echo, OP_REQUEST), 0);
		vq_kick(&txq);
		tx_reap(m);
		memset(seen, 0, sizeof(seen));
		for (unsigned k = 0; k < m; k++) {
			uint32_t idx;
			uint16_t want;

			RX_GET(&p, WAIT_MS);
			idx = p.h.dst_port - 30000;
			GUEST_ASSERT(p.h.src_port == port_echo && idx >= i && idx < i + m);
			GUEST_ASSERT_EQ(seen[idx - i], 0);
			seen[idx - i] = 1;
			want = idx < CONN_MAX ? OP_RESPONSE : OP_RST;
			if (p.h.op != want)
				guest_fail("REQUEST %u: op %u, expected %u", idx, p.h.op, want);
		}
	}
	guest_sample("conns-end");
	SENTINEL();
	guest_printf("%u REQUESTs to a listener: %u connections, %u RSTs\n", n, CONN_MAX,
		     n - CONN_MAX);
	start(true); /* closes all 1023 */
	CONNECT(31999, (uint32_t)port_echo);
	tx(hdr(31999, (uint32_t)port_echo, OP_RST), 0);
	SENTINEL();
	guest_printf("after a device reset: a new connection works\n");
}

/* ---- chains kiln cannot walk: DEVICE_NEEDS_RESET --------------------------------------------- */

static void expect_needs_reset(const char *what)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * WAIT_MS;
	uint32_t id, len;

	while (!(vdev_status(&dev) & VIRTIO_STATUS_NEEDS_RESET)) {
		if (vq_poll(&rxq, &id, &len) && rxbuf_of[id] < 0)
			guest_fail("%s: receive chain %u used (length %u)", what, id, len);
		if (guest_rdtsc() > end)
			guest_fail("%s: no DEVICE_NEEDS_RESET after %d ms (status %#x)", what,
				   WAIT_MS, vdev_status(&dev));
		guest_pause();
	}
	guest_printf("%s: DEVICE_NEEDS_RESET\n", what);
	start(true);
	SENTINEL(); /* a reset works */
}

static void unwalkable(void)
{
	struct vhdr *h = virtio_alloc(HDR, 64);
	uint8_t *b = virtio_alloc(HDR + RX_PAYLOAD, 64);

	*h = hdr(600, (uint32_t)port_none, OP_RW);
	/* transmit: a loop 0 -> 1 -> 0 on fresh rings */
	start(true);
	txq.desc[0] = (struct virtq_desc){(uint64_t)h, HDR, VIRTQ_DESC_F_NEXT, 1};
	txq.desc[1] = (struct virtq_desc){(uint64_t)payload, 16, VIRTQ_DESC_F_NEXT, 0};
	txq.free_head = 2;
	txq.nr_free = (uint16_t)(txq.size - 2);
	vq_publish(&txq, 0, 2);
	vq_kick(&txq);
	expect_needs_reset("tx descriptor loop");
	{
		struct vbuf v[2] = {{h, HDR, false}, {(void *)OUTSIDE_RAM, 16, false}};

		h->len = 16;
		GUEST_ASSERT(vq_add(&txq, v, 2) >= 0);
		vq_kick(&txq);
		expect_needs_reset("tx buffer outside guest memory");
	}
	/* receive: the bad chain is the only one; a RW for an unknown connection makes kiln take it
	 */
	start(false);
	rxq.desc[0] =
	    (struct virtq_desc){(uint64_t)b, HDR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1};
	rxq.desc[1] = (struct virtq_desc){(uint64_t)b + HDR, RX_PAYLOAD,
					  VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0};
	rxq.free_head = 2;
	rxq.nr_free = (uint16_t)(rxq.size - 2);
	vq_publish(&rxq, 0, 2);
	vq_kick(&rxq);
	*h = hdr(601, (uint32_t)port_none, OP_RW);
	tx(*h, 0);
	expect_needs_reset("rx descriptor loop");
	start(false);
	{
		struct vbuf v = {(void *)OUTSIDE_RAM, HDR + RX_PAYLOAD, true};

		GUEST_ASSERT(vq_add(&rxq, &v, 1) >= 0);
		vq_kick(&rxq);
		tx(hdr(602, (uint32_t)port_none, OP_RW), 0);
		expect_needs_reset("rx buffer outside guest memory");
	}
}

/* ---- host-initiated connections (the runner's CONNECT client) ------------------------------- */

#define HOST_PORT0 (1u << 30) /* kiln's first host port for host-initiated connections */

/* The runner connects to kiln's socket and sends "CONNECT port\n" (a bad line for badline). */
static void runner_connect(unsigned port, const char *tag)
{
	char name[48];

	guest_snprintf(name, sizeof(name), "connect:%u:%s", port, tag);
	guest_sample(name);
}

static void host_initiated(void)
{
	struct vhdr h;
	struct pkt p;

	/* a RW instead of RESPONSE: RST, and the host peer is closed without "OK" */
	runner_connect(6000, "refused");
	EXPECT(&p, OP_REQUEST, HOST_PORT0, 6000);
	GUEST_ASSERT_EQ(p.h.buf_alloc, KILN_BUF);
	tx(hdr(6000, HOST_PORT0, OP_RW), 0);
	EXPECT(&p, OP_RST, HOST_PORT0, 6000);
	/* a CONNECT line kiln cannot parse: nothing reaches the guest */
	runner_connect(6001, "badline");
	guest_delay_ms(100);
	SENTINEL();
	/* accepted: "OK <port>" to the host, its data to the guest, echoed back */
	runner_connect(6002, "echo");
	EXPECT(&p, OP_REQUEST, HOST_PORT0 + 1, 6002);
	tx(hdr(6002, HOST_PORT0 + 1, OP_RESPONSE), 0);
	EXPECT(&p, OP_RW, HOST_PORT0 + 1, 6002);
	GUEST_ASSERT_EQ(p.h.len, 10);
	GUEST_ASSERT(memcmp(p.data, "host:echo\n", 10) == 0);
	memcpy(payload, p.data, 10);
	h = hdr(6002, HOST_PORT0 + 1, OP_RW);
	h.len = 10;
	h.fwd_cnt = 10;
	tx(h, 10);
	h = hdr(6002, HOST_PORT0 + 1, OP_SHUTDOWN);
	h.flags = 3;
	h.fwd_cnt = 10;
	tx(h, 0);
	EXPECT(&p, OP_RST, HOST_PORT0 + 1, 6002);
	guest_printf("host-initiated: RW before RESPONSE: RST, host peer closed; a bad CONNECT "
		     "line: nothing; accepted: OK to the host, data both ways\n");
}

/* ---- after all that: an echo ----------------------------------------------------------------- */

static void echo(void)
{
	const uint32_t gp = 700, hp = (uint32_t)port_echo, n = 3000;
	static uint8_t got[3000];
	uint32_t have = 0;
	struct vhdr h;
	struct pkt p;

	CONNECT(gp, hp);
	for (uint32_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	h = hdr(gp, hp, OP_RW);
	h.len = n;
	tx(h, n);
	while (have < n) {
		RX_GET(&p, 5000);
		if (p.h.op != OP_RW || p.h.src_port != hp || p.h.dst_port != gp)
			guest_fail("echo: got op %u %u->%u", p.h.op, p.h.src_port, p.h.dst_port);
		GUEST_ASSERT(have + p.h.len <= n);
		memcpy(got + have, p.data, p.h.len);
		have += p.h.len;
	}
	GUEST_ASSERT(memcmp(got, payload, n) == 0);
	/* the guest closes both ways: kiln resets (both directions shut) */
	h = hdr(gp, hp, OP_SHUTDOWN);
	h.flags = 3;
	h.fwd_cnt = n;
	tx(h, 0);
	EXPECT(&p, OP_RST, hp, gp);
	guest_printf("after all that: %u bytes echoed by the host listener, SHUTDOWN -> RST\n", n);
}

int main(void)
{
	GUEST_ASSERT(guest_cmdline_u64("cid", &cid));
	GUEST_ASSERT(guest_cmdline_u64("echo", &port_echo));
	GUEST_ASSERT(guest_cmdline_u64("hold", &port_hold));
	GUEST_ASSERT(guest_cmdline_u64("none", &port_none));
	for (int i = 0; i < RXN; i++)
		rxbuf[i] = virtio_alloc(HDR + RX_PAYLOAD, 64);
	txhdr = virtio_alloc(QSIZE * HDR, 64);
	payload = virtio_alloc(PKT_MAX + 4096, 64);
	VDEV_FIND(VIRTIO_ID_VSOCK, &dev);
	GUEST_ASSERT_EQ(dev.offered & ~VIRTIO_BIT(VIRTIO_F_VERSION_1) & 0xffffffull, 0);

	request_before_driver_ok();
	rx_malformed();
	tx_malformed();
	bad_addresses();
	credit_overrun();
	request_flood();
	rst_queue_bound();
	connection_limit();
	unwalkable();
	start(true);
	host_initiated();
	echo();
	guest_printf("virtio-vsock survived every hostile packet\n");
	return 0;
}

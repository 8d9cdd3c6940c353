/* test_virtio_vsock.c — virtio-vsock driven through virtio-mmio as a guest driver would (vdrv),
 * with real host Unix sockets in a temporary directory and the real event loop: the connection
 * state machine both ways, Firecracker's CONNECT handshake (malformed lines too), credit both
 * ways, bounded buffering, hostile packets, TRANSPORT_RESET after a restore. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/unix_sock.h"
#include "vdrv.h"
#include "virtio/vsock.h"
#include "virtio/vsock_conn.h"

#define D	  VDRV_DATA_OFF
#define MEM	  0x200000ULL
#define CID	  3
#define NR_RX	  8
#define RX_LEN	  (VSOCK_HDR_LEN + 4096)
#define RXB(i)	  (D + (uint64_t)(i)*0x1100)
#define EVB(i)	  (D + 0x10000 + (uint64_t)(i)*16)
#define TXB(i)	  (D + 0x20000 + (uint64_t)((i) % 8) * 0x11000)
#define HOSTPORT0 VSOCK_PORT_FIRST

struct fx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_vsock *vs;
	char dir[64];
	char path[108];
	unsigned tx_slot;
	uint64_t rx_of_head[VDRV_QSIZE];
};

static void post_rx(struct fx *f, uint64_t off)
{
	struct vdrv_buf b = {off, RX_LEN, true};

	f->rx_of_head[vdrv_add(&f->d, VSOCK_RXQ, &b, 1)] = off;
}

static void fx_create(struct fx *f)
{
	struct virtio_vsock_config c = {
	    .mem = &f->d.mem, .loop = &f->loop, .guest_cid = CID, .uds_path = f->path};

	assert_int_equal(virtio_vsock_create(&c, &f->vs), 0);
	vdrv_attach(&f->d, &f->vs->vd);
}

/* The driver's start: three queues, NR_RX receive buffers, two event buffers. */
static void fx_start(struct fx *f)
{
	struct vdrv_buf ev = {0, 4, true};

	vdrv_start(&f->d, 3, 0);
	for (unsigned i = 0; i < NR_RX; i++)
		post_rx(f, RXB(i));
	for (unsigned i = 0; i < 2; i++) {
		ev.off = EVB(i);
		vdrv_add(&f->d, VSOCK_EVQ, &ev, 1);
	}
	vdrv_kick(&f->d, VSOCK_RXQ);
	vdrv_kick(&f->d, VSOCK_EVQ);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/kiln-vsock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	vdrv_init_mem(&f->d, MEM);
	assert_int_equal(event_loop_init(&f->loop), 0);
	fx_create(f);
	fx_start(f);
	*state = f;
	return 0;
}

static void fx_destroy(struct fx *f)
{
	vdrv_detach(&f->d);
	virtio_vsock_destroy(f->vs);
	f->vs = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[160];

	fx_destroy(f);
	vdrv_fini(&f->d);
	event_loop_destroy(&f->loop);
	for (unsigned port = 0; port < 100; port++) {
		snprintf(p, sizeof(p), "%s_%u", f->path, port);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* --- packets --- */

static struct vsock_hdr hdr(uint16_t op, uint32_t src_port, uint32_t dst_port, uint32_t len)
{
	return (struct vsock_hdr){.src_cid = htole64(CID),
				  .dst_cid = htole64(VSOCK_HOST_CID),
				  .src_port = htole32(src_port),
				  .dst_port = htole32(dst_port),
				  .len = htole32(len),
				  .type = htole16(VSOCK_TYPE_STREAM),
				  .op = htole16(op),
				  .buf_alloc = htole32(VSOCK_CONN_BUF),
				  .fwd_cnt = 0};
}

/* Transmit header h (little-endian already) and len payload bytes, in one buffer of chain_len
 * bytes (0: exactly header + payload), and kick. */
static void send_raw(struct fx *f, const struct vsock_hdr *h, const void *payload, uint32_t len,
		     uint32_t chain_len)
{
	uint64_t off = TXB(f->tx_slot++);
	struct vdrv_buf b = {off, chain_len ? chain_len : VSOCK_HDR_LEN + len, false};
	uint32_t id, used;

	memcpy(vdrv_ptr(&f->d, off), h, sizeof(*h));
	if (len)
		memcpy((uint8_t *)vdrv_ptr(&f->d, off) + VSOCK_HDR_LEN, payload, len);
	vdrv_add(&f->d, VSOCK_TXQ, &b, 1);
	vdrv_kick(&f->d, VSOCK_TXQ);
	while (vdrv_used(&f->d, VSOCK_TXQ, &id, &used))
		;
}

static void send_pkt(struct fx *f, uint16_t op, uint32_t src_port, uint32_t dst_port,
		     const void *payload, uint32_t len)
{
	struct vsock_hdr h = hdr(op, src_port, dst_port, len);

	send_raw(f, &h, payload, len, 0);
}

/* The next packet the device gave the guest, within ms: header in host order, payload copied
 * (at most cap bytes). The buffer is posted again. */
static bool rx_wait(struct fx *f, struct vsock_hdr *h, void *payload, size_t cap, int ms)
{
	uint32_t id, len;

	for (int t = 0; t <= ms; t++) {
		vdrv_pump(&f->loop, t ? 1 : 0);
		if (vdrv_used(&f->d, VSOCK_RXQ, &id, &len)) {
			uint64_t off = f->rx_of_head[id];
			uint8_t *p = vdrv_ptr(&f->d, off);

			assert_true(len >= VSOCK_HDR_LEN);
			memcpy(h, p, sizeof(*h));
			h->src_port = le32toh(h->src_port);
			h->dst_port = le32toh(h->dst_port);
			h->len = le32toh(h->len);
			h->op = le16toh(h->op);
			h->flags = le32toh(h->flags);
			h->fwd_cnt = le32toh(h->fwd_cnt);
			h->buf_alloc = le32toh(h->buf_alloc);
			assert_int_equal(le64toh(h->src_cid), VSOCK_HOST_CID);
			assert_int_equal(le64toh(h->dst_cid), CID);
			assert_int_equal(len, VSOCK_HDR_LEN + h->len);
			if (payload)
				memcpy(payload, p + VSOCK_HDR_LEN, h->len < cap ? h->len : cap);
			post_rx(f, off);
			vdrv_kick(&f->d, VSOCK_RXQ);
			return true;
		}
	}
	return false;
}

static void expect_op(struct fx *f, uint16_t op, uint32_t src_port, uint32_t dst_port)
{
	struct vsock_hdr h;

	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_port, src_port);
	assert_int_equal(h.dst_port, dst_port);
}

static void expect_nothing(struct fx *f)
{
	struct vsock_hdr h;

	assert_false(rx_wait(f, &h, NULL, 0, 20));
}

/* --- host sockets --- */

static int host_listen(struct fx *f, unsigned port)
{
	char p[160];
	int fd;

	snprintf(p, sizeof(p), "%s_%u", f->path, port);
	fd = unix_listen(p, 16, 0);
	assert_true(fd >= 0);
	return fd;
}

/* Read exactly len bytes from fd, pumping the loop meanwhile (fd non-blocking). */
static void host_read(struct fx *f, int fd, void *buf, size_t len)
{
	size_t got = 0;

	for (int t = 0; got < len && t < 2000; t++) {
		ssize_t n = recv(fd, (uint8_t *)buf + got, len - got, MSG_DONTWAIT);

		if (n > 0)
			got += (size_t)n;
		else
			vdrv_pump(&f->loop, 1);
	}
	assert_int_equal(got, len);
}

/* Whether fd was closed by kiln (EOF) within ms. */
static bool host_sees_eof(struct fx *f, int fd, int ms)
{
	char c;

	for (int t = 0; t <= ms; t++) {
		ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
		vdrv_pump(&f->loop, 1);
	}
	return false;
}

/* A guest-initiated connection from guest port gp to host port hp: the RESPONSE, the host's
 * accepted socket (non-blocking). */
static int guest_connect(struct fx *f, int lfd, uint32_t gp, uint32_t hp)
{
	int fd;

	send_pkt(f, VSOCK_OP_REQUEST, gp, hp, NULL, 0);
	expect_op(f, VSOCK_OP_RESPONSE, hp, gp);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(fd >= 0);
	return fd;
}

/* A host-initiated connection to guest port gp through "CONNECT": the guest's REQUEST answered
 * with RESPONSE, "OK <port>\n" read. Returns the host socket; *hp its host port. */
static int host_connect(struct fx *f, uint32_t gp, uint32_t *hp)
{
	char line[32], want[32];
	struct vsock_hdr h;
	int fd = unix_connect(f->path, SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	snprintf(line, sizeof(line), "CONNECT %u\n", gp);
	assert_int_equal(send(fd, line, strlen(line), 0), (ssize_t)strlen(line));
	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, gp);
	*hp = h.src_port;
	send_pkt(f, VSOCK_OP_RESPONSE, gp, *hp, NULL, 0);
	snprintf(want, sizeof(want), "OK %u\n", *hp);
	host_read(f, fd, line, strlen(want));
	assert_memory_equal(line, want, strlen(want));
	return fd;
}

/* --- tests --- */

static void test_identity(void **state)
{
	struct fx *f = *state;

	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(vdrv_queue_max(&f->d, 0), VSOCK_QUEUE_SIZE);
	assert_int_equal(vdrv_queue_max(&f->d, 2), VSOCK_QUEUE_SIZE);
	assert_int_equal(vdrv_queue_max(&f->d, 3), 0);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), CID);
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 4), 0);
	assert_int_equal(access(f->path, F_OK), 0); /* listening */
}

static void test_bad_config_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_vsock *vs;
	struct virtio_vsock_config c = {
	    .mem = &f->d.mem, .loop = &f->loop, .guest_cid = 2, .uds_path = "/tmp/x"};

	assert_int_equal(virtio_vsock_create(&c, &vs), -EINVAL);
	c.guest_cid = CID;
	c.uds_path = "";
	assert_int_equal(virtio_vsock_create(&c, &vs), -EINVAL);
	c.uds_path = f->path; /* in use by the fixture's device */
	assert_int_equal(virtio_vsock_create(&c, &vs), -EADDRINUSE);
}

/* Guest-initiated: data both ways, then the guest's SHUTDOWN closes the host side. */
static void test_guest_initiated(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 52), fd = guest_connect(f, lfd, 1234, 52);
	char buf[64];
	struct vsock_hdr h;

	send_pkt(f, VSOCK_OP_RW, 1234, 52, "hello", 5);
	host_read(f, fd, buf, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(send(fd, "world!", 6, 0), 6);
	assert_true(rx_wait(f, &h, buf, sizeof(buf), 500));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(h.buf_alloc, VSOCK_CONN_BUF);
	assert_int_equal(h.fwd_cnt, 5);
	/* the guest closes: SHUTDOWN both ways, kiln resets and closes the host socket */
	struct vsock_hdr s = hdr(VSOCK_OP_SHUTDOWN, 1234, 52, 0);
	s.flags = htole32(VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
	send_raw(f, &s, NULL, 0, 0);
	expect_op(f, VSOCK_OP_RST, 52, 1234);
	assert_true(host_sees_eof(f, fd, 500));
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	close(fd);
	close(lfd);
}

/* No host listener at <uds>_P: the guest's REQUEST is answered with RST. */
static void test_guest_connect_refused(void **state)
{
	struct fx *f = *state;

	send_pkt(f, VSOCK_OP_REQUEST, 1000, 77, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 77, 1000);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	assert_int_equal(virtio_vsock_stats(f->vs).conns_refused, 1);
}

/* Host-initiated: CONNECT, REQUEST, RESPONSE, OK; data both ways; the host leaves: RST. */
static void test_host_initiated(void **state)
{
	struct fx *f = *state;
	uint32_t hp;
	int fd = host_connect(f, 52, &hp);
	char buf[16];
	struct vsock_hdr h;

	assert_int_equal(hp, HOSTPORT0);
	assert_int_equal(send(fd, "ping", 4, 0), 4);
	assert_true(rx_wait(f, &h, buf, sizeof(buf), 500));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(buf, "ping", 4);
	send_pkt(f, VSOCK_OP_RW, 52, hp, "pong", 4);
	host_read(f, fd, buf, 4);
	assert_memory_equal(buf, "pong", 4);
	close(fd);
	expect_op(f, VSOCK_OP_RST, hp, 52);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	/* the next host port is the next one */
	fd = host_connect(f, 53, &hp);
	assert_int_equal(hp, HOSTPORT0 + 1);
	close(fd);
}

/* Bytes the host sends right behind its CONNECT line are the connection's first data. */
static void test_connect_line_then_data(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->path, SOCK_NONBLOCK, 0);
	struct vsock_hdr h;
	char buf[16];

	assert_int_equal(send(fd, "connect 9 extra\nDATA", 20, 0), 20);
	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 9);
	send_pkt(f, VSOCK_OP_RESPONSE, 9, h.src_port, NULL, 0);
	assert_true(rx_wait(f, &h, buf, sizeof(buf), 500));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	assert_memory_equal(buf, "DATA", 4);
	close(fd);
}

/* Malformed CONNECT lines: kiln closes the host connection, the guest hears nothing. */
static void test_connect_malformed(void **state)
{
	struct fx *f = *state;
	static const char *const lines[] = {
	    "FOO 52\n",
	    "CONNECT\n",
	    "CONNECT x\n",
	    "CONNECT -1\n",
	    "CONNECT 4294967296\n",
	    "CONNECT 5x\n",
	    "\n",
	    "CONNECT 0123456789012345678901234567890\n",
	    "CONNECT 52 but no newline within thirty-two bytes",
	};

	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int fd = unix_connect(f->path, SOCK_NONBLOCK, 0);

		assert_true(fd >= 0);
		assert_int_equal(send(fd, lines[i], strlen(lines[i]), 0),
				 (ssize_t)strlen(lines[i]));
		if (!host_sees_eof(f, fd, 500))
			fail_msg("line %u \"%s\" was not refused", i, lines[i]);
		close(fd);
	}
	expect_nothing(f);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	/* a host that connects and leaves without a line */
	close(unix_connect(f->path, SOCK_NONBLOCK, 0));
	vdrv_pump(&f->loop, 10);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
}

/* The guest refuses a host-initiated connection (RST): the host socket is closed. */
static void test_host_initiated_refused(void **state)
{
	struct fx *f = *state;
	int fd = unix_connect(f->path, SOCK_NONBLOCK, 0);
	struct vsock_hdr h;

	assert_int_equal(send(fd, "CONNECT 8\n", 10, 0), 10);
	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	send_pkt(f, VSOCK_OP_RST, 8, h.src_port, NULL, 0);
	assert_true(host_sees_eof(f, fd, 500));
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	close(fd);
}

/* Host → guest credit: kiln sends at most what the guest's buf_alloc allows, asks for credit,
 * and goes on after the guest's CREDIT_UPDATE. */
static void test_credit_to_guest(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 60), fd;
	struct vsock_hdr h = hdr(VSOCK_OP_REQUEST, 7, 60, 0), got;
	char data[1000], buf[4096];

	memset(data, 'x', sizeof(data));
	h.buf_alloc = htole32(100);
	send_raw(f, &h, NULL, 0, 0);
	expect_op(f, VSOCK_OP_RESPONSE, 60, 7);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_int_equal(send(fd, data, sizeof(data), 0), (ssize_t)sizeof(data));
	assert_true(rx_wait(f, &got, buf, sizeof(buf), 500));
	assert_int_equal(got.op, VSOCK_OP_RW);
	assert_int_equal(got.len, 100);
	expect_op(f, VSOCK_OP_CREDIT_REQUEST, 60, 7);
	expect_nothing(f);
	h = hdr(VSOCK_OP_CREDIT_UPDATE, 7, 60, 0);
	h.buf_alloc = htole32(100);
	h.fwd_cnt = htole32(100);
	send_raw(f, &h, NULL, 0, 0);
	assert_true(rx_wait(f, &got, buf, sizeof(buf), 500));
	assert_int_equal(got.op, VSOCK_OP_RW);
	assert_int_equal(got.len, 100);
	close(fd);
	close(lfd);
}

/* Guest → host credit: a host that does not read makes kiln buffer up to VSOCK_CONN_BUF; a
 * guest writing beyond the credit is reset; a host that reads gets CREDIT_UPDATEs sent. */
static void test_credit_from_guest(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 61), fd = guest_connect(f, lfd, 8, 61), small = 4096;
	static uint8_t chunk[VSOCK_PKT_MAX];
	struct vsock_hdr h;
	uint64_t sent = 0;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	memset(chunk, 'a', sizeof(chunk));
	/* the socket takes some, kiln buffers the rest: fill the credit to the last byte */
	while (f->vs->all->buf_used + sizeof(chunk) <= VSOCK_CONN_BUF) {
		send_pkt(f, VSOCK_OP_RW, 8, 61, chunk, sizeof(chunk));
		sent += sizeof(chunk);
	}
	assert_true(f->vs->all->buf_used > VSOCK_CONN_BUF - sizeof(chunk));
	assert_int_equal(virtio_vsock_conns(f->vs), 1);
	/* one byte more than the credit: reset */
	send_pkt(f, VSOCK_OP_RW, 8, 61, chunk, VSOCK_CONN_BUF - f->vs->all->buf_used + 1);
	do
		assert_true(rx_wait(f, &h, NULL, 0, 500));
	while (h.op == VSOCK_OP_CREDIT_UPDATE); /* for what the socket took */
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(virtio_vsock_stats(f->vs).credit_overruns, 1);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	close(fd);
	/* a reading host: credit updates announce what was forwarded */
	fd = guest_connect(f, lfd, 9, 61);
	for (unsigned i = 0; i < 2; i++)
		send_pkt(f, VSOCK_OP_RW, 9, 61, chunk, sizeof(chunk));
	static uint8_t sink[2 * VSOCK_PKT_MAX];
	host_read(f, fd, sink, sizeof(sink));
	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, VSOCK_OP_CREDIT_UPDATE);
	assert_true(h.fwd_cnt >= VSOCK_CONN_BUF / 4);
	(void)sent;
	close(fd);
	close(lfd);
}

/* A guest that stops reading: kiln reads nothing more from the host than the credit allows. */
static void test_guest_stops_reading(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 62), fd = guest_connect(f, lfd, 10, 62);
	static uint8_t big[1 << 20];
	struct vsock_hdr h;
	uint64_t got = 0;
	ssize_t n, pushed = 0;

	while ((n = send(fd, big, sizeof(big), MSG_DONTWAIT)) > 0 || pushed == 0) {
		pushed += n > 0 ? n : 0;
		vdrv_pump(&f->loop, 1);
		while (rx_wait(f, &h, NULL, 0, 0))
			got += h.op == VSOCK_OP_RW ? h.len : 0;
		if (n < 0)
			break;
	}
	for (int i = 0; i < 50; i++)
		while (rx_wait(f, &h, NULL, 0, 1))
			got += h.op == VSOCK_OP_RW ? h.len : 0;
	assert_int_equal(got, VSOCK_CONN_BUF); /* the guest's buf_alloc, not more */
	assert_null(f->vs->all->buf);	       /* nothing buffered in kiln */
	close(fd);
	close(lfd);
}

/* Hostile packets: wrong CIDs dropped, bad op and type reset, lengths beyond the buffer and
 * short or writable chains refused; the device keeps working. */
static void test_bad_packets(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h;
	struct vdrv_buf wb = {TXB(7), 64, true};
	uint32_t id, len;

	h = hdr(VSOCK_OP_REQUEST, 1, 2, 0);
	h.src_cid = htole64(CID + 1);
	send_raw(f, &h, NULL, 0, 0);
	h = hdr(VSOCK_OP_REQUEST, 1, 2, 0);
	h.dst_cid = htole64(7);
	send_raw(f, &h, NULL, 0, 0);
	expect_nothing(f);
	assert_int_equal(virtio_vsock_stats(f->vs).tx_dropped, 2);
	send_pkt(f, 99, 1, 2, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 2, 1);
	h = hdr(VSOCK_OP_REQUEST, 1, 2, 0);
	h.type = htole16(2); /* SEQPACKET: not negotiated */
	send_raw(f, &h, NULL, 0, 0);
	expect_op(f, VSOCK_OP_RST, 2, 1);
	send_pkt(f, VSOCK_OP_RW, 3, 4, "x", 1); /* no such connection */
	expect_op(f, VSOCK_OP_RST, 4, 3);
	send_pkt(f, VSOCK_OP_RST, 3, 4, NULL, 0); /* never answered */
	h = hdr(VSOCK_OP_RW, 3, 4, 100);	  /* len beyond the buffer */
	send_raw(f, &h, NULL, 0, VSOCK_HDR_LEN + 10);
	h = hdr(VSOCK_OP_RW, 3, 4, VSOCK_PKT_MAX + 1);
	send_raw(f, &h, NULL, 0, 0x11000);
	h = hdr(VSOCK_OP_REQUEST, 3, 4, 0); /* a chain shorter than a header */
	send_raw(f, &h, NULL, 0, VSOCK_HDR_LEN - 1);
	vdrv_add(&f->d, VSOCK_TXQ, &wb, 1); /* a device-writable chain */
	vdrv_kick(&f->d, VSOCK_TXQ);
	while (vdrv_used(&f->d, VSOCK_TXQ, &id, &len))
		assert_int_equal(len, 0);
	expect_nothing(f);
	assert_int_equal(virtio_vsock_stats(f->vs).tx_malformed, 4);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	/* still working */
	send_pkt(f, VSOCK_OP_REQUEST, 1000, 77, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 77, 1000);
}

/* A REQUEST for a connection that exists, a RESPONSE on an established one: reset. */
static void test_bad_transitions(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 63), fd = guest_connect(f, lfd, 11, 63);

	send_pkt(f, VSOCK_OP_REQUEST, 11, 63, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 63, 11);
	assert_true(host_sees_eof(f, fd, 500));
	close(fd);
	fd = guest_connect(f, lfd, 12, 63);
	send_pkt(f, VSOCK_OP_RESPONSE, 12, 63, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 63, 12);
	close(fd);
	close(lfd);
}

/* The host half-closes: SHUTDOWN(SEND) to the guest, which may still send. */
static void test_host_half_close(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 64), fd = guest_connect(f, lfd, 13, 64);
	struct vsock_hdr h;
	char buf[4];

	shutdown(fd, SHUT_WR);
	assert_true(rx_wait(f, &h, NULL, 0, 500));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	send_pkt(f, VSOCK_OP_RW, 13, 64, "late", 4);
	host_read(f, fd, buf, 4);
	assert_memory_equal(buf, "late", 4);
	close(fd);
	close(lfd);
}

static int vsock_save_hook(void *o, struct state_buf *b)
{
	return virtio_vsock_save(o, b);
}

/* End w's open section "s" and open r at it; returns the section's version. */
static uint16_t reopen(struct state_buf *w, struct state_buf *r)
{
	uint16_t v = 0;

	assert_int_equal(state_end_section(w), 0);
	assert_int_equal(state_open(r, w->data, w->len), 0);
	assert_int_equal(state_section(r, "s", &v), 0);
	return v;
}

/* Save f's device into w (a section "s" at the current version) and open r on it. */
static void save_section(struct fx *f, struct state_buf *w, struct state_buf *r)
{
	assert_int_equal(state_begin_section(w, "s", VIRTIO_VSOCK_STATE_VERSION), 0);
	assert_int_equal(vsock_save_hook(f->vs, w), 0);
	assert_int_equal(reopen(w, r), VIRTIO_VSOCK_STATE_VERSION);
}

/* A restore: connections are gone (the host side closed), the guest gets TRANSPORT_RESET on the
 * event queue, and new connections work. */
static void test_transport_reset_on_restore(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 65), fd = guest_connect(f, lfd, 14, 65);
	struct state_buf w = {0}, r;
	uint32_t id, len, ev;

	save_section(f, &w, &r);
	assert_int_equal(virtio_vsock_load(f->vs, &r, VIRTIO_VSOCK_STATE_VERSION), 0);
	assert_false(vdrv_used(&f->d, VSOCK_EVQ, &id, &len));
	pthread_mutex_lock(&f->vs->vd.lock);
	virtio_dev_restored(&f->vs->vd);
	pthread_mutex_unlock(&f->vs->vd.lock);
	assert_true(vdrv_used(&f->d, VSOCK_EVQ, &id, &len));
	assert_int_equal(len, 4);
	memcpy(&ev, vdrv_ptr(&f->d, EVB(id)), 4);
	assert_int_equal(le32toh(ev), VSOCK_EVENT_TRANSPORT_RESET);
	assert_false(vdrv_used(&f->d, VSOCK_EVQ, &id, &len)); /* one event */
	assert_true(host_sees_eof(f, fd, 500));
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	close(fd);
	/* the old connection's packets are answered with RST, a new one works */
	send_pkt(f, VSOCK_OP_RW, 14, 65, "x", 1);
	expect_op(f, VSOCK_OP_RST, 65, 14);
	fd = guest_connect(f, lfd, 15, 65);
	close(fd);
	close(lfd);
	/* a wrong CID in the section is refused */
	state_buf_free(&w);
	assert_int_equal(state_begin_section(&w, "s", VIRTIO_VSOCK_STATE_VERSION), 0);
	state_put_u64(&w, CID + 1);
	state_put_u32(&w, HOSTPORT0);
	reopen(&w, &r);
	assert_int_equal(virtio_vsock_load(f->vs, &r, VIRTIO_VSOCK_STATE_VERSION), -EINVAL);
	state_buf_free(&w);
}

/* A restored device (a new process) goes on numbering host ports where the saved one stopped:
 * the guest may still hold its reset socket for an old connection's port (until its program
 * closes it), and a new connection on that port would meet it and be refused with RST. A
 * version 1 section (the CID alone) still loads. */
static void test_restore_keeps_host_ports(void **state)
{
	struct fx *f = *state;
	struct state_buf w = {0}, r;
	uint32_t hp;
	int fd = host_connect(f, 52, &hp);

	assert_int_equal(hp, HOSTPORT0);
	save_section(f, &w, &r);
	close(fd);
	fx_destroy(f);
	fx_create(f);
	fx_start(f);
	assert_int_equal(virtio_vsock_load(f->vs, &r, VIRTIO_VSOCK_STATE_VERSION), 0);
	fd = host_connect(f, 52, &hp);
	assert_int_equal(hp, HOSTPORT0 + 1);
	close(fd);
	state_buf_free(&w);
	/* version 1: the CID alone */
	assert_int_equal(state_begin_section(&w, "s", 1), 0);
	state_put_u64(&w, CID);
	reopen(&w, &r);
	assert_int_equal(virtio_vsock_load(f->vs, &r, 1), 0);
	state_buf_free(&w);
	/* a version 2 section cut short is refused */
	assert_int_equal(state_begin_section(&w, "s", VIRTIO_VSOCK_STATE_VERSION), 0);
	state_put_u64(&w, CID);
	reopen(&w, &r);
	assert_int_equal(virtio_vsock_load(f->vs, &r, VIRTIO_VSOCK_STATE_VERSION), -EINVAL);
	state_buf_free(&w);
}

/* The reset waits for an event buffer when the driver has none posted. */
static void test_transport_reset_waits_for_buffer(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf ev = {EVB(5), 4, true};
	uint32_t id, len;

	/* use up the two posted event buffers */
	for (unsigned i = 0; i < 2; i++) {
		pthread_mutex_lock(&f->vs->vd.lock);
		f->vs->reset_pending = true;
		virtio_dev_notify(&f->vs->vd, VSOCK_EVQ);
		pthread_mutex_unlock(&f->vs->vd.lock);
		assert_true(vdrv_used(&f->d, VSOCK_EVQ, &id, &len));
	}
	pthread_mutex_lock(&f->vs->vd.lock);
	f->vs->reset_pending = true;
	virtio_dev_notify(&f->vs->vd, VSOCK_EVQ);
	pthread_mutex_unlock(&f->vs->vd.lock);
	assert_false(vdrv_used(&f->d, VSOCK_EVQ, &id, &len));
	vdrv_add(&f->d, VSOCK_EVQ, &ev, 1);
	vdrv_kick(&f->d, VSOCK_EVQ);
	assert_true(vdrv_used(&f->d, VSOCK_EVQ, &id, &len));
	assert_int_equal(virtio_vsock_stats(f->vs).events, 3);
}

/* Receive buffers with room for a header only: data cannot go in (the device does not spin on
 * them: fuzz_vsock found that loop), control packets can. */
static void test_header_only_rx_buffer(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf b = {TXB(6), VSOCK_HDR_LEN, true};
	uint32_t id, len;
	int lfd, fd;

	fx_destroy(f);
	fx_create(f);
	vdrv_start(&f->d, 3, 0);
	for (unsigned i = 0; i < 2; i++) {
		b.off = TXB(6) + i * 64;
		vdrv_add(&f->d, VSOCK_RXQ, &b, 1);
	}
	lfd = host_listen(f, 67);
	send_pkt(f, VSOCK_OP_REQUEST, 17, 67, NULL, 0);
	assert_true(vdrv_used(&f->d, VSOCK_RXQ, &id, &len)); /* the RESPONSE */
	assert_int_equal(len, VSOCK_HDR_LEN);
	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_int_equal(send(fd, "data", 4, 0), 4);
	vdrv_pump(&f->loop, 20); /* returns: nothing spins */
	assert_false(vdrv_used(&f->d, VSOCK_RXQ, &id, &len));
	send_pkt(f, VSOCK_OP_CREDIT_REQUEST, 17, 67, NULL, 0);
	assert_true(vdrv_used(&f->d, VSOCK_RXQ, &id, &len)); /* CREDIT_UPDATE fits */
	assert_int_equal(len, VSOCK_HDR_LEN);
	close(fd);
	close(lfd);
}

/* At VSOCK_CONN_MAX connections a guest REQUEST is answered with RST before kiln connects: the
 * host listener never sees the refused connection (no connect-and-close churn the guest could
 * drive against a host service). The device reset then frees the table. */
static void test_guest_connect_at_limit(void **state)
{
	struct fx *f = *state;
	static int fds[VSOCK_CONN_MAX];
	struct rlimit rl;
	int lfd, extra;
	char p[160];

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < 2 * VSOCK_CONN_MAX + 64) {
		skip();
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	snprintf(p, sizeof(p), "%s_%u", f->path, 67);
	lfd = unix_listen(p, 64, SOCK_NONBLOCK);
	assert_true(lfd >= 0);
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++)
		fds[i] = guest_connect(f, lfd, 20000 + i, 67);
	assert_int_equal(virtio_vsock_conns(f->vs), VSOCK_CONN_MAX);
	send_pkt(f, VSOCK_OP_REQUEST, 19999, 67, NULL, 0);
	expect_op(f, VSOCK_OP_RST, 67, 19999);
	extra = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_int_equal(extra, -1); /* kiln did not connect */
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(virtio_vsock_stats(f->vs).conns_refused, 1);
	vdrv_set_status(&f->d, 0);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++)
		close(fds[i]);
	close(lfd);
}

/* A driver reset closes every connection. */
static void test_reset_closes(void **state)
{
	struct fx *f = *state;
	int lfd = host_listen(f, 66), fd = guest_connect(f, lfd, 16, 66);

	vdrv_set_status(&f->d, 0);
	assert_int_equal(virtio_vsock_conns(f->vs), 0);
	assert_true(host_sees_eof(f, fd, 500));
	close(fd);
	close(lfd);
}

/* Packets made available before DRIVER_OK are taken once the device is live, by the event loop
 * (the VMM thread), not inside the status write: that arrives on a vCPU thread, whose seccomp
 * filter allows no socket (guest_fuzz found kiln stopped by a REQUEST waiting at DRIVER_OK). */
static void test_request_before_driver_ok(void **state)
{
	struct fx *f = *state;
	struct vsock_hdr h = hdr(VSOCK_OP_REQUEST, 1000, 77, 0);
	struct vdrv_buf b = {TXB(0), VSOCK_HDR_LEN, false};
	uint32_t id, len;

	assert_true(vdrv_negotiate(&f->d, 3, 0) & VIRTIO_STATUS_FEATURES_OK);
	for (unsigned i = 0; i < NR_RX; i++)
		post_rx(f, RXB(i));
	memcpy(vdrv_ptr(&f->d, TXB(0)), &h, sizeof(h));
	vdrv_add(&f->d, VSOCK_TXQ, &b, 1);
	vdrv_driver_ok(&f->d);
	assert_false(vdrv_used(&f->d, VSOCK_TXQ, &id, &len)); /* not during the status write */
	assert_int_equal(virtio_vsock_stats(f->vs).conns_refused, 0);
	expect_op(f, VSOCK_OP_RST, 77, 1000); /* the loop took it */
	assert_int_equal(virtio_vsock_stats(f->vs).conns_refused, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_identity),
	    T(test_bad_config_refused),
	    T(test_guest_initiated),
	    T(test_guest_connect_refused),
	    T(test_host_initiated),
	    T(test_connect_line_then_data),
	    T(test_connect_malformed),
	    T(test_host_initiated_refused),
	    T(test_credit_to_guest),
	    T(test_credit_from_guest),
	    T(test_guest_stops_reading),
	    T(test_bad_packets),
	    T(test_bad_transitions),
	    T(test_host_half_close),
	    T(test_transport_reset_on_restore),
	    T(test_restore_keeps_host_ports),
	    T(test_transport_reset_waits_for_buffer),
	    T(test_header_only_rx_buffer),
	    T(test_reset_closes),
	    T(test_guest_connect_at_limit),
	    T(test_request_before_driver_ok),
	};

	log_set_level(LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

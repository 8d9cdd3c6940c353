/* vsock_conn.c — virtio-vsock's connections: the table, host sockets on the nested epoll,
 * Firecracker's CONNECT handshake, the state machine and credit both ways. vs->vd.lock held. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "util/unix_sock.h"
#include "virtio/vsock_conn.h"

#define HASH_SIZE (VSOCK_CONN_MAX + 1)

static unsigned hash(uint32_t local_port, uint32_t peer_port)
{
	return (local_port * 2654435761u ^ peer_port * 40503u) % HASH_SIZE;
}

struct vsock_conn *vc_find(struct virtio_vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	struct vsock_conn *c = vs->hash[hash(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hnext;
	return c;
}

static bool keyed(const struct vsock_conn *c)
{
	return c->state != VC_CONNECT_LINE;
}

void vc_set_key(struct vsock_conn *c, uint32_t local_port, uint32_t peer_port)
{
	unsigned h = hash(local_port, peer_port);

	c->local_port = local_port;
	c->peer_port = peer_port;
	c->hnext = c->vs->hash[h];
	c->vs->hash[h] = c;
}

static void unhash(struct vsock_conn *c)
{
	struct vsock_conn **p = &c->vs->hash[hash(c->local_port, c->peer_port)];

	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
}

struct vsock_conn *vc_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state state)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
	struct vsock_conn *c = NULL;

	if (vs->nr_conns < VSOCK_CONN_MAX)
		c = calloc(1, sizeof(*c));
	ev.data.ptr = c;
	if (!c || epoll_ctl(vs->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vs->stats.conns_refused++;
		free(c);
		close(fd);
		return NULL;
	}
	c->tag = VC_TAG;
	c->vs = vs;
	c->fd = fd;
	c->state = state;
	c->next = vs->all;
	if (vs->all)
		vs->all->prev = c;
	vs->all = c;
	vs->nr_conns++;
	return c;
}

void vc_queue_rst(struct virtio_vsock *vs, uint32_t local_port, uint32_t peer_port)
{
	if (vs->rst_len == VSOCK_RSTQ_MAX) {
		vs->stats.rst_dropped++;
		return;
	}
	vs->rstq[(vs->rst_head + vs->rst_len++) % VSOCK_RSTQ_MAX] =
	    (struct vsock_rst){local_port, peer_port};
}

void vc_kill(struct vsock_conn *c, bool rst)
{
	struct virtio_vsock *vs = c->vs;

	if (rst && keyed(c))
		vc_queue_rst(vs, c->local_port, c->peer_port);
	vc_unschedule(c);
	if (keyed(c))
		unhash(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		vs->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	(void)epoll_ctl(vs->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
	vs->nr_conns--;
}

void vc_kill_all(struct virtio_vsock *vs)
{
	while (vs->all)
		vc_kill(vs->all, false);
	vs->rst_len = 0;
}

uint32_t vc_peer_credit(const struct vsock_conn *c)
{
	uint32_t in_flight = c->rx_cnt - c->peer_fwd_cnt;

	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

static bool data_ready(const struct vsock_conn *c)
{
	return c->state == VC_ESTABLISHED && c->readable && !c->host_eof && !c->peer_no_rcv;
}

bool vc_wants_rx(const struct vsock_conn *c)
{
	if (c->pend)
		return true;
	return data_ready(c) && (vc_peer_credit(c) > 0 || !c->credit_asked);
}

void vc_schedule(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;

	if (c->in_rxq || !vc_wants_rx(c))
		return;
	c->in_rxq = true;
	c->rx_next = NULL;
	c->rx_prev = vs->rx_tail;
	if (vs->rx_tail)
		vs->rx_tail->rx_next = c;
	else
		vs->rx_head = c;
	vs->rx_tail = c;
}

void vc_unschedule(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;

	if (!c->in_rxq)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		vs->rx_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		vs->rx_tail = c->rx_prev;
	c->in_rxq = false;
	c->rx_next = c->rx_prev = NULL;
}

/* --- guest → host: the buffer and the socket --- */

/* Write the buffered bytes to the socket. false: the host peer is gone (reset c). */
static bool flush(struct vsock_conn *c)
{
	while (c->buf_used) {
		uint32_t n = VSOCK_CONN_BUF - c->buf_head;
		ssize_t w;

		if (n > c->buf_used)
			n = c->buf_used;
		w = send(c->fd, c->buf + c->buf_head, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->buf_head = (c->buf_head + (uint32_t)w) % VSOCK_CONN_BUF;
		c->buf_used -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	free(c->buf);
	c->buf = NULL;
	c->buf_head = 0;
	return true;
}

/* Copy the iov's bytes from offset `off` behind the buffered ones. */
static bool buffer(struct vsock_conn *c, const struct iovec *iov, int iovcnt, size_t off)
{
	if (!c->buf && !(c->buf = malloc(VSOCK_CONN_BUF)))
		return false;
	for (int i = 0; i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (off >= len) {
			off -= len;
			continue;
		}
		p += off;
		len -= off;
		off = 0;
		while (len) {
			uint32_t tail = (c->buf_head + c->buf_used) % VSOCK_CONN_BUF;
			size_t n = VSOCK_CONN_BUF - tail < len ? VSOCK_CONN_BUF - tail : len;

			memcpy(c->buf + tail, p, n);
			c->buf_used += (uint32_t)n;
			p += n;
			len -= n;
		}
	}
	return true;
}

/* Data from the guest: straight to the socket while nothing is buffered, the rest buffered
 * (within the credit kiln gave). false: reset c. */
static bool rw(struct vsock_conn *c, const struct iovec *iov, int iovcnt, uint32_t len)
{
	ssize_t w = 0;

	if (c->state != VC_ESTABLISHED || c->peer_no_send)
		return false;
	if ((uint64_t)c->buf_used + len > VSOCK_CONN_BUF) {
		c->vs->stats.credit_overruns++;
		return false;
	}
	if (len == 0)
		return true;
	if (c->buf_used == 0) {
		struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};

		w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		w = w < 0 ? 0 : w;
		c->fwd_cnt += (uint32_t)w;
	}
	return (uint32_t)w == len || buffer(c, iov, iovcnt, (size_t)w);
}

/* Owe the guest a CREDIT_UPDATE once a quarter of the buffer was forwarded unannounced. */
static void credit_check(struct vsock_conn *c)
{
	if (c->fwd_cnt - c->fwd_cnt_sent >= VSOCK_CONN_BUF / 4)
		c->pend |= VC_P_CREDIT_UPDATE;
}

/* After the buffer drained: the guest's shutdown reaches the host. false: reset c (both sides
 * are done). */
static bool after_flush(struct vsock_conn *c)
{
	if (c->buf_used)
		return true;
	if (c->peer_no_send && (c->peer_no_rcv || c->host_eof))
		return false; /* the guest closed (or nothing flows any more): RST ends it */
	if (c->peer_no_send && !c->wr_shut) {
		c->wr_shut = true;
		(void)shutdown(c->fd, SHUT_WR);
	}
	return true;
}

static void guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	if (flags & VSOCK_SHUTDOWN_RCV)
		c->peer_no_rcv = true;
	if (flags & VSOCK_SHUTDOWN_SEND)
		c->peer_no_send = true;
}

/* The packet's operation on an established (or LOCAL_INIT) connection. false: reset c. */
static bool established_op(struct vsock_conn *c, const struct vsock_hdr *h, const struct iovec *iov,
			   int iovcnt)
{
	switch (h->op) {
	case VSOCK_OP_RW:
		return rw(c, iov, iovcnt, h->len);
	case VSOCK_OP_CREDIT_UPDATE:
		return true;
	case VSOCK_OP_CREDIT_REQUEST:
		c->pend |= VC_P_CREDIT_UPDATE;
		return true;
	case VSOCK_OP_SHUTDOWN:
		guest_shutdown(c, h->flags);
		return true;
	case VSOCK_OP_RESPONSE:
		return false; /* only for LOCAL_INIT (vc_from_guest) */
	default:
		return false; /* REQUEST on an existing connection, an unknown op */
	}
}

/* The guest accepted a host-initiated connection: tell the host peer "OK <port>\n". */
static bool accepted(struct vsock_conn *c)
{
	char line[24];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);

	if (send(c->fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n)
		return false;
	c->state = VC_ESTABLISHED;
	c->vs->stats.conns_opened++;
	return true;
}

void vc_from_guest(struct vsock_conn *c, const struct vsock_hdr *h, const struct iovec *iov,
		   int iovcnt)
{
	bool ok;

	if (h->op == VSOCK_OP_RST) {
		vc_kill(c, false);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (vc_peer_credit(c) > 0)
		c->credit_asked = false;
	if (c->state == VC_LOCAL_INIT)
		ok = h->op == VSOCK_OP_RESPONSE && accepted(c);
	else
		ok = established_op(c, h, iov, iovcnt) && flush(c) && after_flush(c);
	if (!ok) {
		vc_kill(c, true);
		return;
	}
	credit_check(c);
	vc_schedule(c);
}

void vc_guest_connect(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	uint32_t src_port = h->src_port, dst_port = h->dst_port;
	char path[sizeof(vs->path) + 16];
	struct vsock_conn *c = NULL;
	int fd = -ENAMETOOLONG;

	/* At the limit, refuse before connecting: the host listener must not see (and the guest
	 * must not be able to drive) a connection that is closed at once. */
	if (vs->nr_conns < VSOCK_CONN_MAX &&
	    (size_t)snprintf(path, sizeof(path), "%s_%u", vs->path, dst_port) < sizeof(path))
		fd = unix_connect(path, SOCK_NONBLOCK, 0);
	if (fd >= 0)
		c = vc_new(vs, fd, VC_ESTABLISHED);
	else
		vs->stats.conns_refused++;
	if (!c) {
		vc_queue_rst(vs, dst_port, src_port);
		return;
	}
	vc_set_key(c, dst_port, src_port);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->pend = VC_P_RESPONSE;
	vs->stats.conns_opened++;
	vc_schedule(c);
}

/* --- host → guest --- */

int vc_read(struct vsock_conn *c, const struct iovec *iov, int iovcnt, uint32_t max)
{
	struct iovec v[VIRTQ_CHAIN_MAX];
	struct msghdr m = {.msg_iov = v};
	ssize_t n;

	for (int i = 0; i < iovcnt && max; i++) {
		v[i] = iov[i];
		if (v[i].iov_len > max)
			v[i].iov_len = max;
		max -= (uint32_t)v[i].iov_len;
		m.msg_iovlen++;
	}
	n = recvmsg(c->fd, &m, MSG_DONTWAIT);
	if (n > 0)
		return (int)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->readable = errno == EINTR;
		return 0;
	}
	if (n < 0 || c->host_hup) {
		if (n < 0)
			c->vs->stats.host_errors++;
		return -1; /* gone: reset */
	}
	c->host_eof = true; /* the host peer shut its sending side */
	c->shut_flags = VSOCK_SHUTDOWN_SEND;
	c->pend |= VC_P_SHUTDOWN;
	return after_flush(c) ? 0 : -1;
}

/* --- host-initiated connections --- */

/* Firecracker's request line: "connect" (any case), blanks, a decimal u32, optional more words.
 * 0 with *port, or -EINVAL. */
static int parse_line(char *line, uint32_t *port)
{
	char *save = NULL, *w = strtok_r(line, " \t\r\n\v\f", &save), *end;
	unsigned long v;

	if (!w || strcasecmp(w, "connect") != 0)
		return -EINVAL;
	w = strtok_r(NULL, " \t\r\n\v\f", &save);
	if (!w || !isdigit((unsigned char)w[0]))
		return -EINVAL;
	errno = 0;
	v = strtoul(w, &end, 10);
	if (*end || errno || v > UINT32_MAX)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}

static uint32_t next_local_port(struct virtio_vsock *vs)
{
	for (;;) {
		bool used = false;

		vs->local_port_last++;
		if (vs->local_port_last < VSOCK_PORT_FIRST || vs->local_port_last >= 1u << 31)
			vs->local_port_last = VSOCK_PORT_FIRST;
		for (struct vsock_conn *c = vs->all; c && !used; c = c->next)
			used = keyed(c) && c->local_port == vs->local_port_last;
		if (!used)
			return vs->local_port_last;
	}
}

/* Read the CONNECT line without taking a byte past it (the peer's data stays in the socket).
 * false: the line is bad or the peer left (close it). */
static bool read_line(struct vsock_conn *c)
{
	char line[VSOCK_LINE_MAX + 1];
	ssize_t n = recv(c->fd, line, VSOCK_LINE_MAX, MSG_PEEK | MSG_DONTWAIT);
	char *nl;
	uint32_t port;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	nl = memchr(line, '\n', (size_t)n);
	if (!nl)
		return n > 0 && n < VSOCK_LINE_MAX; /* wait for the rest */
	if (recv(c->fd, line, (size_t)(nl - line + 1), MSG_DONTWAIT) != nl - line + 1)
		return false;
	nl[1] = 0;
	if (parse_line(line, &port) < 0)
		return false;
	c->state = VC_LOCAL_INIT;
	vc_set_key(c, next_local_port(c->vs), port);
	c->pend = VC_P_REQUEST;
	vc_schedule(c);
	return true;
}

static void on_listener(struct virtio_vsock *vs)
{
	int fd;

	while ((fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct vsock_conn *c = vc_new(vs, fd, VC_CONNECT_LINE);

		if (c && !read_line(c)) {
			vs->stats.conns_refused++;
			vc_kill(c, false);
		}
	}
}

/* --- the nested epoll --- */

static void on_conn(struct vsock_conn *c, uint32_t events)
{
	if (events & EPOLLHUP)
		c->host_hup = true;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (c->state == VC_CONNECT_LINE) {
		if (!read_line(c)) {
			c->vs->stats.conns_refused++;
			vc_kill(c, false);
		}
		return;
	}
	if ((events & EPOLLOUT) || (events & (EPOLLHUP | EPOLLERR))) {
		uint32_t before = c->fwd_cnt;

		if (!flush(c) || !after_flush(c)) {
			vc_kill(c, true);
			return;
		}
		if (c->fwd_cnt != before)
			credit_check(c);
	}
	vc_schedule(c);
}

void vc_poll(struct virtio_vsock *vs)
{
	struct epoll_event ev[64];
	int n;

	do {
		n = epoll_wait(vs->epfd, ev, 64, 0);
		for (int i = 0; i < n; i++) {
			int *tag = ev[i].data.ptr;

			if (*tag == LISTEN_TAG) {
				on_listener(vs);
			} else if (*tag == KICK_TAG) {
				uint64_t kicks;

				if (read(vs->kick_fd, &kicks, sizeof(kicks)) == sizeof(kicks))
					vs->kicked = true;
			} else {
				on_conn((struct vsock_conn *)tag, ev[i].events);
			}
		}
	} while (n == 64);
}

/* vsock.c — virtio-vsock: the queues (packets from the transmit queue to the connections,
 * packets for the guest into receive buffers, TRANSPORT_RESET on the event queue), the device's
 * configuration, board entry, statistics and state. Connections: vsock_conn.c. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "util/err.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "virtio/vsock.h"
#include "virtio/vsock_conn.h"

_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_LEN, "virtio_vsock_hdr is 44 bytes");

/* --- chains --- */

/* Copy len bytes between buf and the chain's segments [from, to) starting at byte off of them.
 * to_chain: buf → segments. Returns the bytes copied. */
static uint32_t chain_copy(struct virtq_chain *c, unsigned from, unsigned to, uint32_t off,
			   void *buf, uint32_t len, bool to_chain)
{
	uint8_t *p = buf;
	uint32_t done = 0;

	for (unsigned i = from; i < to && done < len; i++) {
		uint32_t n, seg = c->seg[i].len;
		uint8_t *base = c->seg[i].host;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off < len - done ? seg - off : len - done;
		if (to_chain)
			memcpy(base + off, p + done, n);
		else
			memcpy(p + done, base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* The chain's segments [from, to) from byte off on, as iovecs (at most max). Returns the count. */
static int chain_iov(struct virtq_chain *c, unsigned from, unsigned to, uint32_t off,
		     struct iovec *iov, int max)
{
	int k = 0;

	for (unsigned i = from; i < to && k < max; i++) {
		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		iov[k].iov_base = (uint8_t *)c->seg[i].host + off;
		iov[k++].iov_len = c->seg[i].len - off;
		off = 0;
	}
	return k;
}

static void hdr_to_host(struct vsock_hdr *h)
{
	h->src_cid = le64toh(h->src_cid);
	h->dst_cid = le64toh(h->dst_cid);
	h->src_port = le32toh(h->src_port);
	h->dst_port = le32toh(h->dst_port);
	h->len = le32toh(h->len);
	h->type = le16toh(h->type);
	h->op = le16toh(h->op);
	h->flags = le32toh(h->flags);
	h->buf_alloc = le32toh(h->buf_alloc);
	h->fwd_cnt = le32toh(h->fwd_cnt);
}

static void push(struct virtio_vsock *vs, unsigned q, uint32_t written)
{
	if (virtq_push(&vs->vd.vq[q], vs->chain.head, written) < 0)
		virtio_dev_set_needs_reset(&vs->vd, "used ring update failed");
}

/* --- transmit: packets from the guest --- */

/* A transmit chain: driver-readable buffers only, a whole header at least. */
static bool tx_chain_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == c->nr_segs && c->out_len >= VSOCK_HDR_LEN;
}

/* A packet whose connection kiln does not have: REQUEST opens one, RST is ignored, anything
 * else is answered with RST. */
static void tx_no_conn(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	if (h->op == VSOCK_OP_REQUEST)
		vc_guest_connect(vs, h);
	else if (h->op != VSOCK_OP_RST)
		vc_queue_rst(vs, h->dst_port, h->src_port);
}

/* One packet of the held chain: header checked, handed to its connection. */
static void tx_packet(struct virtio_vsock *vs)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	struct vsock_hdr h;
	struct vsock_conn *c;
	int n;

	chain_copy(&vs->chain, 0, vs->chain.nr_out, 0, &h, sizeof(h), false);
	hdr_to_host(&h);
	if (h.len > VSOCK_PKT_MAX || h.len > vs->chain.out_len - VSOCK_HDR_LEN) {
		vs->stats.tx_malformed++;
		log_warn_ratelimited(&vs->vd.rl, "virtio-vsock: packet length %u beyond its buffer",
				     h.len);
		return;
	}
	if (h.src_cid != vs->cfg.guest_cid || h.dst_cid != VSOCK_HOST_CID) {
		vs->stats.tx_dropped++;
		return;
	}
	vs->stats.tx_packets++;
	vs->stats.tx_bytes += h.len;
	c = vc_find(vs, h.dst_port, h.src_port);
	if (h.type != VSOCK_TYPE_STREAM) {
		if (c)
			vc_kill(c, true);
		else if (h.op != VSOCK_OP_RST)
			vc_queue_rst(vs, h.dst_port, h.src_port);
		return;
	}
	if (!c) {
		tx_no_conn(vs, &h);
		return;
	}
	n = chain_iov(&vs->chain, 0, vs->chain.nr_out, VSOCK_HDR_LEN, iov, VIRTQ_CHAIN_MAX);
	/* the payload: h.len bytes after the header */
	for (int i = 0, left = (int)h.len; i < n; i++) {
		if ((int)iov[i].iov_len >= left) {
			iov[i].iov_len = (size_t)left;
			n = i + 1;
			break;
		}
		left -= (int)iov[i].iov_len;
	}
	vc_from_guest(c, &h, iov, h.len ? n : 0);
}

static void rx_pump(struct virtio_vsock *vs);

static void tx_pump(struct virtio_vsock *vs)
{
	bool used = false;
	int ret;

	while (virtio_dev_live(&vs->vd) &&
	       (ret = virtio_dev_take(&vs->vd, VSOCK_TXQ, &vs->chain, tx_chain_ok,
				      &vs->stats.tx_malformed, &used)) > 0) {
		tx_packet(vs);
		push(vs, VSOCK_TXQ, 0);
		used = true;
	}
	if (used)
		virtio_dev_used(&vs->vd, VSOCK_TXQ);
	rx_pump(vs);
}

/* --- receive: packets for the guest --- */

static bool rx_chain_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == 0 && c->in_len >= VSOCK_HDR_LEN;
}

/* Write h (host order) as the packet's header, complete the chain with its payload len. */
static void rx_finish(struct virtio_vsock *vs, struct vsock_hdr h)
{
	uint32_t len = h.len;
	struct vsock_hdr le = {
	    .src_cid = htole64(VSOCK_HOST_CID),
	    .dst_cid = htole64(vs->cfg.guest_cid),
	    .src_port = htole32(h.src_port),
	    .dst_port = htole32(h.dst_port),
	    .len = htole32(h.len),
	    .type = htole16(VSOCK_TYPE_STREAM),
	    .op = htole16(h.op),
	    .flags = htole32(h.flags),
	    .buf_alloc = htole32(h.buf_alloc),
	    .fwd_cnt = htole32(h.fwd_cnt),
	};

	chain_copy(&vs->chain, 0, vs->chain.nr_segs, 0, &le, sizeof(le), true);
	push(vs, VSOCK_RXQ, VSOCK_HDR_LEN + len);
	vs->stats.rx_packets++;
	vs->stats.rx_bytes += len;
	if (h.op == VSOCK_OP_RST)
		vs->stats.rst_sent++;
}

/* A header from c with operation op (its credit fields filled in, fwd_cnt announced). */
static struct vsock_hdr conn_hdr(struct vsock_conn *c, uint16_t op)
{
	struct vsock_hdr h = {.src_port = c->local_port,
			      .dst_port = c->peer_port,
			      .op = op,
			      .buf_alloc = VSOCK_CONN_BUF,
			      .fwd_cnt = c->fwd_cnt};

	c->fwd_cnt_sent = c->fwd_cnt;
	return h;
}

/* The control packet c owes first, as an operation (0: none), clearing its bit. */
static uint16_t take_control(struct vsock_conn *c, uint32_t *flags)
{
	static const struct {
		unsigned bit;
		uint16_t op;
	} order[] = {
	    {VC_P_REQUEST, VSOCK_OP_REQUEST},
	    {VC_P_RESPONSE, VSOCK_OP_RESPONSE},
	    {VC_P_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE},
	    {VC_P_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST},
	    {VC_P_SHUTDOWN, VSOCK_OP_SHUTDOWN},
	};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (c->pend & order[i].bit) {
			c->pend &= ~order[i].bit;
			*flags = order[i].op == VSOCK_OP_SHUTDOWN ? c->shut_flags : 0;
			return order[i].op;
		}
	return 0;
}

/* Data from c's socket into the held chain. 1: a packet was made; 0: none (the chain stays
 * unused); -1: c was killed. */
static int rx_data(struct virtio_vsock *vs, struct vsock_conn *c)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	uint32_t credit = vc_peer_credit(c), max = vs->chain.in_len - VSOCK_HDR_LEN;
	struct vsock_hdr h;
	int n, got;

	if (credit == 0) {
		c->credit_asked = true;
		c->pend |= VC_P_CREDIT_REQUEST;
		return 0;
	}
	max = max < credit ? max : credit;
	max = max < VSOCK_PKT_MAX ? max : VSOCK_PKT_MAX;
	n = chain_iov(&vs->chain, 0, vs->chain.nr_segs, VSOCK_HDR_LEN, iov, VIRTQ_CHAIN_MAX);
	got = max ? vc_read(c, iov, n, max) : 0;
	if (got < 0) {
		vc_kill(c, true);
		return -1;
	}
	if (got == 0)
		return 0;
	h = conn_hdr(c, VSOCK_OP_RW);
	h.len = (uint32_t)got;
	c->rx_cnt += (uint32_t)got;
	rx_finish(vs, h);
	return 1;
}

/* One packet from c into the held chain. Returns whether the chain was used. */
static bool rx_conn(struct virtio_vsock *vs, struct vsock_conn *c)
{
	uint32_t flags = 0;
	uint16_t op = take_control(c, &flags);
	int ret;

	if (op) {
		struct vsock_hdr h = conn_hdr(c, op);

		h.flags = flags;
		rx_finish(vs, h);
		ret = 1;
	} else if (c->state == VC_ESTABLISHED && c->readable && !c->host_eof && !c->peer_no_rcv) {
		ret = rx_data(vs, c);
		if (ret < 0)
			return false;
	} else {
		ret = 0;
	}
	vc_schedule(c);
	return ret > 0;
}

/* A queued reset (for a connection kiln no longer has) into the held chain, if any. */
static bool rx_rst(struct virtio_vsock *vs)
{
	while (vs->rst_len) {
		struct vsock_rst r = vs->rstq[vs->rst_head];

		vs->rst_head = (vs->rst_head + 1) % VSOCK_RSTQ_MAX;
		vs->rst_len--;
		if (!vc_find(vs, r.local_port, r.peer_port)) {
			rx_finish(vs, (struct vsock_hdr){.src_port = r.local_port,
							 .dst_port = r.peer_port,
							 .op = VSOCK_OP_RST,
							 .buf_alloc = VSOCK_CONN_BUF});
			return true;
		}
	}
	return false;
}

/* The next packet into the held chain: a queued reset first, then the connections in turn, each
 * twice at most (a read that found EOF owes a SHUTDOWN next; one that cannot use this chain, too
 * small for data, waits for the next chain; one killed meanwhile leaves a reset). Returns whether
 * the chain was used. */
static bool rx_one(struct virtio_vsock *vs)
{
	for (unsigned n = 2 * vs->nr_conns; n && vs->rx_head; n--) {
		struct vsock_conn *c = vs->rx_head;

		if (rx_rst(vs))
			return true;
		vc_unschedule(c);
		if (rx_conn(vs, c))
			return true;
	}
	return rx_rst(vs);
}

static void rx_pump(struct virtio_vsock *vs)
{
	bool used = false;
	int ret;

	while (virtio_dev_live(&vs->vd) && (vs->rst_len || vs->rx_head)) {
		ret = virtio_dev_take(&vs->vd, VSOCK_RXQ, &vs->chain, rx_chain_ok,
				      &vs->stats.rx_malformed, &used);
		if (ret <= 0)
			break;
		if (rx_one(vs)) {
			used = true;
			continue;
		}
		/* nothing fit this chain (data needs more than a header's room): it waits */
		if (virtq_unpop(&vs->vd.vq[VSOCK_RXQ]) < 0)
			virtio_dev_set_needs_reset(&vs->vd, "receive chain lost");
		break;
	}
	if (used)
		virtio_dev_used(&vs->vd, VSOCK_RXQ);
}

/* --- the event queue --- */

static bool ev_chain_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == 0 && c->in_len >= 4;
}

/* Deliver a pending TRANSPORT_RESET if the driver posted an event buffer. */
static void ev_pump(struct virtio_vsock *vs)
{
	uint32_t id = htole32(VSOCK_EVENT_TRANSPORT_RESET);
	bool used = false;

	if (vs->reset_pending && virtio_dev_live(&vs->vd) &&
	    virtio_dev_take(&vs->vd, VSOCK_EVQ, &vs->chain, ev_chain_ok, &vs->stats.rx_malformed,
			    &used) > 0) {
		chain_copy(&vs->chain, 0, vs->chain.nr_segs, 0, &id, sizeof(id), true);
		push(vs, VSOCK_EVQ, sizeof(id));
		vs->reset_pending = false;
		vs->stats.events++;
		used = true;
	}
	if (used)
		virtio_dev_used(&vs->vd, VSOCK_EVQ);
}

/* --- virtio_dev_ops --- */

static uint64_t vsock_features(void *dev)
{
	(void)dev;
	return 0; /* §5.10.3: no feature bit means stream sockets only */
}

static void vsock_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_vsock *vs = dev;

	memcpy(buf, vs->config + off, len);
}

/* DRIVER_OK: what the driver made available before gets its first look on the VMM thread
 * (on_epoll). The status write arrives on a vCPU thread, whose seccomp filter allows no socket,
 * and a REQUEST among those packets would connect. */
static int vsock_activate(void *dev)
{
	struct virtio_vsock *vs = dev;
	uint64_t one = 1;

	if (write(vs->kick_fd, &one, sizeof(one)) < 0)
		log_warn_ratelimited(&vs->vd.rl, "virtio-vsock: activation: eventfd: %s",
				     strerror(errno));
	return 0;
}

/* The driver reset the device (or a queue): its connections are gone with the rings. */
static void vsock_reset(void *dev)
{
	vc_kill_all(dev);
}

static void vsock_queue_reset(void *dev, unsigned q)
{
	(void)q;
	vc_kill_all(dev);
}

static void vsock_notify(void *dev, unsigned q)
{
	struct virtio_vsock *vs = dev;

	if (q == VSOCK_EVQ)
		ev_pump(vs);
	else
		tx_pump(vs); /* rx too: a receive notification means buffers */
}

static int save_hook(void *dev, struct state_buf *b)
{
	return virtio_vsock_save(dev, b);
}

static int load_hook(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_vsock_load(dev, b, version);
}

static const struct device_counter vsock_counters[] = {
    DEVICE_COUNTER(struct virtio_vsock_stats, rx_packets),
    DEVICE_COUNTER(struct virtio_vsock_stats, rx_bytes),
    DEVICE_COUNTER(struct virtio_vsock_stats, tx_packets),
    DEVICE_COUNTER(struct virtio_vsock_stats, tx_bytes),
    DEVICE_COUNTER(struct virtio_vsock_stats, tx_malformed),
    DEVICE_COUNTER(struct virtio_vsock_stats, tx_dropped),
    DEVICE_COUNTER(struct virtio_vsock_stats, rx_malformed),
    DEVICE_COUNTER(struct virtio_vsock_stats, conns_opened),
    DEVICE_COUNTER(struct virtio_vsock_stats, conns_refused),
    DEVICE_COUNTER(struct virtio_vsock_stats, rst_sent),
    DEVICE_COUNTER(struct virtio_vsock_stats, rst_dropped),
    DEVICE_COUNTER(struct virtio_vsock_stats, credit_overruns),
    DEVICE_COUNTER(struct virtio_vsock_stats, host_errors),
    DEVICE_COUNTER(struct virtio_vsock_stats, events),
};

static void stats_hook(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_vsock_stats s = virtio_vsock_stats(dev);

	device_report_counters(DEVICE_COUNTERS(vsock_counters), &s, name, fn, ctx);
}

static void destroy_hook(void *dev)
{
	virtio_vsock_destroy(dev);
}

static const struct virtio_dev_ops vsock_ops = {
    .name = "virtio-vsock",
    .device_id = VIRTIO_ID_VSOCK,
    .nr_queues = 3,
    .queue_max = VSOCK_QUEUE_SIZE,
    .config_len = VSOCK_CONFIG_LEN,
    .features = vsock_features,
    .config_read = vsock_config_read,
    .activate = vsock_activate,
    .reset = vsock_reset,
    .notify = vsock_notify,
    .queue_reset = vsock_queue_reset,
    .state_name = "vsock",
    .state_version = VIRTIO_VSOCK_STATE_VERSION,
    .state_min_version = 1,
    .save = save_hook,
    .load = load_hook,
    .stats = stats_hook,
    .destroy = destroy_hook,
};

/* --- creation --- */

/* The nested epoll's events: host sockets, then whatever they made ready for the guest. */
static void on_epoll(void *ctx, int fd, uint32_t events)
{
	struct virtio_vsock *vs = ctx;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&vs->vd.lock);
	vc_poll(vs);
	if (vs->kicked) { /* vsock_activate */
		vs->kicked = false;
		ev_pump(vs);
		tx_pump(vs);
	}
	rx_pump(vs);
	pthread_mutex_unlock(&vs->vd.lock);
}

static int vsock_setup(struct virtio_vsock *vs)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &vs->listen_tag};
	struct epoll_event kick = {.events = EPOLLIN, .data.ptr = &vs->kick_tag};
	int ret;

	vs->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (vs->epfd < 0)
		return -errno;
	vs->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs->kick_fd < 0 || epoll_ctl(vs->epfd, EPOLL_CTL_ADD, vs->kick_fd, &kick) < 0)
		return -errno;
	ret = unix_listen(vs->path, 128, SOCK_NONBLOCK);
	if (ret < 0)
		return ret;
	vs->listen_fd = ret;
	if (epoll_ctl(vs->epfd, EPOLL_CTL_ADD, vs->listen_fd, &ev) < 0)
		return -errno;
	return event_loop_add(vs->cfg.loop, vs->epfd, EPOLLIN, on_epoll, vs);
}

int virtio_vsock_create(const struct virtio_vsock_config *cfg, struct virtio_vsock **out)
{
	struct virtio_vsock *vs;
	uint64_t cid_le;
	int ret;

	if (!cfg->mem || !cfg->loop || cfg->guest_cid < VSOCK_CID_MIN || !cfg->uds_path ||
	    !cfg->uds_path[0] || cfg->guest_cid > UINT32_MAX)
		return -EINVAL;
	if (strlen(cfg->uds_path) >= sizeof(vs->path))
		return -ENAMETOOLONG;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->cfg = *cfg;
	strcpy(vs->path, cfg->uds_path);
	vs->cfg.uds_path = vs->path;
	vs->epfd = vs->listen_fd = vs->kick_fd = -1;
	vs->listen_tag = LISTEN_TAG;
	vs->kick_tag = KICK_TAG;
	vs->local_port_last = VSOCK_PORT_FIRST - 1;
	cid_le = htole64(cfg->guest_cid);
	memcpy(vs->config, &cid_le, sizeof(cid_le));
	ret = virtio_dev_init(&vs->vd, &vsock_ops, vs, cfg->mem);
	if (ret < 0) {
		free(vs);
		return ret;
	}
	ret = vsock_setup(vs);
	if (ret < 0) {
		virtio_vsock_destroy(vs);
		return ret;
	}
	*out = vs;
	return 0;
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	vc_kill_all(vs);
	if (vs->epfd >= 0) {
		(void)event_loop_del(vs->cfg.loop, vs->epfd);
		close(vs->epfd);
	}
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->path);
	}
	if (vs->kick_fd >= 0)
		close(vs->kick_fd);
	virtio_dev_destroy(&vs->vd);
	free(vs);
}

int virtio_vsock_board_add(struct vm *vm)
{
	struct virtio_vsock_config c = {.mem = &vm->mem,
					.loop = vm->loop,
					.guest_cid = vm->cfg->vsock.guest_cid,
					.uds_path = vm->cfg->vsock.uds_path};
	struct virtio_vsock *vs;
	int ret;

	if (!vm->cfg->vsock.set)
		return 0;
	ret = virtio_vsock_create(&c, &vs);
	if (ret < 0)
		return err_set(vm->err, ret == -ENOMEM ? ret : -EINVAL, "vsock: %s: %s", c.uds_path,
			       unix_sock_strerror(ret));
	ret = board_add_virtio(vm, &vs->vd, "vsock");
	if (ret < 0)
		virtio_vsock_destroy(vs);
	return ret;
}

unsigned virtio_vsock_conns(struct virtio_vsock *vs)
{
	unsigned n;

	pthread_mutex_lock(&vs->vd.lock);
	n = vs->nr_conns;
	pthread_mutex_unlock(&vs->vd.lock);
	return n;
}

struct virtio_vsock_stats virtio_vsock_stats(struct virtio_vsock *vs)
{
	struct virtio_vsock_stats s;

	pthread_mutex_lock(&vs->vd.lock);
	s = vs->stats;
	pthread_mutex_unlock(&vs->vd.lock);
	return s;
}

/* --- state --- */

int virtio_vsock_save(struct virtio_vsock *vs, struct state_buf *b)
{
	pthread_mutex_lock(&vs->vd.lock);
	state_put_u64(b, vs->cfg.guest_cid);
	state_put_u32(b, vs->local_port_last);
	pthread_mutex_unlock(&vs->vd.lock);
	return 0;
}

int virtio_vsock_load(struct virtio_vsock *vs, struct state_buf *b, uint16_t version)
{
	uint64_t cid = state_get_u64(b);
	/* version 1 had no port counter: numbering starts again as in a new device */
	uint32_t port_last = version >= 2 ? state_get_u32(b) : VSOCK_PORT_FIRST - 1;
	const char *why = NULL;

	pthread_mutex_lock(&vs->vd.lock);
	if (version < 1 || version > VIRTIO_VSOCK_STATE_VERSION || state_section_done(b))
		why = "unknown section version or length";
	else if (cid != vs->cfg.guest_cid)
		why = "the guest CID differs from the configuration's";
	if (!why) {
		vc_kill_all(vs);
		vs->local_port_last = port_last; /* next_local_port wraps a value out of range */
		vs->reset_pending = true;	 /* sent at activation (virtio_dev_restored) */
	}
	pthread_mutex_unlock(&vs->vd.lock);
	if (why)
		state_refuse(b, "virtio-vsock: %s", why);
	return why ? -EINVAL : 0;
}

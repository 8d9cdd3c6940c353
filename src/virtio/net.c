/* net.c — virtio-net: transmit chains written to the backend straight from guest memory
 * (writev, no copy), received frames read straight into guest buffers (readv, one copy), mergeable
 * receive buffers, backpressure both ways, rate limiters, the MMDS hooks, configuration space,
 * statistics and state. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "backend/tap.h"
#include "core/board.h"
#include "core/vm.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/net.h"

_Static_assert(sizeof(struct net_hdr) == NET_HDR_LEN, "virtio_net_hdr_v1 is 12 bytes");
_Static_assert(NET_OFFLOAD_CSUM == TUN_F_CSUM && NET_OFFLOAD_TSO4 == TUN_F_TSO4 &&
		   NET_OFFLOAD_TSO6 == TUN_F_TSO6 && NET_OFFLOAD_UFO == TUN_F_UFO,
	       "offload flags are TUNSETOFFLOAD's");

#define BIT(f) (1ULL << (f))

/* --- bytes spread over an iovec array --- */

/* Copy len bytes between buf and the array's bytes from offset off (the caller checked that
 * they exist). to_iov: buf → array; else array → buf. */
static void iov_copy(const struct iovec *iov, unsigned cnt, size_t off, void *buf, size_t len,
		     bool to_iov)
{
	uint8_t *p = buf;

	for (unsigned i = 0; i < cnt && len; i++) {
		size_t n;
		uint8_t *base = iov[i].iov_base;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		if (to_iov)
			memcpy(base + off, p, n);
		else
			memcpy(p, base + off, n);
		p += n;
		len -= n;
		off = 0;
	}
}

/* The array's bytes from offset off on, as entries of dst (at most max). Returns their count. */
static unsigned iov_tail(const struct iovec *iov, unsigned cnt, size_t off, struct iovec *dst,
			 unsigned max)
{
	unsigned k = 0;

	for (unsigned i = 0; i < cnt && k < max; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		dst[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		dst[k++].iov_len = iov[i].iov_len - off;
		off = 0;
	}
	return k;
}

/* Give chain `head` back to the driver with nothing written (a malformed one), logged. false if
 * the used ring could not take it (the device is broken then). */
static bool refuse(struct virtio_net *n, unsigned q, uint16_t head, uint64_t *counter,
		   const char *why)
{
	(*counter)++;
	log_warn_ratelimited(&n->vd.rl, "virtio-net: %s queue: %s", q == NET_RXQ ? "rx" : "tx",
			     why);
	if (virtq_push(&n->vd.vq[q], head, 0) == 0)
		return true;
	virtio_dev_set_needs_reset(&n->vd, "used ring update failed");
	return false;
}

static bool queue_live(const struct virtio_net *n, unsigned q)
{
	return virtio_dev_live(&n->vd) && n->vd.vq[q].active;
}

static void rx_pump(struct virtio_net *n);

/* --- transmit --- */

/* Why a transmit chain cannot be a frame, or NULL. */
static const char *tx_chain_bad(const struct virtq_chain *c)
{
	if (c->nr_out != c->nr_segs)
		return "a chain with device-writable buffers";
	if (c->out_len < NET_HDR_LEN)
		return "a frame shorter than the virtio-net header";
	if (c->out_len > NET_BUF_MAX)
		return "a frame longer than 65562 bytes";
	return NULL;
}

/* Take the next transmit chain into n->tx (held). Malformed ones complete empty (counted).
 * Returns 1, 0 (the queue is empty) or -EIO (the device broke). */
static int tx_take(struct virtio_net *n, bool *used)
{
	const char *why;
	int ret;

	while ((ret = virtio_dev_take(&n->vd, NET_TXQ, &n->tx, NULL, NULL, used)) == 1) {
		why = tx_chain_bad(&n->tx);
		if (!why) {
			n->tx_held = true;
			n->tx_admitted = false;
			return 1;
		}
		if (!refuse(n, NET_TXQ, n->tx.head, &n->stats.tx_malformed, why))
			return -EIO;
		*used = true;
	}
	return ret;
}

/* Offer the held frame to tx_intercept: true if it consumed the frame. */
static bool tx_intercepted(struct virtio_net *n)
{
	const struct virtq_chain *c = &n->tx;
	struct net_hdr h;
	unsigned cnt;

	if (!n->hooks.tx_intercept)
		return false;
	iov_copy(n->tx_iov, c->nr_segs, 0, &h, sizeof(h), false);
	cnt = iov_tail(n->tx_iov, c->nr_segs, NET_HDR_LEN, n->view, NET_RX_IOV_MAX);
	if (!n->hooks.tx_intercept(n->hooks.ctx, &h, n->view, (int)cnt, c->out_len - NET_HDR_LEN))
		return false;
	n->stats.tx_intercepted++;
	n->tx_consumed = true;
	return true;
}

/* Send the held frame: false if the backend is full (the chain stays held), true once it is
 * done with (written, intercepted, or refused by the backend and dropped). */
static bool tx_send(struct virtio_net *n)
{
	const struct virtq_chain *c = &n->tx;
	ssize_t r;

	for (unsigned i = 0; i < c->nr_segs; i++)
		n->tx_iov[i] = (struct iovec){c->seg[i].host, c->seg[i].len};
	if (tx_intercepted(n))
		return true;
	do
		r = writev(n->cfg.fd, n->tx_iov, c->nr_segs);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return false;
	if (r != (ssize_t)c->out_len) {
		n->stats.tx_errors++;
		log_warn_ratelimited(&n->vd.rl, "virtio-net: backend write: %s",
				     r < 0 ? strerror(errno) : "short write");
		return true;
	}
	n->stats.tx_frames++;
	n->stats.tx_bytes += (uint64_t)r;
	return true;
}

/* Send frames until the queue is empty, the backend full or the rate limiter says wait. */
static void tx_pump(struct virtio_net *n)
{
	bool used = false;

	n->tx_consumed = false;
	while (queue_live(n, NET_TXQ) && !n->tx_wait_out) {
		if (!n->tx_held && tx_take(n, &used) <= 0)
			break;
		if (!n->tx_admitted && !rate_limiter_consume(&n->tx_rl, n->tx.out_len)) {
			n->stats.tx_throttled++;
			break; /* the limiter's timer resumes */
		}
		n->tx_admitted = true;
		if (!tx_send(n)) {
			n->tx_wait_out = true; /* EPOLLOUT resumes */
			n->stats.tx_blocked++;
			break;
		}
		n->tx_held = false;
		if (virtq_push(&n->vd.vq[NET_TXQ], n->tx.head, 0) < 0)
			virtio_dev_set_needs_reset(&n->vd, "used ring update failed");
		used = true;
	}
	if (used)
		virtio_dev_used(&n->vd, NET_TXQ);
	if (n->tx_consumed)
		rx_pump(n); /* the intercept's answer may be waiting at the rx source */
}

/* --- receive: the chains frames go into --- */

/*
 * The batch (n->rxb) holds receive chains popped in ring order and not completed yet. Within one
 * rx_pump, chains a frame did not need stay for the next frame (each chain is popped once);
 * when the pump stops they go back to the ring (virtq_unpop, the last popped first), except the
 * chains of a frame the rate limiter holds back. Chains are only ever taken from the ring's end
 * and given back to it, so what the batch holds is always the queue's last popped chains.
 */

static bool rx_chain_ok(const struct virtq_chain *c)
{
	return c->nr_out == 0 && c->in_len >= NET_HDR_LEN;
}

/* Give back the batch's chains from index `from` on (the last popped first). */
static void rx_give_back(struct virtio_net *n, unsigned from)
{
	struct net_rx_batch *b = &n->rxb;

	for (; b->nr > from; b->nr--) {
		b->nr_iov -= b->nseg[b->nr - 1];
		b->space -= b->room[b->nr - 1];
		if (virtq_unpop(&n->vd.vq[NET_RXQ]) < 0)
			virtio_dev_set_needs_reset(&n->vd, "receive chain lost");
	}
}

/* Forget the batch's first k chains (completed), keeping the others in order. */
static void rx_shift(struct net_rx_batch *b, unsigned k)
{
	unsigned segs = 0, left = b->nr - k;

	for (unsigned i = 0; i < k; i++) {
		segs += b->nseg[i];
		b->space -= b->room[i];
	}
	memmove(b->head, b->head + k, left * sizeof(b->head[0]));
	memmove(b->room, b->room + k, left * sizeof(b->room[0]));
	memmove(b->nseg, b->nseg + k, left * sizeof(b->nseg[0]));
	memmove(b->iov, b->iov + segs, (b->nr_iov - segs) * sizeof(b->iov[0]));
	b->nr = left;
	b->nr_iov -= segs;
	b->used = 0;
}

/* Append n->rx_chain to the batch. */
static void rx_add(struct virtio_net *n)
{
	struct net_rx_batch *b = &n->rxb;
	const struct virtq_chain *c = &n->rx_chain;

	b->head[b->nr] = c->head;
	b->room[b->nr] = c->in_len;
	b->nseg[b->nr++] = c->nr_segs;
	b->space += c->in_len;
	for (unsigned i = 0; i < c->nr_segs; i++)
		b->iov[b->nr_iov++] = (struct iovec){c->seg[i].host, c->seg[i].len};
}

/* The chain just popped cannot join the batch (malformed, or past its segments). With chains
 * in the batch it goes back to the ring, to come first next time: 1 (stop gathering). Alone, a
 * malformed one completes empty: 0 (go on). -EIO if the device broke. */
static int rx_refuse_or_stop(struct virtio_net *n, bool *used)
{
	const struct virtq_chain *c = &n->rx_chain;

	if (n->rxb.nr) {
		if (virtq_unpop(&n->vd.vq[NET_RXQ]) < 0)
			virtio_dev_set_needs_reset(&n->vd, "receive chain lost");
		return 1;
	}
	if (!refuse(n, NET_RXQ, c->head, &n->stats.rx_malformed,
		    c->nr_out ? "a chain with driver-readable buffers"
			      : "a buffer shorter than the virtio-net header"))
		return -EIO;
	*used = true;
	return 0;
}

/*
 * Pop receive chains into the batch until it holds `want` bytes (with MRG_RXBUF; one chain
 * without), the queue is empty or the batch full. Returns the chains in the batch (0: no buffer)
 * or -EIO.
 */
static int rx_gather(struct virtio_net *n, uint64_t want, bool *used)
{
	struct net_rx_batch *b = &n->rxb;
	const struct virtq_chain *c = &n->rx_chain;
	int ret;

	while (b->space < want && (b->nr == 0 || n->mrg) && b->nr < NET_QUEUE_SIZE) {
		ret = virtio_dev_take(&n->vd, NET_RXQ, &n->rx_chain, NULL, NULL, used);
		if (ret <= 0)
			return ret < 0 ? ret : (int)b->nr;
		if (!rx_chain_ok(c) || b->nr_iov + c->nr_segs > NET_RX_IOV_MAX) {
			ret = rx_refuse_or_stop(n, used);
			if (ret < 0)
				return ret;
			if (ret)
				break;
			continue;
		}
		rx_add(n);
	}
	return (int)b->nr;
}

/* The batch holds a frame of len bytes (12 <= len <= space) from its start: note the chains it
 * fills and write num_buffers into its header. */
static void rx_place(struct virtio_net *n, uint32_t len)
{
	struct net_rx_batch *b = &n->rxb;
	uint64_t left = len;
	uint16_t nb;
	unsigned k = 0;

	while (left) {
		left -= left < b->room[k] ? left : b->room[k];
		k++;
	}
	b->used = k;
	b->len = len;
	nb = htole16((uint16_t)k);
	iov_copy(b->iov, b->nr_iov, offsetof(struct net_hdr, num_buffers), &nb, sizeof(nb), true);
}

/* Complete the placed frame's chains. */
static void rx_push(struct virtio_net *n)
{
	struct net_rx_batch *b = &n->rxb;
	uint64_t left = b->len;

	for (unsigned i = 0; i < b->used; i++) {
		uint32_t l = left < b->room[i] ? (uint32_t)left : b->room[i];

		if (virtq_push(&n->vd.vq[NET_RXQ], b->head[i], l) < 0) {
			virtio_dev_set_needs_reset(&n->vd, "used ring update failed");
			break;
		}
		left -= l;
	}
	n->stats.rx_frames++;
	n->stats.rx_bytes += b->len;
	n->rx_held = false;
	rx_shift(b, b->used);
}

/* Charge the placed frame to the limiter and complete it; false: held until the timer. */
static bool rx_admit(struct virtio_net *n, bool *used)
{
	if (!rate_limiter_consume(&n->rx_rl, n->rxb.len)) {
		n->rx_held = true;
		n->stats.rx_throttled++;
		return false;
	}
	rx_push(n);
	*used = true;
	return true;
}

/* --- receive: where frames come from --- */

static size_t src_pending(struct virtio_net *n)
{
	return n->hooks.rx_pending && n->hooks.rx_take ? n->hooks.rx_pending(n->hooks.ctx) : 0;
}

/* The source's frame the guest cannot take: dropped. 1 (go on). */
static int src_drop(struct virtio_net *n)
{
	(void)n->hooks.rx_take(n->hooks.ctx, NULL, 0);
	n->stats.rx_dropped++;
	return 1;
}

/* The source's next frame (pend bytes) into the batch. 1 delivered or dropped, 0 wait (for
 * buffers, or for the limiter). */
static int rx_from_source(struct virtio_net *n, size_t pend, bool *used)
{
	struct net_rx_batch *b = &n->rxb;
	struct net_hdr h = {0};
	unsigned cnt;
	size_t got;

	if (b->space < NET_HDR_LEN + pend) {
		if (!n->mrg)
			return src_drop(n); /* each buffer must hold a whole frame */
		n->stats.rx_no_buffers++;
		return 0; /* the frame waits for more buffers */
	}
	iov_copy(b->iov, b->nr_iov, 0, &h, sizeof(h), true);
	cnt = iov_tail(b->iov, b->nr_iov, NET_HDR_LEN, n->view, NET_RX_IOV_MAX);
	got = n->hooks.rx_take(n->hooks.ctx, n->view, (int)cnt);
	if (got == 0 || got > pend)
		return got ? src_drop(n) : 0;
	n->stats.rx_injected++;
	rx_place(n, (uint32_t)(NET_HDR_LEN + got));
	return rx_admit(n, used);
}

/* Read one frame from the backend into the batch (a probe byte past it catches a frame longer
 * than the batch). Returns its length, or 0: no frame (EAGAIN, end of file or an error; rx then
 * waits for the next backend event). */
static ssize_t rx_read(struct virtio_net *n)
{
	struct net_rx_batch *b = &n->rxb;
	ssize_t r;

	b->iov[b->nr_iov] = (struct iovec){&n->rx_probe, 1};
	do
		r = readv(n->cfg.fd, b->iov, (int)b->nr_iov + 1);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		return r;
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		n->stats.rx_errors++;
		log_warn_ratelimited(&n->vd.rl, "virtio-net: backend read: %s", strerror(errno));
	}
	n->rx_ready = false;
	return 0;
}

/* The backend's next frame into the batch. 1 delivered or dropped, 0 stop. */
static int rx_from_backend(struct virtio_net *n, bool *used)
{
	ssize_t r = rx_read(n);

	if (r == 0)
		return 0;
	if ((uint64_t)r > n->rxb.space || r < NET_HDR_LEN) {
		n->stats.rx_dropped++; /* the chains stay for the next frame */
		if (r < NET_HDR_LEN)
			log_warn_ratelimited(&n->vd.rl, "virtio-net: dropped a %zd-byte frame", r);
		else /* r counts the probe byte: how much longer the frame was is unknown */
			log_warn_ratelimited(&n->vd.rl,
					     "virtio-net: dropped a frame longer than its %llu "
					     "bytes of buffers",
					     (unsigned long long)n->rxb.space);
		return 1;
	}
	rx_place(n, (uint32_t)r);
	return rx_admit(n, used);
}

/* Receive one frame, the rx source's first. 1 if one was delivered or dropped (go on), 0 stop:
 * nothing to receive, no buffers, held by the limiter, or the device broke. */
static int rx_one(struct virtio_net *n, bool *used)
{
	size_t pend = src_pending(n);
	int nr;

	if (!pend && !n->rx_ready)
		return 0;
	if (pend > NET_FRAME_MAX)
		return src_drop(n);
	nr = rx_gather(n, pend ? NET_HDR_LEN + pend : NET_BUF_MAX, used);
	if (nr <= 0) {
		if (nr == 0)
			n->stats.rx_no_buffers++; /* the guest's notification resumes */
		return 0;
	}
	return pend ? rx_from_source(n, pend, used) : rx_from_backend(n, used);
}

/* Receive frames while there are frames, buffers and tokens; then give back the chains no frame
 * took. */
static void rx_pump(struct virtio_net *n)
{
	bool used = false;

	if (!queue_live(n, NET_RXQ))
		return;
	if (!n->rx_held || rx_admit(n, &used))
		while (virtio_dev_live(&n->vd) && rx_one(n, &used) > 0)
			;
	rx_give_back(n, n->rx_held ? n->rxb.used : 0);
	if (used)
		virtio_dev_used(&n->vd, NET_RXQ);
}

/* --- main loop callbacks --- */

/* The backend's readiness changed (edge-triggered). */
static void on_backend(void *ctx, int fd, uint32_t events)
{
	struct virtio_net *n = ctx;

	(void)fd;
	pthread_mutex_lock(&n->vd.lock);
	if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && n->tx_wait_out) {
		n->tx_wait_out = false;
		tx_pump(n);
	}
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		n->rx_ready = true;
		rx_pump(n);
	}
	pthread_mutex_unlock(&n->vd.lock);
}

static void on_rx_rate(void *ctx)
{
	struct virtio_net *n = ctx;

	pthread_mutex_lock(&n->vd.lock);
	rx_pump(n);
	pthread_mutex_unlock(&n->vd.lock);
}

static void on_tx_rate(void *ctx)
{
	struct virtio_net *n = ctx;

	pthread_mutex_lock(&n->vd.lock);
	tx_pump(n);
	pthread_mutex_unlock(&n->vd.lock);
}

/* --- virtio_dev_ops (vd.lock held) --- */

static uint64_t net_features(void *dev)
{
	struct virtio_net *n = dev;
	uint64_t f = BIT(VIRTIO_NET_F_MAC) | BIT(VIRTIO_NET_F_STATUS) | BIT(VIRTIO_NET_F_MRG_RXBUF);
	unsigned o = n->cfg.offloads;

	if (n->cfg.mtu) /* as Firecracker: advertised only when configured */
		f |= BIT(VIRTIO_NET_F_MTU);
	if (!(o & NET_OFFLOAD_CSUM))
		return f; /* every other offload needs checksum offload (§5.1.3.1) */
	f |= BIT(VIRTIO_NET_F_CSUM) | BIT(VIRTIO_NET_F_GUEST_CSUM) | BIT(VIRTIO_NET_F_HOST_TSO4) |
	     BIT(VIRTIO_NET_F_HOST_TSO6) | BIT(VIRTIO_NET_F_HOST_UFO);
	if (o & NET_OFFLOAD_TSO4)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO4);
	if (o & NET_OFFLOAD_TSO6)
		f |= BIT(VIRTIO_NET_F_GUEST_TSO6);
	if (o & NET_OFFLOAD_UFO)
		f |= BIT(VIRTIO_NET_F_GUEST_UFO);
	return f;
}

/* The backend offloads matching the driver's GUEST_* features. Without GUEST_CSUM there are
 * none: the others need it (a driver that breaks that rule gets no offload). */
static unsigned guest_offloads(const struct virtio_net *n)
{
	const struct virtio_dev *vd = &n->vd;
	unsigned f = NET_OFFLOAD_CSUM;

	if (!virtio_dev_has_feature(vd, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	if (virtio_dev_has_feature(vd, VIRTIO_NET_F_GUEST_TSO4))
		f |= NET_OFFLOAD_TSO4;
	if (virtio_dev_has_feature(vd, VIRTIO_NET_F_GUEST_TSO6))
		f |= NET_OFFLOAD_TSO6;
	if (virtio_dev_has_feature(vd, VIRTIO_NET_F_GUEST_UFO))
		f |= NET_OFFLOAD_UFO;
	return f & n->cfg.offloads;
}

static void net_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_net *n = dev;

	memcpy(buf, n->config + off, len); /* the transport checked the range */
}

/* DRIVER_OK (or a restore): the backend's offloads follow the negotiated features; buffers and
 * frames posted before were notified while the device was not live. */
static int net_activate(void *dev)
{
	struct virtio_net *n = dev;
	int ret;

	n->mrg = virtio_dev_has_feature(&n->vd, VIRTIO_NET_F_MRG_RXBUF);
	if (n->cfg.set_offload) {
		ret = n->cfg.set_offload(n->cfg.fd, guest_offloads(n));
		if (ret < 0) {
			log_err("virtio-net: setting the backend's offloads: %s", strerror(-ret));
			return ret;
		}
	}
	n->rx_ready = true;
	tx_pump(n);
	rx_pump(n);
	return 0;
}

/* What the device holds from queue q belongs to a ring that is gone. */
static void net_queue_reset(void *dev, unsigned q)
{
	struct virtio_net *n = dev;

	if (q == NET_TXQ) {
		n->tx_held = n->tx_admitted = n->tx_wait_out = false;
	} else {
		n->rx_held = false;
		memset(&n->rxb, 0, offsetof(struct net_rx_batch, head));
	}
}

static void net_reset(void *dev)
{
	struct virtio_net *n = dev;

	net_queue_reset(n, NET_TXQ);
	net_queue_reset(n, NET_RXQ);
	n->mrg = false;
	n->rx_ready = true;
}

static void net_notify(void *dev, unsigned q)
{
	if (q == NET_TXQ)
		tx_pump(dev);
	else
		rx_pump(dev);
}

/* --- board hooks (main thread, vd.lock not held) --- */

static int net_save_hook(void *dev, struct state_buf *b)
{
	return virtio_net_save(dev, b);
}

static int net_load_hook(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_net_load(dev, b, version);
}

static const struct device_counter net_counters[] = {
    DEVICE_COUNTER(struct virtio_net_stats, rx_frames),
    DEVICE_COUNTER(struct virtio_net_stats, rx_bytes),
    DEVICE_COUNTER(struct virtio_net_stats, tx_frames),
    DEVICE_COUNTER(struct virtio_net_stats, tx_bytes),
    DEVICE_COUNTER(struct virtio_net_stats, rx_dropped),
    DEVICE_COUNTER(struct virtio_net_stats, rx_errors),
    DEVICE_COUNTER(struct virtio_net_stats, rx_malformed),
    DEVICE_COUNTER(struct virtio_net_stats, rx_no_buffers),
    DEVICE_COUNTER(struct virtio_net_stats, rx_throttled),
    DEVICE_COUNTER(struct virtio_net_stats, rx_injected),
    DEVICE_COUNTER(struct virtio_net_stats, tx_errors),
    DEVICE_COUNTER(struct virtio_net_stats, tx_malformed),
    DEVICE_COUNTER(struct virtio_net_stats, tx_blocked),
    DEVICE_COUNTER(struct virtio_net_stats, tx_throttled),
    DEVICE_COUNTER(struct virtio_net_stats, tx_intercepted),
};

static void net_stats_hook(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_net_stats s = virtio_net_stats(dev);

	device_report_counters(DEVICE_COUNTERS(net_counters), &s, name, fn, ctx);
}

static int net_drain_hook(void *dev, int timeout_ms)
{
	(void)timeout_ms;
	return virtio_net_drain(dev);
}

static void net_destroy_hook(void *dev)
{
	virtio_net_destroy(dev);
}

static const struct virtio_dev_ops net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .nr_queues = 2,
    .queue_max = NET_QUEUE_SIZE,
    .config_len = NET_CONFIG_LEN,
    .features = net_features,
    .config_read = net_config_read,
    .config_write = NULL, /* the MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR */
    .activate = net_activate,
    .reset = net_reset,
    .notify = net_notify,
    .queue_reset = net_queue_reset,
    .state_name = "net",
    .state_version = VIRTIO_NET_STATE_VERSION,
    .state_min_version = 1,
    .save = net_save_hook,
    .load = net_load_hook,
    .stats = net_stats_hook,
    .drain = net_drain_hook,
    .destroy = net_destroy_hook,
};

/* --- creation --- */

/* mac, status (link up), max_virtqueue_pairs (1), mtu: little-endian. */
static void fill_config(struct virtio_net *n)
{
	uint16_t status = htole16(VIRTIO_NET_S_LINK_UP), pairs = htole16(1);
	uint16_t mtu = htole16(n->cfg.mtu ? n->cfg.mtu : NET_MTU_DEFAULT);

	memcpy(n->config, n->mac, 6);
	memcpy(n->config + 6, &status, 2);
	memcpy(n->config + 8, &pairs, 2);
	memcpy(n->config + 10, &mtu, 2);
}

/* A locally administered unicast MAC: 06, then five random bytes. 0 or -errno. */
static int random_mac(uint8_t mac[6])
{
	ssize_t r;

	mac[0] = 0x06;
	do
		r = getrandom(mac + 1, 5, 0);
	while (r < 0 && errno == EINTR);
	return r == 5 ? 0 : (r < 0 ? -errno : -EIO);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* Everything but the backend descriptor's ownership; the caller closes it on failure. */
static int net_setup(struct virtio_net *n, const struct virtio_net_config *cfg)
{
	int ret = cfg->mac_set ? 0 : random_mac(n->mac);

	if (ret < 0)
		return ret;
	if (cfg->mac_set)
		memcpy(n->mac, cfg->mac, 6);
	fill_config(n);
	ret = set_nonblock(cfg->fd);
	if (ret == 0)
		ret = virtio_dev_init(&n->vd, &net_ops, n, cfg->mem);
	if (ret < 0)
		return ret;
	ret = rate_limiter_init(&n->rx_rl, &cfg->rx_rate, cfg->loop, on_rx_rate, n);
	if (ret == 0)
		ret = rate_limiter_init(&n->tx_rl, &cfg->tx_rate, cfg->loop, on_tx_rate, n);
	if (ret == 0)
		ret =
		    event_loop_add(cfg->loop, cfg->fd, EPOLLIN | EPOLLOUT | EPOLLET, on_backend, n);
	if (ret < 0) {
		rate_limiter_destroy(&n->rx_rl);
		rate_limiter_destroy(&n->tx_rl);
		virtio_dev_destroy(&n->vd);
	}
	return ret;
}

int virtio_net_create(const struct virtio_net_config *cfg, struct virtio_net **out)
{
	struct virtio_net *n;
	int ret;

	if (!cfg->mem || !cfg->loop || cfg->fd < 0 || (cfg->mtu && cfg->mtu < 68))
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->cfg = *cfg;
	n->hooks = cfg->hooks;
	n->rx_rl.timer_fd = n->tx_rl.timer_fd = -1;
	n->rx_ready = true;
	ret = net_setup(n, cfg);
	if (ret < 0) {
		free(n);
		return ret;
	}
	*out = n;
	return 0;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	(void)event_loop_del(n->cfg.loop, n->cfg.fd);
	close(n->cfg.fd);
	rate_limiter_destroy(&n->rx_rl);
	rate_limiter_destroy(&n->tx_rl);
	virtio_dev_destroy(&n->vd);
	free(n);
}

/* --- the board --- */

/* The counter name interface `index` joins the board under ("net<index>"). */
static void net_name(unsigned index, char name[DEVICE_NAME_MAX])
{
	snprintf(name, DEVICE_NAME_MAX, "net%u", index);
}

/* A TAP open failure the configuration can fix (a name, a permission, a busy interface). */
static bool config_error(int err)
{
	return err == -EINVAL || err == -EPERM || err == -EACCES || err == -EBUSY ||
	       err == -ENODEV || err == -ENOENT || err == -ENXIO;
}

/* Interface `index` of the configuration, on its TAP, attached as "net<index>". */
static int net_add(struct vm *vm, unsigned index)
{
	const struct net_config *nc = &vm->cfg->nets[index];
	struct virtio_net_config c = {.mem = &vm->mem,
				      .loop = vm->loop,
				      .set_offload = tap_set_offload,
				      .mac_set = nc->mac_set,
				      .mtu = nc->mtu,
				      .rx_rate = nc->rx_rate,
				      .tx_rate = nc->tx_rate};
	char why[TAP_WHY_MAX], name[DEVICE_NAME_MAX];
	struct virtio_net *n;
	int ret;

	memcpy(c.mac, nc->mac, 6);
	c.fd = tap_open(nc->tap, why, sizeof(why));
	if (c.fd < 0)
		return err_set(vm->err, config_error(c.fd) ? -EINVAL : c.fd,
			       "network interface %s: %s", nc->id, why);
	c.offloads = tap_probe_offloads(c.fd);
	ret = virtio_net_create(&c, &n);
	if (ret < 0) {
		close(c.fd);
		return err_set(vm->err, ret, "network interface %s: %s", nc->id, strerror(-ret));
	}
	net_name(index, name);
	ret = board_add_virtio(vm, &n->vd, name);
	if (ret < 0)
		virtio_net_destroy(n);
	return ret;
}

int virtio_net_board_add(struct vm *vm)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->cfg->nr_nets && ret == 0; i++)
		ret = net_add(vm, i);
	return ret;
}

struct virtio_net *virtio_net_find(struct vm *vm, unsigned index)
{
	char name[DEVICE_NAME_MAX];
	struct virtio_dev *vd;

	net_name(index, name);
	vd = device_list_find(&vm->devices, name, &virtio_device_ops);
	return vd && vd->ops == &net_ops ? vd->dev : NULL;
}

/* --- the integrator's controls --- */

void virtio_net_set_hooks(struct virtio_net *n, const struct virtio_net_hooks *hooks)
{
	pthread_mutex_lock(&n->vd.lock);
	n->hooks = *hooks;
	rx_pump(n);
	pthread_mutex_unlock(&n->vd.lock);
}

void virtio_net_rx_kick(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vd.lock);
	rx_pump(n);
	pthread_mutex_unlock(&n->vd.lock);
}

int virtio_net_set_rate_limits(struct virtio_net *n, const struct rate_limit_config *rx,
			       const struct rate_limit_config *tx)
{
	int ret = 0;

	pthread_mutex_lock(&n->vd.lock);
	if (rx)
		ret = rate_limiter_reserve(&n->rx_rl, rx);
	if (tx && ret == 0)
		ret = rate_limiter_reserve(&n->tx_rl, tx);
	if (rx && ret == 0)
		ret = rate_limiter_update(&n->rx_rl, rx);
	if (tx && ret == 0)
		ret = rate_limiter_update(&n->tx_rl, tx); /* reserved: cannot fail */
	tx_pump(n);
	rx_pump(n);
	pthread_mutex_unlock(&n->vd.lock);
	return ret;
}

void virtio_net_mac(struct virtio_net *n, uint8_t mac[6])
{
	pthread_mutex_lock(&n->vd.lock);
	memcpy(mac, n->mac, 6);
	pthread_mutex_unlock(&n->vd.lock);
}

struct virtio_net_stats virtio_net_stats(struct virtio_net *n)
{
	struct virtio_net_stats s;

	pthread_mutex_lock(&n->vd.lock);
	s = n->stats;
	pthread_mutex_unlock(&n->vd.lock);
	return s;
}

/* --- state --- */

int virtio_net_drain(struct virtio_net *n)
{
	pthread_mutex_lock(&n->vd.lock);
	if (n->rx_held) {
		rx_push(n); /* past the limiter: it pays the debt later */
		virtio_dev_used(&n->vd, NET_RXQ);
	}
	pthread_mutex_unlock(&n->vd.lock);
	return 0;
}

int virtio_net_save(struct virtio_net *n, struct state_buf *b)
{
	int ret = 0;

	pthread_mutex_lock(&n->vd.lock);
	if (n->rx_held) {
		log_err("virtio-net: cannot save with a received frame held back");
		ret = -EBUSY;
	} else {
		state_put_bytes(b, n->mac, 6);
		state_put_u8(b, n->tx_held);
		state_put_u16(b, n->tx_held ? n->tx.head : 0);
	}
	pthread_mutex_unlock(&n->vd.lock);
	return ret;
}

/* Pop again the transmit chain held when saved. NULL, or why it cannot be. */
static const char *repop_tx(struct virtio_net *n, uint16_t head)
{
	struct virtq *q = &n->vd.vq[NET_TXQ];

	if (virtq_unpop(q) < 0 || virtq_pop(q, &n->tx) < 0 || n->tx.head != head)
		return "the held transmit chain is not the queue's last popped one";
	if (tx_chain_bad(&n->tx))
		return "the held transmit chain is not a frame";
	return NULL;
}

int virtio_net_load(struct virtio_net *n, struct state_buf *b, uint16_t version)
{
	uint8_t mac[6], held;
	uint16_t head;
	const char *why = NULL;

	state_get_bytes(b, mac, sizeof(mac));
	held = state_get_u8(b);
	head = state_get_u16(b);
	pthread_mutex_lock(&n->vd.lock);
	if (version != VIRTIO_NET_STATE_VERSION || state_section_done(b) || held > 1)
		why = "unknown section version, length or flag";
	else if (mac[0] & 1)
		why = "the saved MAC is not a unicast address";
	else if (held)
		why = repop_tx(n, head);
	if (!why) {
		memcpy(n->mac, mac, 6);
		fill_config(n);
		n->tx_held = held;
		n->tx_admitted = n->tx_wait_out = false;
	}
	pthread_mutex_unlock(&n->vd.lock);
	if (why)
		state_refuse(b, "virtio-net: %s", why);
	return why ? -EINVAL : 0;
}

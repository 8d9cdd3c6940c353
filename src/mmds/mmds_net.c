/* mmds_net.c — MMDS on a virtio-net interface: the network device's hooks feed MMDS's stack and
 * drain its answers; a timerfd on the event loop fires its retransmissions and timeouts. The
 * stack runs under the device's lock (the hooks are called with it held, the timer goes through
 * virtio_net_rx_kick), and under the store's lock while it reads the store. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/device.h"
#include "core/vm.h"
#include "mmds/mmds_net.h"
#include "mmds/ns.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/net.h"

#define NET_HDR_F_NEEDS_CSUM 1	/* virtio_net_hdr flags (§5.1.6) */
#define PEEK_LEN	     64 /* enough of a frame for mmds_ns_is_for_mmds (Ethernet + IPv4/ARP) */

struct mmds_net {
	struct mmds *store;
	struct mmds_ns *ns;
	struct virtio_net *net;
	struct event_loop *loop;
	int timer_fd;
	size_t out_len;			/* a frame in `out` the device has not taken yet */
	uint8_t out[MMDS_NS_FRAME_MIN]; /* MMDS's next frame for the guest */
	uint8_t frame[NET_FRAME_MAX];	/* the guest's frame to MMDS, copied out of guest memory */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Arm the timer for the stack's next deadline (a frame ready now needs none: the device asks). */
static void arm(struct mmds_net *h)
{
	uint64_t at = mmds_ns_next_deadline(h->ns);
	struct itimerspec its = {0};

	if (at != 0 && at != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(at / 1000);
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000 + 1; /* never all zero */
	}
	if (timerfd_settime(h->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn("mmds: timer: %s", strerror(errno));
}

/* Copy up to cap bytes of the frame in iov into buf; the bytes copied. */
static size_t gather(void *buf, size_t cap, const struct iovec *iov, int iovcnt)
{
	size_t done = 0;

	for (int i = 0; i < iovcnt && done < cap; i++) {
		size_t n = iov[i].iov_len < cap - done ? iov[i].iov_len : cap - done;

		memcpy((uint8_t *)buf + done, iov[i].iov_base, n);
		done += n;
	}
	return done;
}

/* hooks.tx_intercept: a frame to MMDS's address goes to the stack, never to the TAP. */
static bool on_tx(void *ctx, const struct net_hdr *hdr, const struct iovec *frame, int iovcnt,
		  size_t len)
{
	struct mmds_net *h = ctx;
	uint8_t peek[PEEK_LEN] = {0};
	size_t n = gather(peek, sizeof(peek), frame, iovcnt);

	if (!mmds_ns_is_for_mmds(h->ns, peek, n))
		return false;
	n = gather(h->frame, sizeof(h->frame), frame,
		   iovcnt); /* the guest may change it meanwhile */
	mmds_lock(h->store);
	mmds_ns_input(h->ns, h->frame, n < len ? n : len,
		      (hdr->flags & NET_HDR_F_NEEDS_CSUM) ? MMDS_NS_RX_CSUM_PARTIAL : 0, now_ms());
	mmds_unlock(h->store);
	arm(h);
	return true;
}

/* hooks.rx_pending: the length of MMDS's next frame for the guest (made now if need be). */
static size_t on_rx_pending(void *ctx)
{
	struct mmds_net *h = ctx;

	if (h->out_len)
		return h->out_len;
	mmds_lock(h->store);
	h->out_len = mmds_ns_output(h->ns, h->out, sizeof(h->out), now_ms());
	mmds_unlock(h->store);
	arm(h);
	return h->out_len;
}

/* hooks.rx_take: hand that frame over (iov NULL: the guest cannot take it, drop it). */
static size_t on_rx_take(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct mmds_net *h = ctx;
	size_t done = 0, len = h->out_len;

	for (int i = 0; iov && i < iovcnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, h->out + done, n);
		done += n;
	}
	h->out_len = 0;
	return done;
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	struct mmds_net *h = ctx;
	uint64_t n;

	(void)events;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("mmds: timer: %s", strerror(errno));
	virtio_net_rx_kick(h->net); /* asks rx_pending, which fires the due timers */
}

/* ---- the board entry ---- */

static const struct device_counter counters[] = {
    DEVICE_COUNTER(struct mmds_ns_stats, rx_frames),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_bad),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_bad_csum),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_dropped),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_arp),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_segments),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_requests),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_too_large),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_no_token),
    DEVICE_COUNTER(struct mmds_ns_stats, rx_invalid_token),
    DEVICE_COUNTER(struct mmds_ns_stats, tx_frames),
    DEVICE_COUNTER(struct mmds_ns_stats, tx_bytes),
    DEVICE_COUNTER(struct mmds_ns_stats, tx_retransmits),
    DEVICE_COUNTER(struct mmds_ns_stats, connections_created),
    DEVICE_COUNTER(struct mmds_ns_stats, connections_destroyed),
    DEVICE_COUNTER(struct mmds_ns_stats, connections_refused),
};

static void entry_stats(void *obj, const char *name, device_stat_fn fn, void *ctx)
{
	struct mmds_net *h = obj;
	struct mmds_ns_stats s;

	pthread_mutex_lock(&h->net->vd.lock);
	s = *mmds_ns_stats(h->ns);
	pthread_mutex_unlock(&h->net->vd.lock);
	device_report_counters(DEVICE_COUNTERS(counters), &s, name, fn, ctx);
}

static void mmds_net_free(struct mmds_net *h)
{
	if (h->timer_fd >= 0) {
		(void)event_loop_del(h->loop, h->timer_fd);
		close(h->timer_fd);
	}
	mmds_ns_destroy(h->ns);
	free(h);
}

/* After the network device (registered earlier, destroyed earlier): nothing calls the hooks. */
static void entry_destroy(void *obj)
{
	mmds_net_free(obj);
}

static const struct device_ops mmds_net_ops = {
    .kind = "mmds",
    .stats = entry_stats,
    .destroy = entry_destroy,
};

static int create(struct vm *vm, struct virtio_net *net, struct mmds_net **out)
{
	const struct mmds_config *mc = &vm->cfg->mmds;
	struct mmds_ns_config c = {.ipv4 = mc->ipv4,
				   .version = mc->version,
				   .imds_compat = mc->imds_compat,
				   .tokens = &vm->mmds->tokens};
	struct mmds_net *h = calloc(1, sizeof(*h));
	int ret;

	if (!h)
		return -ENOMEM;
	h->store = vm->mmds;
	h->net = net;
	h->loop = vm->loop;
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	ret = h->timer_fd < 0 ? -errno : mmds_ns_create(vm->mmds, &c, &h->ns);
	if (ret == 0)
		ret = event_loop_add(vm->loop, h->timer_fd, EPOLLIN, on_timer, h);
	if (ret < 0) {
		mmds_net_free(h);
		return ret;
	}
	*out = h;
	return 0;
}

/* MMDS on interface index `i` of the configuration. */
static int attach(struct vm *vm, unsigned i)
{
	struct virtio_net *net = virtio_net_find(vm, i);
	const char *id = vm->cfg->nets[i].id;
	char name[DEVICE_NAME_MAX];
	struct mmds_net *h;
	int ret;

	if (!net)
		return err_set(vm->err, -EINVAL, "mmds: network interface %s has no device", id);
	ret = create(vm, net, &h);
	if (ret < 0)
		return err_set(vm->err, ret, "mmds: network interface %s: %s", id, strerror(-ret));
	snprintf(name, sizeof(name), "mmds.%.18s", id);
	ret = device_list_add_ops(&vm->devices, &mmds_net_ops, h, name, NULL, 0, 0);
	if (ret < 0) {
		mmds_net_free(h);
		return err_set(vm->err, ret, "mmds: network interface %s: %s", id, strerror(-ret));
	}
	virtio_net_set_hooks(net, &(struct virtio_net_hooks){.tx_intercept = on_tx,
							     .rx_pending = on_rx_pending,
							     .rx_take = on_rx_take,
							     .ctx = h});
	return 0;
}

int mmds_net_board_add(struct vm *vm)
{
	const struct mmds_config *mc = &vm->cfg->mmds;
	int ret = 0;

	if (!mc->set || !vm->mmds)
		return 0;
	for (unsigned k = 0; k < mc->nr_ifaces && ret == 0; k++) {
		int i = config_net_find(vm->cfg, mc->ifaces[k]);

		ret = i < 0 ? err_set(vm->err, -EINVAL, "mmds: no network interface %s",
				      mc->ifaces[k])
			    : attach(vm, (unsigned)i);
	}
	return ret;
}

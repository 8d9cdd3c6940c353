/* rng.c — virtio-rng: each request chain is filled from getrandom(2) without blocking. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "util/log.h"
#include "virtio/rng.h"

#define REQUESTQ 0

static ssize_t source(struct virtio_rng *r, void *buf, size_t len)
{
	ssize_t n;

	do
		n = r->cfg.getrandom ? r->cfg.getrandom(buf, len, GRND_NONBLOCK)
				     : getrandom(buf, len, GRND_NONBLOCK);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Fill the held chain's writable segments, up to VIRTIO_RNG_CHAIN_MAX bytes. Returns the bytes
 * written, or -errno (-EAGAIN: no entropy now) if there are none. */
static ssize_t fill(struct virtio_rng *r)
{
	const struct virtq_chain *c = &r->chain;
	uint32_t budget = c->in_len < VIRTIO_RNG_CHAIN_MAX ? c->in_len : VIRTIO_RNG_CHAIN_MAX;
	uint32_t done = 0;

	for (unsigned i = c->nr_out; i < c->nr_segs && done < budget; i++) {
		uint32_t want = c->seg[i].len < budget - done ? c->seg[i].len : budget - done;
		ssize_t n = source(r, c->seg[i].host, want);

		if (n <= 0)
			return done ? (ssize_t)done : (n < 0 ? n : -EAGAIN);
		done += (uint32_t)n;
		if ((uint32_t)n < want)
			break; /* the source ran short: give what we have */
	}
	return done;
}

static void complete(struct virtio_rng *r, uint32_t written)
{
	r->held = false;
	r->admitted = false;
	r->stats.requests++;
	r->stats.bytes += written;
	if (virtq_push(&r->vd.vq[REQUESTQ], r->chain.head, written) < 0)
		virtio_dev_set_needs_reset(&r->vd, "used ring update failed");
}

static void arm_retry(struct virtio_rng *r)
{
	struct itimerspec its = {.it_value.tv_nsec = VIRTIO_RNG_RETRY_MS * 1000000L};

	if (r->timer_fd >= 0 && timerfd_settime(r->timer_fd, 0, &its, NULL) < 0)
		log_warn_ratelimited(&r->vd.rl, "virtio-rng: retry timer: %s", strerror(errno));
}

/* A request is a chain of device-writable buffers only, with room for something. */
static bool request_ok(const struct virtq_chain *c, unsigned q)
{
	(void)q;
	return c->nr_out == 0 && c->in_len > 0;
}

/* Take the next request into r->chain. Returns 1 if one is held, 0 if none, -EIO if the device
 * broke. Malformed chains (driver-readable segments, or nothing to write) complete empty. */
static int take(struct virtio_rng *r, bool *used)
{
	int ret =
	    virtio_dev_take(&r->vd, REQUESTQ, &r->chain, request_ok, &r->stats.malformed, used);

	r->held = ret == 1;
	return ret;
}

/* Serve requests until the queue is empty or the source runs dry. vd.lock held. */
/* Charge the held request to the rate limiter once: false while it must wait. */
static bool admit(struct virtio_rng *r)
{
	uint32_t bytes =
	    r->chain.in_len < VIRTIO_RNG_CHAIN_MAX ? r->chain.in_len : VIRTIO_RNG_CHAIN_MAX;

	if (!r->admitted && !rate_limiter_consume(&r->rl, bytes)) {
		r->stats.throttled++;
		return false;
	}
	r->admitted = true;
	return true;
}

static void serve(struct virtio_rng *r)
{
	bool used = false;
	ssize_t n;

	while (virtio_dev_live(&r->vd) && (r->held || take(r, &used) > 0)) {
		if (!admit(r))
			break; /* the limiter's timer resumes */
		n = fill(r);
		if (n < 0) {
			r->stats.starved++;
			arm_retry(r);
			break;
		}
		complete(r, (uint32_t)n);
		used = true;
	}
	if (used)
		virtio_dev_used(&r->vd, REQUESTQ);
}

/* The rate limiter's timer: the held request may go now. */
static void on_rate_ready(void *ctx)
{
	struct virtio_rng *r = ctx;

	pthread_mutex_lock(&r->vd.lock);
	serve(r);
	pthread_mutex_unlock(&r->vd.lock);
}

static void on_retry(void *ctx, int fd, uint32_t events)
{
	struct virtio_rng *r = ctx;
	uint64_t expirations;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&r->vd.lock);
	serve(r);
	pthread_mutex_unlock(&r->vd.lock);
}

static uint64_t rng_features(void *dev)
{
	(void)dev;
	return 0; /* §5.4.3: none */
}

static void rng_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	(void)dev;
	(void)off;
	memset(buf, 0, len); /* §5.4.4: no configuration; config_len is 0, so never called */
}

/* Requests posted before DRIVER_OK were notified while the device was not live. */
static int rng_activate(void *dev)
{
	serve(dev);
	return 0;
}

static void rng_reset(void *dev)
{
	struct virtio_rng *r = dev;

	r->held = r->admitted = false; /* the ring it came from is gone */
}

static void rng_notify(void *dev, unsigned q)
{
	(void)q; /* the transport only passes existing queues: there is one */
	serve(dev);
}

static void rng_queue_reset(void *dev, unsigned q)
{
	struct virtio_rng *r = dev;

	(void)q;
	r->held = r->admitted = false; /* its ring is gone */
}

static int rng_save(void *dev, struct state_buf *b)
{
	virtio_rng_save(dev, b);
	return 0;
}

static int rng_load(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_rng_load(dev, b, version);
}

static const struct device_counter rng_counters[] = {
    DEVICE_COUNTER(struct virtio_rng_stats, requests),
    DEVICE_COUNTER(struct virtio_rng_stats, bytes),
    DEVICE_COUNTER(struct virtio_rng_stats, malformed),
    DEVICE_COUNTER(struct virtio_rng_stats, starved),
    DEVICE_COUNTER(struct virtio_rng_stats, throttled),
};

static void rng_stats(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_rng_stats s = virtio_rng_stats(dev);

	device_report_counters(DEVICE_COUNTERS(rng_counters), &s, name, fn, ctx);
}

static void rng_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

static const struct virtio_dev_ops rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .nr_queues = 1,
    .queue_max = VIRTIO_RNG_QUEUE_MAX,
    .config_len = 0,
    .features = rng_features,
    .config_read = rng_config_read,
    .activate = rng_activate,
    .reset = rng_reset,
    .notify = rng_notify,
    .queue_reset = rng_queue_reset,
    .state_name = "rng",
    .state_version = VIRTIO_RNG_STATE_VERSION,
    .state_min_version = 1,
    .save = rng_save,
    .load = rng_load,
    .stats = rng_stats,
    .destroy = rng_destroy,
};

static int timer_setup(struct virtio_rng *r)
{
	int ret;

	if (!r->cfg.loop)
		return 0;
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->timer_fd < 0)
		return -errno;
	ret = event_loop_add(r->cfg.loop, r->timer_fd, EPOLLIN, on_retry, r);
	if (ret < 0) {
		close(r->timer_fd);
		r->timer_fd = -1;
	}
	return ret;
}

int virtio_rng_create(const struct virtio_rng_config *cfg, struct virtio_rng **out)
{
	struct virtio_rng *r;
	int ret;

	if (!cfg->mem)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	r->timer_fd = -1;
	r->rl.timer_fd = -1;
	ret = virtio_dev_init(&r->vd, &rng_ops, r, cfg->mem);
	if (ret < 0) {
		free(r);
		return ret;
	}
	ret = timer_setup(r);
	if (ret == 0)
		ret = rate_limiter_init(&r->rl, &cfg->rate, cfg->loop, on_rate_ready, r);
	if (ret < 0) {
		virtio_rng_destroy(r);
		return ret;
	}
	*out = r;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	if (r->timer_fd >= 0) {
		(void)event_loop_del(r->cfg.loop, r->timer_fd);
		close(r->timer_fd);
	}
	rate_limiter_destroy(&r->rl);
	virtio_dev_destroy(&r->vd);
	free(r);
}

int virtio_rng_board_add(struct vm *vm)
{
	struct virtio_rng_config rc = {
	    .mem = &vm->mem, .loop = vm->loop, .rate = vm->cfg->rng_rate};
	struct virtio_rng *rng;
	int ret;

	if (!vm->cfg->rng)
		return 0;
	ret = virtio_rng_create(&rc, &rng);
	if (ret == 0) {
		ret = board_add_virtio(vm, &rng->vd, "entropy");
		if (ret < 0)
			virtio_rng_destroy(rng);
	}
	return ret;
}

struct virtio_rng_stats virtio_rng_stats(struct virtio_rng *r)
{
	struct virtio_rng_stats s;

	pthread_mutex_lock(&r->vd.lock);
	s = r->stats;
	pthread_mutex_unlock(&r->vd.lock);
	return s;
}

/* --- state --- */

void virtio_rng_save(struct virtio_rng *r, struct state_buf *b)
{
	pthread_mutex_lock(&r->vd.lock);
	state_put_u8(b, r->held);
	state_put_u16(b, r->held ? r->chain.head : 0);
	pthread_mutex_unlock(&r->vd.lock);
}

int virtio_rng_load(struct virtio_rng *r, struct state_buf *b, uint16_t version)
{
	uint8_t held = state_get_u8(b);
	uint16_t head = state_get_u16(b);
	struct virtq *q = &r->vd.vq[REQUESTQ];
	const char *why = NULL;

	pthread_mutex_lock(&r->vd.lock);
	if (version != VIRTIO_RNG_STATE_VERSION || state_section_done(b) || held > 1)
		why = "unknown section version, length or flag";
	else if (held && (virtq_unpop(q) < 0 || virtq_pop(q, &r->chain) < 0 ||
			  r->chain.head != head || r->chain.nr_out || !r->chain.in_len))
		why = "the held request is not the queue's last popped writable chain";
	else
		r->held = held;
	pthread_mutex_unlock(&r->vd.lock);
	if (why)
		state_refuse(b, "virtio-rng: %s", why);
	return why ? -EINVAL : 0;
}

/* rate_limiter.c — token buckets and the device timer behind them (see rate_limiter.h). */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "core/rate_limiter.h"
#include "util/log.h"

#define NS_PER_MS 1000000ull

static bool bucket_active(const struct bucket_config *c)
{
	return c->size && c->refill_ms;
}

bool rate_limit_active(const struct rate_limit_config *c)
{
	return bucket_active(&c->bandwidth) || bucket_active(&c->ops);
}

void token_bucket_init(struct token_bucket *b, const struct bucket_config *cfg, uint64_t now_ns)
{
	b->cfg = *cfg;
	b->budget = (int64_t)cfg->size;
	b->burst = cfg->one_time_burst;
	b->last_ns = now_ns;
}

/* Tokens earned since last_ns, the bucket capped at its size; the remainder of a token's time
 * is carried over (last_ns advances only by the time the whole tokens took). */
static void refill(struct token_bucket *b, uint64_t now_ns)
{
	unsigned __int128 period = (unsigned __int128)b->cfg.refill_ms * NS_PER_MS;
	uint64_t elapsed = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	unsigned __int128 earned = (unsigned __int128)elapsed * b->cfg.size / period;
	uint64_t room = (uint64_t)((int64_t)b->cfg.size - b->budget);

	if (earned >= room) {
		b->budget = (int64_t)b->cfg.size;
		b->last_ns = now_ns;
		return;
	}
	b->budget += (int64_t)earned;
	b->last_ns += (uint64_t)((earned * period + b->cfg.size - 1) / b->cfg.size);
}

bool token_bucket_take(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t from_burst;

	if (!bucket_active(&b->cfg))
		return true;
	from_burst = n < b->burst ? n : b->burst;
	if (from_burst == n) {
		b->burst -= n;
		return true;
	}
	refill(b, now_ns);
	/* More than the whole size can never fit: let it through from a full bucket, as a debt. */
	if ((int64_t)(n - from_burst) > b->budget &&
	    !(n - from_burst > b->cfg.size && b->budget == (int64_t)b->cfg.size))
		return false;
	b->burst -= from_burst;
	b->budget -= (int64_t)(n - from_burst);
	return true;
}

uint64_t token_bucket_wait_ns(struct token_bucket *b, uint64_t n, uint64_t now_ns)
{
	uint64_t want, missing;

	if (!bucket_active(&b->cfg) || n <= b->burst)
		return 0;
	refill(b, now_ns);
	want = n - b->burst > b->cfg.size ? b->cfg.size : n - b->burst;
	if (b->budget >= (int64_t)want)
		return 0;
	missing = (uint64_t)((int64_t)want - b->budget);
	return (uint64_t)(((unsigned __int128)missing * b->cfg.refill_ms * NS_PER_MS + b->cfg.size -
			   1) /
			  b->cfg.size);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	struct rate_limiter *rl = ctx;
	uint64_t expirations;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	rl->on_ready(rl->ctx);
}

/* Give rl its timer on its loop (once, the first time a limit is set). 0 or -errno. */
static int add_timer(struct rate_limiter *rl)
{
	int ret;

	if (rl->timer_fd >= 0 || !rl->loop)
		return 0;
	rl->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (rl->timer_fd < 0)
		return -errno;
	ret = event_loop_add(rl->loop, rl->timer_fd, EPOLLIN, on_timer, rl);
	if (ret < 0) {
		close(rl->timer_fd);
		rl->timer_fd = -1;
	}
	return ret;
}

int rate_limiter_init(struct rate_limiter *rl, const struct rate_limit_config *cfg,
		      struct event_loop *loop, void (*on_ready)(void *ctx), void *ctx)
{
	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = -1;
	rl->loop = loop;
	rl->on_ready = on_ready;
	rl->ctx = ctx;
	return rate_limiter_update(rl, cfg);
}

int rate_limiter_reserve(struct rate_limiter *rl, const struct rate_limit_config *cfg)
{
	return rate_limit_active(cfg) ? add_timer(rl) : 0;
}

int rate_limiter_update(struct rate_limiter *rl, const struct rate_limit_config *cfg)
{
	static const struct itimerspec off = {0};
	uint64_t now = now_ns();
	bool active = rate_limit_active(cfg);
	int ret = rate_limiter_reserve(rl, cfg);

	if (ret < 0)
		return ret;
	token_bucket_init(&rl->bw, &cfg->bandwidth, now);
	token_bucket_init(&rl->ops, &cfg->ops, now);
	rl->active = active;
	if (rl->timer_fd >= 0)
		(void)timerfd_settime(rl->timer_fd, 0, &off, NULL);
	return 0;
}

/* Wake the device after ns (at least 1 ms, so a refill is not chased in a busy loop). */
static void arm(struct rate_limiter *rl, uint64_t ns)
{
	struct itimerspec its = {0};

	if (ns < NS_PER_MS)
		ns = NS_PER_MS;
	its.it_value.tv_sec = (time_t)(ns / 1000000000ull);
	its.it_value.tv_nsec = (long)(ns % 1000000000ull);
	if (rl->timer_fd >= 0 && timerfd_settime(rl->timer_fd, 0, &its, NULL) < 0)
		log_debug("rate limiter timer: %s", strerror(errno));
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes)
{
	uint64_t now, wait_ops, wait_bw;

	if (!rl->active)
		return true;
	now = now_ns();
	wait_ops = token_bucket_wait_ns(&rl->ops, 1, now);
	wait_bw = token_bucket_wait_ns(&rl->bw, bytes, now);
	if (wait_ops == 0 && wait_bw == 0) /* both can give: take from both */
		return token_bucket_take(&rl->ops, 1, now) &&
		       token_bucket_take(&rl->bw, bytes, now);
	rl->throttled++;
	arm(rl, wait_ops > wait_bw ? wait_ops : wait_bw);
	return false;
}

void rate_limiter_destroy(struct rate_limiter *rl)
{
	if (rl->timer_fd < 0)
		return;
	(void)event_loop_del(rl->loop, rl->timer_fd);
	close(rl->timer_fd);
	rl->timer_fd = -1;
}

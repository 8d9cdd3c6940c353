/* rate_limiter.h — Firecracker's rate limiter for a device: two token buckets (bytes and
 * operations), each with a size, a refill time for the whole size and a one-time burst, and a
 * timer that wakes the device when a blocked request can go. Hand-written: no Debian library
 * does token buckets on an epoll loop, and the semantics must be Firecracker's. */
#ifndef KILN_CORE_RATE_LIMITER_H
#define KILN_CORE_RATE_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/event_loop.h"
#include "util/compiler.h"

/* Whether c limits anything. */
bool rate_limit_active(const struct rate_limit_config *c);

/* A bucket's state. Budget starts full; refill is proportional to elapsed time; a request larger
 * than the whole size is let through when the bucket is full and leaves a debt that refill repays
 * (so it is not blocked forever, and still paid for). */
struct token_bucket {
	struct bucket_config cfg;
	int64_t budget;	  /* tokens now; negative: a debt */
	uint64_t burst;	  /* one-time burst left */
	uint64_t last_ns; /* when budget was last brought up to date */
};

/* Start a bucket full at time now_ns. */
void token_bucket_init(struct token_bucket *b, const struct bucket_config *cfg, uint64_t now_ns);

/* Take n tokens at now_ns if the bucket can give them (burst first, then budget): true and taken,
 * or false and nothing taken. An unlimited bucket always gives. */
bool token_bucket_take(struct token_bucket *b, uint64_t n, uint64_t now_ns);

/* Nanoseconds from now_ns until token_bucket_take(b, n) would succeed (0: now). */
uint64_t token_bucket_wait_ns(struct token_bucket *b, uint64_t n, uint64_t now_ns);

/* A device's limiter: both buckets and a one-shot timer on the device's loop. */
struct rate_limiter {
	struct token_bucket bw, ops;
	bool active;
	int timer_fd; /* -1 until limits are first set, or without a loop */
	struct event_loop *loop;
	void (*on_ready)(void *ctx); /* the timer fired: try the blocked request again */
	void *ctx;
	uint64_t throttled; /* requests that had to wait */
};

/*
 * Set up rl for cfg. With limits (now, or later through rate_limiter_update), a timerfd is added
 * to loop, and on_ready(ctx) runs on the loop when a request that was refused may go (the caller
 * takes its lock there); the timer holds rl's address, so rl must not move until
 * rate_limiter_destroy. Without limits nothing is allocated and every request passes. 0 or
 * -errno.
 */
int rate_limiter_init(struct rate_limiter *rl, const struct rate_limit_config *cfg,
		      struct event_loop *loop, void (*on_ready)(void *ctx), void *ctx) MUST_CHECK;

/*
 * Give rl (set up by rate_limiter_init, at the same address ever since: its timer's callback
 * holds that address) the limits of cfg, both buckets full, in place; a request waiting on the
 * old limits is retried when the caller next tries (the timer is disarmed). The caller holds the
 * lock rate_limiter_consume runs under. 0, or -errno (no timer could be made: rl unchanged).
 */
int rate_limiter_update(struct rate_limiter *rl, const struct rate_limit_config *cfg) MUST_CHECK;

/* Make what rate_limiter_update(rl, cfg) needs (the timer, the first time limits are set), so
 * that it then cannot fail: for callers updating several limiters at once. 0 or -errno. */
int rate_limiter_reserve(struct rate_limiter *rl, const struct rate_limit_config *cfg) MUST_CHECK;

/* Take one operation and `bytes` bytes, or neither: true if the request may go now; false and the
 * timer armed for when it may (the request must be retried from on_ready). */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes);

/* Remove the timer from the loop and close it. */
void rate_limiter_destroy(struct rate_limiter *rl);

#endif

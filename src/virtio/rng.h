/* rng.h — virtio entropy device (virtio 1.2 §5.4): one request queue, filled from getrandom(2). */
#ifndef KILN_VIRTIO_RNG_H
#define KILN_VIRTIO_RNG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"
#include "core/rate_limiter.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_RNG_QUEUE_MAX 256
#define VIRTIO_RNG_CHAIN_MAX                                                                       \
	(64 * 1024)	       /* bytes given per request, at most (§5.4.6.1 allows               \
				* less than the buffer) */
#define VIRTIO_RNG_RETRY_MS 10 /* retry after the kernel had no entropy to give */

struct virtio_rng_config {
	const struct guest_mem *mem; /* guest memory the device DMAs into */
	/* Where the retry timer is watched; NULL: a starved request is retried on the next
	 * notification only. */
	struct event_loop *loop;
	/* The entropy source, getrandom(2) semantics, called with GRND_NONBLOCK; NULL: getrandom.
	 * For tests. */
	ssize_t (*getrandom)(void *buf, size_t len, unsigned int flags);
	/* Firecracker's rate limiter: a request costs one operation and the bytes it asks for (up
	 * to VIRTIO_RNG_CHAIN_MAX); a refused one waits for the limiter's timer. Zeroed: none. */
	struct rate_limit_config rate;
};

struct virtio_rng_stats {
	uint64_t requests;  /* chains completed */
	uint64_t bytes;	    /* random bytes given to the guest */
	uint64_t malformed; /* chains with driver-readable segments, returned with 0 bytes */
	uint64_t starved;   /* times the source had nothing (EAGAIN) and a request waited */
	uint64_t throttled; /* times a request waited for the rate limiter */
};

struct virtio_rng {
	struct virtio_dev vd; /* hand &vd to a transport (virtio_mmio_create) */
	struct virtio_rng_config cfg;
	int timer_fd;  /* retry timer on cfg.loop, -1 without a loop */
	bool held;     /* `chain` is a request waiting for entropy */
	bool admitted; /* the held request got past the rate limiter */
	struct rate_limiter rl;
	struct virtq_chain chain;
	struct virtio_rng_stats stats;
};

/*
 * Create an entropy device. The board then exposes it with
 *	virtio_mmio_create(&rng->vd, &mmio_cfg, &transport)
 * and tears down with virtio_mmio_destroy(transport), then virtio_rng_destroy(rng).
 * Requests are served on the thread that notifies (the main loop with ioeventfd), never
 * blocking: on EAGAIN from the source the bytes obtained so far are returned, or, if there
 * are none, the request waits for the next notification or a VIRTIO_RNG_RETRY_MS timer. No
 * rate limit: a request gets at most VIRTIO_RNG_CHAIN_MAX bytes. Main thread (the timer is
 * registered on cfg->loop). Returns 0 or -errno.
 */
int virtio_rng_create(const struct virtio_rng_config *cfg, struct virtio_rng **out) MUST_CHECK;

/* Unregister the timer and free. The transport must be destroyed first. NULL is ignored. */
void virtio_rng_destroy(struct virtio_rng *r);

struct vm;

/* The board's entropy device, if vm->cfg asks for one (--rng): created and attached with
 * board_add_virtio under the name "entropy". 0 or -errno. Main thread, during board_create. */
int virtio_rng_board_add(struct vm *vm) MUST_CHECK;

/* Counters (takes vd.lock). */
struct virtio_rng_stats virtio_rng_stats(struct virtio_rng *r);

/* --- state (snapshots, migration) --- */

#define VIRTIO_RNG_STATE_VERSION 1

/* Put the request waiting for entropy (its head), if any, into the open section. Takes vd.lock. */
void virtio_rng_save(struct virtio_rng *r, struct state_buf *b);

/* Load the selected section after the transport's: a held request is popped again (it must be
 * the queue's last popped, with the saved head, and writable). 0 or -EINVAL (logged). */
int virtio_rng_load(struct virtio_rng *r, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

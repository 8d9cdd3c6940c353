/* balloon.h — virtio memory balloon (virtio 1.2 §5.5): inflate and deflate queues whose pages go
 * back to the host through guest_mem_discard, deflate-on-OOM, the statistics queue polled on a
 * timer, and free page reporting. */
#ifndef KILN_VIRTIO_BALLOON_H
#define KILN_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

/* Feature bits (§5.5.3). */
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ	1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON	4
#define VIRTIO_BALLOON_F_REPORTING	5

#define VIRTIO_BALLOON_QUEUE_MAX  256
#define VIRTIO_BALLOON_PFN_SHIFT  12 /* page numbers are of 4 KiB pages, whatever the guest's */
#define VIRTIO_BALLOON_PAGES_MIB  256
#define VIRTIO_BALLOON_CONFIG_LEN 16 /* num_pages, actual, free_page_hint_cmd_id, poison_val */
#define VIRTIO_BALLOON_S_NR	  16 /* statistics tags 0..15 (§5.5.6.3, Linux's list) */

/* Which queue a transport index is: it depends on the negotiated features (§5.5.2: the
 * statistics and reporting queues exist only with their features). */
enum virtio_balloon_queue {
	BALLOON_Q_INFLATE,
	BALLOON_Q_DEFLATE,
	BALLOON_Q_STATS,
	BALLOON_Q_REPORT,
	BALLOON_Q_NONE
};

struct virtio_balloon_config {
	const struct guest_mem *mem; /* guest memory: page numbers are checked against its RAM */
	struct event_loop *loop;     /* where the statistics timer is watched; NULL: no timer */
	uint32_t num_pages;	     /* the first target, in 4 KiB pages */
	bool deflate_on_oom;	     /* offer VIRTIO_BALLOON_F_DEFLATE_ON_OOM */
	uint16_t stats_interval_s;   /* > 0: offer the statistics queue, polled this often */
	bool reporting;		     /* offer VIRTIO_BALLOON_F_REPORTING */
};

struct virtio_balloon_stats {
	uint64_t inflated;	  /* pages the guest gave (each discarded at most once) */
	uint64_t deflated;	  /* pages the guest took back */
	uint64_t bad_pfn;	  /* page numbers outside guest RAM (MMIO hole, past the end) */
	uint64_t duplicate;	  /* inflated while in the balloon already, or deflated while not */
	uint64_t discard_failed;  /* host refusals of guest_mem_discard (pages stay in use) */
	uint64_t partial;	  /* pages kept: their huge page is not wholly given, or a
				   * reported range covers only part of them */
	uint64_t malformed;	  /* chains the wrong way round or not a whole number of entries */
	uint64_t reported;	  /* free page reports (ranges) discarded */
	uint64_t reported_bytes;  /* their bytes */
	uint64_t stats_updates;	  /* statistics buffers the guest filled */
	uint64_t stats_unknown;	  /* entries with a tag kiln does not know (ignored) */
	uint64_t discarded_bytes; /* bytes given back to the host through guest_mem_discard */
};

/* What the guest last reported through the statistics queue (Firecracker's BalloonStats). */
struct virtio_balloon_guest_stats {
	uint32_t present; /* bit t: tag t was reported */
	uint64_t val[VIRTIO_BALLOON_S_NR];
};

struct virtio_balloon {
	struct virtio_dev vd; /* hand &vd to a transport */
	struct virtio_balloon_config cfg;
	uint32_t num_pages;	   /* config space: the target (device-written) */
	uint32_t actual;	   /* config space: what the driver says it holds */
	uint16_t stats_interval_s; /* current polling period (0: statistics off for good) */
	int timer_fd;		   /* statistics timer on cfg.loop, -1 without one */
	bool stats_held;	   /* stats_head is the guest's buffer, kept until the next poll */
	uint16_t stats_head;
	struct virtio_balloon_guest_stats guest;
	uint64_t *inflated; /* bit per 4 KiB page of [0, bitmap_pages): in the balloon */
	uint64_t bitmap_pages;
	struct virtio_balloon_stats stats;
	struct virtq_chain chain; /* scratch for one popped chain */
};

/*
 * Create a balloon. Page numbers the guest gives are checked against cfg->mem's RAM regions,
 * which must not change afterwards (the in-balloon bitmap covers them). With stats_interval_s > 0
 * and a loop, a timerfd returns the guest's statistics buffer every interval. Returns 0,
 * -EINVAL (no memory) or -ENOMEM / the timer's -errno.
 */
int virtio_balloon_create(const struct virtio_balloon_config *cfg,
			  struct virtio_balloon **out) MUST_CHECK;

/* Unregister the timer and free. The transport must be destroyed first. NULL is ignored. */
void virtio_balloon_destroy(struct virtio_balloon *b);

/* The transport index q's role under the negotiated features. vd.lock held. */
enum virtio_balloon_queue virtio_balloon_queue_role(const struct virtio_balloon *b, unsigned q);

/* Set the target to num_pages and tell the driver (configuration change interrupt). Takes
 * vd.lock. */
void virtio_balloon_set_target(struct virtio_balloon *b, uint32_t num_pages);

/* Change the statistics polling period (Firecracker's rules): the same value is a no-op; turning
 * statistics on or off after creation is -EINVAL; otherwise the guest's buffer is returned at
 * once (a fresh report) and the timer rearmed. 0 or -EINVAL, or the timer's -errno. */
int virtio_balloon_set_stats_interval(struct virtio_balloon *b, uint16_t interval_s) MUST_CHECK;

/* What the API reports: target and actual pages, the polling period, the guest's statistics.
 * Takes vd.lock. */
void virtio_balloon_status(struct virtio_balloon *b, uint32_t *target, uint32_t *actual,
			   uint16_t *interval_s, struct virtio_balloon_guest_stats *guest);

/* Counters (takes vd.lock). */
struct virtio_balloon_stats virtio_balloon_stats(struct virtio_balloon *b);

/* Statistics tag t's name in Firecracker's BalloonStats ("swap_in", ..., "direct_reclaim"), or
 * NULL past the known tags. */
const char *virtio_balloon_stat_name(unsigned tag);

struct vm;

/* The board's balloon if vm->cfg asks for one: attached with board_add_virtio as "balloon".
 * 0 or -errno. Main thread, during board_create. */
int virtio_balloon_board_add(struct vm *vm) MUST_CHECK;

/* The board's balloon, or NULL. */
struct virtio_balloon *virtio_balloon_find(struct vm *vm);

/* --- state (snapshots, migration) --- */

#define VIRTIO_BALLOON_STATE_VERSION 1

/* Put target, actual, polling period, the held statistics buffer, the guest's last statistics and
 * the pages in the balloon (as runs) into the open section. Takes vd.lock. */
void virtio_balloon_save(struct virtio_balloon *b, struct state_buf *sb);

/* Load the section after the transport's: every value checked (runs inside the bitmap, a held
 * statistics buffer the queue's last popped readable chain). 0 or -EINVAL (state_refuse). */
int virtio_balloon_load(struct virtio_balloon *b, struct state_buf *sb,
			uint16_t version) MUST_CHECK;

#endif

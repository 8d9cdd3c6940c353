/* virtq.h — split virtqueues (virtio 1.2 §2.7), the device side: bounded, checked chain walks
 * over guest memory, used-ring updates and interrupt suppression (EVENT_IDX, NO_INTERRUPT). */
#ifndef KILN_VIRTIO_VIRTQ_H
#define KILN_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"

#define VIRTQ_SIZE_MAX	32768 /* virtio 1.2 §2.7: Queue Size up to 32768, a power of two */
#define VIRTQ_CHAIN_MAX 256   /* segments in one chain, indirect tables included */

/* Descriptor flags (§2.7.5). */
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
/* Ring flags (§2.7.6, §2.7.8). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

/* Feature bits this module implements (the transport offers them). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX	    29

/* One buffer of a chain, already translated: host points into guest memory (checked). */
struct virtq_seg {
	void *host;
	uint64_t gpa; /* the guest-physical address host translates */
	uint32_t len;
	bool device_writes; /* VIRTQ_DESC_F_WRITE: the device fills it ("in" buffer) */
};

/* A popped descriptor chain: readable segments first, then writable ones (§2.7.4.2). */
struct virtq_chain {
	uint16_t head; /* id to hand back to virtq_push */
	uint16_t nr_segs;
	uint32_t out_len; /* total bytes of driver-written (readable) segments */
	uint32_t in_len;  /* total bytes of device-writable segments */
	uint16_t nr_out;  /* seg[0 .. nr_out) are readable, the rest writable */
	struct virtq_seg seg[VIRTQ_CHAIN_MAX];
};

struct virtq_rec; /* virtq.c: one head's device-writable ranges, recorded at pop */

struct virtq_stats {
	uint64_t popped, pushed, notifies, suppressed, malformed;
};

struct virtq {
	/* Set by the transport from the driver's writes, before virtq_activate. */
	uint16_t size; /* Queue Size chosen by the driver */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool event_idx; /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;	/* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	/* Device state, set by virtq_activate, cleared by virtq_reset. */
	bool active;
	const struct guest_mem *mem;
	void *desc, *avail, *used; /* host views of the three rings */
	uint16_t last_avail;	   /* next available-ring entry to consume */
	uint16_t used_idx;	   /* next used-ring entry to fill (shadow of used->idx) */
	uint16_t signalled_used;   /* used_idx at the last interrupt decision (EVENT_IDX) */
	bool signalled_valid;	   /* false until the first decision, or after 2^16 pushes
				    * without one: the next decision then interrupts */
	bool push_pending;	   /* pushes since the last decision (none: no interrupt) */
	struct virtq_rec *rec;	   /* [size], by head: what a chain in flight lets the device
				    * write (dirty tracking at push); allocated while active */
	uint16_t *popped;	   /* [size], by available-ring position: the head popped there
				    * (virtq_unpop forgets its record) */
	struct virtq_stats stats;
};

/*
 * Check the driver's queue configuration and map the rings: size a power of two in
 * [1, VIRTQ_SIZE_MAX], descriptor table 16-byte aligned, available ring 2-byte aligned, used ring
 * 4-byte aligned (§2.7), each ring (with its event field) wholly inside one region of guest RAM
 * and writable where the device writes. The event fields are always counted, whether or not
 * EVENT_IDX is negotiated yet. Allocates the queue's dirty-tracking records (one per head).
 * Returns 0, -EINVAL (nothing changed; also when the queue is already active) or -ENOMEM. Guest
 * memory must not be remapped while the queue is active.
 */
int virtq_activate(struct virtq *q, const struct guest_mem *m) MUST_CHECK;

/* Forget device state and the driver's configuration (device reset, §2.4), and free the records
 * virtq_activate allocated: also what the queue's owner calls before freeing it. q must have
 * been zeroed (or reset) once before. */
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain. Returns 0 with *c filled; -ENOENT when the ring is empty;
 * -EINVAL when the driver broke the rules: head or next index out of range, a loop (more
 * descriptors than the queue has), more than VIRTQ_CHAIN_MAX segments, a buffer outside guest
 * memory or overflowing, a readable segment after a writable one, INDIRECT without the feature
 * or together with NEXT, a nested or misaligned/empty indirect table, or an available index that
 * ran more than `size` ahead. On -EINVAL the entry is consumed and stats.malformed counted; the
 * caller should set DEVICE_NEEDS_RESET and stop popping. Never reads outside guest memory.
 *
 * Rules in detail: a chain may visit at most `size` descriptors of the queue's table, and at most
 * as many as an indirect table holds inside it (the TTL against loops; zero-length descriptors
 * count). Zero-length descriptors yield no segment and their address is not checked, but they
 * obey the readable-before-writable order. Each buffer must lie in one guest memory region (a
 * buffer spanning two adjacent regions is malformed) and, if device-writable, not in a
 * read-only one; the totals out_len and in_len must fit in 32 bits (§2.7.5.2: at most 2^32
 * bytes). An indirect descriptor ends the chain; it may follow direct descriptors (§2.7.5.3.2)
 * and its table must be 16-byte entries, 1 to VIRTQ_SIZE_MAX of them, inside one region. On
 * the ran-ahead index nothing is consumed (each call fails again). Returns -ENOENT if inactive.
 *
 * Dirty tracking: the chain's device-writable buffers are marked now (while logging) and recorded
 * under its head, logging or not; virtq_push marks them again from that record, never from the
 * descriptors, which the driver may have rewritten meanwhile.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c) MUST_CHECK;

/*
 * Put chain `head` on the used ring with `written` bytes written by the device, and publish it
 * (release ordering: the buffers' contents are visible before the index). Then, while logging,
 * marks dirty the used ring and the device-writable buffers recorded when `head` was popped (a
 * head pushed without a pop of its own marks only the used ring), and forgets that record.
 * Returns 0 or -EINVAL if the queue is not active or head is out of range.
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written) MUST_CHECK;

/*
 * After one or more pushes: whether the driver wants an interrupt now (§2.7.7: used_event with
 * EVENT_IDX, else the NO_INTERRUPT flag). Updates the suppression state; call once per batch.
 * False if nothing was pushed since the last call. With EVENT_IDX the first decision after
 * activation (and one after 2^16 pushes without a decision) interrupts: there is no baseline.
 */
bool virtq_should_interrupt(struct virtq *q);

/*
 * With EVENT_IDX, publish avail_event = last_avail so the driver notifies for the next buffer;
 * then report whether more buffers arrived meanwhile (the caller loops over pop again).
 * Without EVENT_IDX, clears nothing and returns whether the ring is non-empty.
 */
bool virtq_enable_notify(struct virtq *q);

/* Whether buffers are waiting (cheap; acquire-loads avail->idx). */
bool virtq_has_avail(const struct virtq *q);

/* --- state (part of the owning device's section) --- */

/* Put the driver's configuration (size, ring addresses, negotiated ring features) and the device
 * side (active, last_avail, used_idx, interrupt-suppression state) into b. */
void virtq_save(const struct virtq *q, struct state_buf *b);

/*
 * Read what virtq_save wrote into q (which is reset first), checking it: size at most queue_max,
 * flags 0/1; an active queue is activated against m (so rings outside guest memory, misaligned or
 * of a bad size are refused) and its consumed-but-unused count (last_avail - used_idx) must not
 * exceed its size. Returns 0 or -EINVAL with *why set (q is left reset). Chains in flight at the
 * save have no dirty-tracking record here: a device holding one takes it again (virtq_unpop then
 * virtq_pop), as every device does, before it pushes it.
 */
int virtq_load(struct virtq *q, const struct guest_mem *m, uint16_t queue_max, struct state_buf *b,
	       const char **why) MUST_CHECK;

/* Give back the last chain popped (last_avail - 1), so it is popped again: for devices restoring a
 * chain they held when saved. Its dirty-tracking record goes with it (the next pop records it
 * again). -EINVAL if the queue is inactive or nothing is outstanding. */
int virtq_unpop(struct virtq *q) MUST_CHECK;

#endif

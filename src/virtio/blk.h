/* blk.h — virtio-blk (virtio 1.2 §5.2): one request queue over a raw disk image, with a pure
 * request parser that the unit tests and the fuzz target drive without KVM. */
#ifndef KILN_VIRTIO_BLK_H
#define KILN_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"
#include "core/rate_limiter.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtq.h"

/* Feature bits (§5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (§5.2.6). */
#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

/* Status byte values. */
#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_F_DWZ_UNMAP 1u /* virtio_blk_discard_write_zeroes.flags: unmap */

#define BLK_SECTOR_SIZE	      512
#define BLK_HDR_LEN	      16 /* struct virtio_blk_req: le32 type, le32 reserved, le64 sector */
#define BLK_DWZ_LEN	      16 /* struct virtio_blk_discard_write_zeroes */
#define BLK_ID_LEN	      20 /* GET_ID answer: the serial, zero-padded */
#define BLK_QUEUE_SIZE	      256
#define BLK_SEG_MAX	      (VIRTQ_CHAIN_MAX - 2) /* data segments: chain minus header, status */
#define BLK_MAX_DWZ_SECTORS   (1u << 22)	    /* per discard / write-zeroes range (2 GiB) */
#define BLK_MAX_DWZ_SEG	      1			    /* ranges per discard / write-zeroes request */
#define BLK_DISCARD_ALIGNMENT 8			    /* sectors: a 4 KiB file-system block */
#define BLK_CONFIG_LEN	      60 /* virtio_blk_config up to write_zeroes_may_unmap */

/* What the parser checks a request against. */
struct blk_limits {
	uint64_t capacity;	    /* sectors */
	bool read_only;		    /* OUT, DISCARD, WRITE_ZEROES fail with IOERR */
	bool discard, write_zeroes; /* negotiated; otherwise those types are UNSUPP */
};

/* A parsed request. Data buffers (iov) and the status byte point into the chain's segments. */
#define BLK_T_NONE UINT32_MAX /* blk_req.type when the header is missing */

struct blk_req {
	uint32_t type;	     /* VIRTIO_BLK_T_*, or BLK_T_NONE */
	uint64_t sector;     /* IN/OUT: first sector; DISCARD/WRITE_ZEROES: range start */
	uint64_t nr_sectors; /* IN/OUT: data_len / 512; DISCARD/WRITE_ZEROES: range length */
	uint32_t data_len; /* bytes in iov (IN: to fill, OUT: to write, GET_ID: room for the id) */
	bool unmap;	   /* WRITE_ZEROES may deallocate */
	uint8_t *status;   /* the last byte of the last device-writable segment; NULL: none */
	unsigned nr_iov;
	struct iovec iov[BLK_SEG_MAX];
};

/*
 * Parse chain c (the layout virtq_pop produces: seg[0, nr_out) readable, the rest writable) as a
 * virtio-blk request. Framing is free (§2.6.4): the header is the first 16 readable bytes
 * wherever segments split them, the status byte is the last writable byte, data is what lies
 * between. Returns:
 *   0                   execute out (ranges checked against lim; nr_sectors may be 0: a no-op);
 *   VIRTIO_BLK_S_IOERR  answer at once: fewer than 16 readable bytes, data in the wrong direction
 *                       (readable bytes after the header of IN/FLUSH/GET_ID, writable bytes
 *                       before the status byte of OUT/FLUSH/DISCARD/WRITE_ZEROES), IN/OUT data
 *                       not a multiple of 512 or in more than BLK_SEG_MAX segments, a range past
 *                       capacity or overflowing, a write on a read-only disk, a discard /
 *                       write-zeroes payload that is not exactly one 16-byte range or whose range
 *                       exceeds BLK_MAX_DWZ_SECTORS;
 *   VIRTIO_BLK_S_UNSUPP answer at once: unknown type, DISCARD/WRITE_ZEROES not negotiated,
 *                       unknown range flags, or unmap on a DISCARD (§5.2.6.2);
 *   -EINVAL             no status byte (no writable byte at all): nothing to answer in.
 * out->status is set whenever the result is not -EINVAL. Reads only the chain's segments.
 */
int blk_req_parse(const struct virtq_chain *c, const struct blk_limits *lim,
		  struct blk_req *out) MUST_CHECK;

struct blk_stats {
	uint64_t reads, writes, flushes, get_ids, discards, write_zeroes, unsupported;
	uint64_t bytes_read, bytes_written;
	uint64_t io_errors;    /* requests the backend failed (answered IOERR) */
	uint64_t bad_requests; /* malformed requests answered IOERR */
	uint64_t no_status;    /* chains without a status byte, returned with 0 bytes written */
	uint64_t dropped;      /* completions of requests issued before a device reset */
	uint64_t write_through_syncs; /* flushes after writes, FLUSH not negotiated */
	uint64_t throttled;	      /* times a request waited for the rate limiter */
	uint64_t merged; /* requests sent to the backend together with the one before them */
};

struct blk_config {
	const char *path;	 /* raw image: regular file or block device */
	bool read_only;		 /* open read-only and offer VIRTIO_BLK_F_RO */
	const char *serial;	 /* GET_ID answer, at most BLK_ID_LEN bytes; NULL: all zeros */
	bool force_sync;	 /* synchronous pread/pwrite backend even if io_uring works */
	struct event_loop *loop; /* where io_uring completions are watched; NULL: synchronous */
	/* Reap io_uring completions only from the loop's eventfd callback, never right after
	 * submitting nor from a poller of the loop (tests: the requests a page-cache-hot image
	 * serves at once then stay in flight until the loop runs, as slower ones do). */
	bool defer_completions;
	const struct guest_mem *mem;
	struct kiln_err *err; /* where a creation failure's reason goes (err_set); may be NULL */
	/* Firecracker's rate limiter: a request costs one operation and, for reads and writes, its
	 * data bytes; a refused request stays in the ring until the limiter's timer. Zeroed: none.
	 */
	struct rate_limit_config rate;
};

struct blk;
struct kiln_err;

/*
 * Open the image and build the device: virtio device id 2, one queue of BLK_QUEUE_SIZE, features
 * SEG_MAX, BLK_SIZE, FLUSH and either RO (read-only) or DISCARD + WRITE_ZEROES. With io_uring,
 * the disk's completion eventfd is added to cfg->loop. Logs one line and returns -errno on error
 * (-EINVAL for a serial longer than 20 bytes or a bad image, the open(2) error otherwise).
 *
 * The board then exposes it through a transport, which must be destroyed first:
 *     blk_create(&cfg, &b);
 *     board_add_virtio(vm, blk_virtio_dev(b), "block0")  (blk_destroy(b) if it fails: on
 *     success the board's device list owns it), or by hand:
 *     virtio_mmio_create(blk_virtio_dev(b), &mmio_cfg, &t) ... virtio_mmio_destroy(t);
 *     blk_destroy(b).
 */
int blk_create(const struct blk_config *cfg, struct blk **out) MUST_CHECK;

struct vm;

/* The board's disks: one device per vm->cfg->disks entry, in order (a root disk is first, so it
 * is /dev/vda), attached with board_add_virtio as "block0", "block1", ... 0, -EINVAL for a disk
 * the configuration names badly (missing, not permitted, a directory, a bad id: logged), or
 * -errno. Main thread, during board_create. */
int blk_board_add(struct vm *vm) MUST_CHECK;

/* The device's transport-independent half, to hand to a transport. */
struct virtio_dev *blk_virtio_dev(struct blk *b);

/*
 * Replace the backing file with path (PATCH /drives/{id} after boot, Firecracker's disk update):
 * the new file is opened as the old one was (read-only or not, the same engine), new requests
 * wait while those in flight finish on the old file (at most timeout_ms), then the device serves
 * the new file, its capacity updated and a configuration-change interrupt sent. Main thread. 0, or
 * -errno with the reason in err (the device keeps the old file).
 */
int blk_replace_backing(struct blk *b, const char *path, int timeout_ms,
			struct kiln_err *err) MUST_CHECK;

/* Replace the rate limiter (PATCH /drives/{id} after boot): a request held back by the old one
 * is looked at again under the new one. Main thread. 0 or -errno (the old limiter stays). */
int blk_set_rate_limit(struct blk *b, const struct rate_limit_config *rate) MUST_CHECK;

/* The blk device of disk `index` of vm->cfg (blk_board_add's), or NULL if it has none. */
struct blk *blk_find(struct vm *vm, unsigned index);

/* Snapshot of the counters (takes the device lock). */
void blk_get_stats(struct blk *b, struct blk_stats *out);

/* Remove the eventfd from the loop, wait for requests in flight, close the image, free.
 * Call after the transport is destroyed. */
void blk_destroy(struct blk *b);

/* --- state (snapshots, migration) --- */

#define BLK_STATE_VERSION 1

/* Wait (main thread, up to timeout_ms) until no request is in flight: completions are reaped and
 * pushed to the used ring, and a queue stalled for slots is resumed (the guest must be paused, so
 * the ring has an end). 0, or -ETIMEDOUT (logged). */
int blk_drain(struct blk *b, int timeout_ms) MUST_CHECK;

/* Put what identifies the disk to the guest (capacity, read-only, serial) into the open section;
 * the virtio state goes with the transport. -EBUSY (logged) if requests are in flight: call
 * blk_drain first. */
int blk_save(struct blk *b, struct state_buf *sb) MUST_CHECK;

/* Check the selected section against this disk: the same capacity, mode and serial, else the
 * guest would see its disk change under it. 0 or -EINVAL (logged). */
int blk_load(struct blk *b, struct state_buf *sb, uint16_t version) MUST_CHECK;

#endif

/* disk.h — a raw disk image (regular file or block device) with asynchronous requests: io_uring
 * when the kernel allows it, else a synchronous pread/pwrite fallback that completes at once. */
#ifndef KILN_BACKEND_DISK_H
#define KILN_BACKEND_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/compiler.h"

#define DISK_SECTOR_SIZE 512
#define DISK_DEPTH_MAX	 4096 /* requests in flight at most, whatever the caller asks */

enum disk_op {
	DISK_READ,	  /* preadv into iov at offset */
	DISK_WRITE,	  /* pwritev from iov at offset */
	DISK_FLUSH,	  /* fdatasync: every completed write is stable */
	DISK_DISCARD,	  /* deallocate [offset, offset+len): contents afterwards unspecified */
	DISK_WRITE_ZEROES /* [offset, offset+len) reads back zero afterwards */
};

/*
 * One request. For READ/WRITE, iov/iovcnt (1..IOV_MAX entries, total len computed by the disk)
 * must stay valid until completion, and the disk may rewrite the entries to resume a short
 * transfer. For DISCARD and WRITE_ZEROES, len is the byte count and `unmap` lets WRITE_ZEROES
 * deallocate (punch a hole). FLUSH uses neither.
 */
struct disk_req {
	enum disk_op op;
	uint64_t offset;
	uint64_t len;
	struct iovec *iov;
	unsigned iovcnt;
	bool unmap;
	void *cookie; /* handed back to the completion callback */
};

/*
 * Called once per accepted request: res is 0 when the whole request succeeded, else -errno.
 * Runs inside disk_submit (synchronous backend) or inside disk_complete (io_uring), that is
 * always on the caller's thread with the caller's locks held.
 */
typedef void disk_done_fn(void *ctx, void *cookie, int res);

struct disk_params {
	const char *path;
	bool read_only;	 /* open O_RDONLY; writes, discards and write-zeroes fail -EROFS */
	bool force_sync; /* never use io_uring */
	unsigned depth;	 /* requests in flight at most (1..DISK_DEPTH_MAX) */
	disk_done_fn *done;
	void *ctx;
	struct kiln_err *err; /* where an open failure's reason goes (err_set); may be NULL */
};

struct disk;
struct kiln_err;

/*
 * Open cfg->path: a regular file or a block device (anything else: -EINVAL), O_CLOEXEC, O_RDWR or
 * O_RDONLY. The capacity is the size in whole 512-byte sectors (a partial tail sector is not
 * reachable). Unless force_sync, set up an io_uring of cfg->depth entries with a completion
 * eventfd; if io_uring is unavailable (ENOSYS, EPERM under seccomp, missing opcodes) fall back to
 * synchronous I/O, logged at info level. Logs one line on error. Returns 0 or -errno.
 */
int disk_open(const struct disk_params *cfg, struct disk **out) MUST_CHECK;

/* Wait for the requests still in flight (their callbacks are not called), then close and free. */
void disk_close(struct disk *d);

uint64_t disk_sectors(const struct disk *d);
bool disk_read_only(const struct disk *d);

/* Whether requests complete asynchronously (io_uring): then watch disk_event_fd. */
bool disk_is_async(const struct disk *d);

/* Whether completions wait for disk_complete (io_uring's completion ring is not empty): cheap,
 * no system call, for pollers. */
bool disk_has_completions(struct disk *d);

/* An eventfd that becomes readable when completions are waiting (EPOLLIN); call disk_complete.
 * -1 for the synchronous backend. */
int disk_event_fd(const struct disk *d);

/* How many more requests disk_submit accepts now (depth minus requests in flight). */
unsigned disk_room(const struct disk *d);

/*
 * Start request r. Returns 0 when accepted: the callback then runs exactly once, before this
 * returns (synchronous backend) or from a later disk_complete (io_uring). Otherwise, without
 * calling back: -EBUSY (depth reached, or no submission entry), -EROFS (modifying a read-only
 * disk), -EINVAL (bad iov count, zero length, offset+len overflowing). Should io_uring_submit
 * itself fail (it cannot with depth <= the ring size), the entry stays queued and goes with the
 * next submission; the failure is logged.
 *
 * Errors inside an accepted request: short reads and writes are resumed from where they stopped;
 * -EAGAIN/-EINTR are retried up to 16 times in a row, then fail the request; a read that reaches
 * end of file (the image shrank) fails with -EIO. DISCARD that the file system cannot do
 * succeeds without effect (discard is advisory). WRITE_ZEROES tries, in order, PUNCH_HOLE (only
 * with unmap), ZERO_RANGE, then plain writes of zeroes; a mode found unsupported is not tried
 * again on this disk. Not thread-safe: the caller serialises submit and complete.
 */
int disk_submit(struct disk *d, const struct disk_req *r) MUST_CHECK;

/* Reap io_uring completions (clearing the eventfd first), resubmitting the remainder of partial
 * requests and calling back for finished ones. Returns the number of callbacks made. */
unsigned disk_complete(struct disk *d);

#endif

/* disk.c — raw disk images: each request is a small state machine of steps (a transfer, a
 * flush, an fallocate mode) run either synchronously or as io_uring submissions. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>

#include "backend/disk.h"
#include "util/err.h"
#include "util/log.h"
#include "util/file.h"

#define RETRIES_MAX 16		/* -EAGAIN/-EINTR in a row before a request fails */
#define ZERO_CHUNK  (64 * 1024) /* bytes per write when write-zeroes falls back to writes */

static const uint8_t zero_buf[ZERO_CHUNK];

/* Write-zeroes stages, tried in this order (§ disk_submit in disk.h). */
enum zstage { Z_PUNCH, Z_ZERO_RANGE, Z_WRITE };

struct disk_slot {
	struct disk_req r;
	uint64_t pos;	   /* file offset of the next step */
	uint64_t left;	   /* bytes still to transfer or zero */
	unsigned iov_idx;  /* first entry of r.iov not fully transferred */
	unsigned retries;  /* consecutive -EAGAIN/-EINTR */
	enum zstage stage; /* WRITE_ZEROES only */
	struct iovec ziov; /* the zero buffer, for Z_WRITE steps */
	int res;	   /* result once finished */
};

struct disk {
	int fd;
	uint64_t sectors;
	bool ro, async;
	bool no_punch, no_zero_range; /* fallocate modes the file system refused */
	disk_done_fn *done;
	void *ctx;
	unsigned depth, inflight;
	struct disk_slot *slots;
	unsigned *free_idx; /* stack of free slot indices, depth - inflight of them */
	struct io_uring ring;
	int efd;
	struct log_ratelimit rl;
};

/* --- the request state machine, shared by both backends --- */

static uint64_t iov_total(const struct iovec *iov, unsigned n)
{
	uint64_t t = 0;

	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

static void slot_start(struct disk *d, struct disk_slot *s)
{
	s->pos = s->r.offset;
	s->left = s->r.len;
	s->iov_idx = 0;
	s->retries = 0;
	s->res = 0;
	s->stage = Z_ZERO_RANGE;
	if (s->r.unmap && !d->no_punch)
		s->stage = Z_PUNCH;
	else if (d->no_zero_range)
		s->stage = Z_WRITE;
}

/* Drop n transferred bytes from the front of the slot's iov. */
static void iov_consume(struct disk_slot *s, uint64_t n)
{
	while (n && s->iov_idx < s->r.iovcnt) {
		struct iovec *v = &s->r.iov[s->iov_idx];

		if (n < v->iov_len) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
			return;
		}
		n -= v->iov_len;
		s->iov_idx++;
	}
}

static int fallocate_mode(const struct disk_slot *s)
{
	if (s->r.op == DISK_DISCARD || s->stage == Z_PUNCH)
		return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	return FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
}

/* Whether the slot's current step is a write of zeroes (prepares s->ziov). */
static bool zero_write_step(struct disk_slot *s)
{
	if (s->r.op != DISK_WRITE_ZEROES || s->stage != Z_WRITE)
		return false;
	s->ziov.iov_base = (void *)zero_buf; /* only ever read from */
	s->ziov.iov_len = s->left < ZERO_CHUNK ? s->left : ZERO_CHUNK;
	return true;
}

/* A transfer step moved res bytes (res >= 0). Returns whether more steps are needed. */
static bool advance_transfer(struct disk_slot *s, int res)
{
	if (res == 0) { /* end of file: the image shrank under us */
		s->res = -EIO;
		return false;
	}
	if ((uint64_t)res > s->left)
		res = (int)s->left;
	if (s->r.op != DISK_WRITE_ZEROES)
		iov_consume(s, (uint64_t)res);
	s->pos += (uint64_t)res;
	s->left -= (uint64_t)res;
	return s->left > 0;
}

/* An fallocate step of a WRITE_ZEROES failed as unsupported: move to the next stage. */
static bool next_zero_stage(struct disk *d, struct disk_slot *s)
{
	if (s->stage == Z_PUNCH) {
		d->no_punch = true;
		s->stage = d->no_zero_range ? Z_WRITE : Z_ZERO_RANGE;
	} else {
		d->no_zero_range = true;
		s->stage = Z_WRITE;
	}
	return true;
}

/* The current step finished with res (bytes, 0, or -errno). Returns whether to issue another
 * step; if not, s->res holds the request's result. */
static bool slot_advance(struct disk *d, struct disk_slot *s, int res)
{
	bool fallocate_step =
	    (s->r.op == DISK_DISCARD) || (s->r.op == DISK_WRITE_ZEROES && s->stage != Z_WRITE);

	if (res == -EAGAIN || res == -EINTR) {
		s->res = res;
		return ++s->retries <= RETRIES_MAX;
	}
	s->retries = 0;
	if (res < 0 && fallocate_step && (res == -EOPNOTSUPP || res == -ENOSYS)) {
		if (s->r.op == DISK_DISCARD) {
			d->no_punch = true;
			s->res = 0; /* discard is advisory: nothing deallocated is fine */
			return false;
		}
		return next_zero_stage(d, s);
	}
	if (res < 0) {
		s->res = res;
		return false;
	}
	s->res = 0;
	if (s->r.op == DISK_READ || s->r.op == DISK_WRITE || zero_write_step(s))
		return advance_transfer(s, res);
	return false; /* flush, discard, a successful fallocate of WRITE_ZEROES */
}

/* --- synchronous backend --- */

static int sync_step(struct disk *d, struct disk_slot *s)
{
	ssize_t n;

	switch (s->r.op) {
	case DISK_READ:
		n = preadv(d->fd, s->r.iov + s->iov_idx, (int)(s->r.iovcnt - s->iov_idx),
			   (off_t)s->pos);
		break;
	case DISK_WRITE:
		n = pwritev(d->fd, s->r.iov + s->iov_idx, (int)(s->r.iovcnt - s->iov_idx),
			    (off_t)s->pos);
		break;
	case DISK_FLUSH:
		n = fdatasync(d->fd);
		break;
	default:
		if (zero_write_step(s))
			n = pwrite(d->fd, s->ziov.iov_base, s->ziov.iov_len, (off_t)s->pos);
		else
			n = fallocate(d->fd, fallocate_mode(s), (off_t)s->pos, (off_t)s->left);
		break;
	}
	return n < 0 ? -errno : (int)n;
}

/* --- io_uring backend --- */

static struct io_uring_sqe *get_sqe(struct disk *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe) { /* the SQ is full of prepared entries: hand them to the kernel */
		(void)io_uring_submit(&d->ring);
		sqe = io_uring_get_sqe(&d->ring);
	}
	return sqe;
}

/* Queue the slot's current step (submitted by the caller). Returns 0 or -EBUSY. */
static int uring_prep(struct disk *d, struct disk_slot *s)
{
	struct io_uring_sqe *sqe = get_sqe(d);

	if (!sqe)
		return -EBUSY;
	switch (s->r.op) {
	case DISK_READ:
		io_uring_prep_readv(sqe, d->fd, s->r.iov + s->iov_idx, s->r.iovcnt - s->iov_idx,
				    s->pos);
		break;
	case DISK_WRITE:
		io_uring_prep_writev(sqe, d->fd, s->r.iov + s->iov_idx, s->r.iovcnt - s->iov_idx,
				     s->pos);
		break;
	case DISK_FLUSH:
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		if (zero_write_step(s))
			io_uring_prep_writev(sqe, d->fd, &s->ziov, 1, s->pos);
		else
			io_uring_prep_fallocate(sqe, d->fd, fallocate_mode(s), s->pos, s->left);
		break;
	}
	io_uring_sqe_set_data(sqe, s);
	return 0;
}

static void uring_submit(struct disk *d)
{
	int ret;

	do
		ret = io_uring_submit(&d->ring);
	while (ret == -EINTR);
	/* Entries the kernel did not take stay queued and go with the next submission. */
	if (ret < 0)
		log_warn_ratelimited(&d->rl, "disk: io_uring_submit: %s", strerror(-ret));
}

/* --- slots --- */

static struct disk_slot *slot_get(struct disk *d)
{
	if (d->inflight >= d->depth)
		return NULL;
	return &d->slots[d->free_idx[d->depth - 1 - d->inflight++]];
}

static void slot_put(struct disk *d, struct disk_slot *s)
{
	d->free_idx[d->depth - d->inflight--] = (unsigned)(s - d->slots);
}

static void slot_finish(struct disk *d, struct disk_slot *s)
{
	void *cookie = s->r.cookie;
	int res = s->res;

	slot_put(d, s);
	d->done(d->ctx, cookie, res);
}

static int check_req(const struct disk *d, const struct disk_req *r)
{
	if (d->ro && r->op != DISK_READ && r->op != DISK_FLUSH)
		return -EROFS;
	if (r->op == DISK_READ || r->op == DISK_WRITE) {
		uint64_t len;

		if (r->iovcnt == 0 || r->iovcnt > IOV_MAX || !r->iov)
			return -EINVAL;
		len = iov_total(r->iov, r->iovcnt);
		return len == 0 || r->offset + len < r->offset ? -EINVAL : 0;
	}
	if (r->op == DISK_FLUSH)
		return 0;
	if (r->op != DISK_DISCARD && r->op != DISK_WRITE_ZEROES)
		return -EINVAL;
	return r->len == 0 || r->offset + r->len < r->offset ||
		       r->offset + r->len > (uint64_t)INT64_MAX
		   ? -EINVAL
		   : 0;
}

int disk_submit(struct disk *d, const struct disk_req *r)
{
	struct disk_slot *s;
	int ret = check_req(d, r);

	if (ret < 0)
		return ret;
	s = slot_get(d);
	if (!s)
		return -EBUSY;
	s->r = *r;
	if (r->op == DISK_READ || r->op == DISK_WRITE)
		s->r.len = iov_total(r->iov, r->iovcnt);
	slot_start(d, s);
	if (!d->async) {
		while (slot_advance(d, s, sync_step(d, s)))
			;
		slot_finish(d, s);
		return 0;
	}
	ret = uring_prep(d, s);
	if (ret < 0) {
		slot_put(d, s);
		return ret;
	}
	uring_submit(d);
	return 0;
}

unsigned disk_complete(struct disk *d)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	bool resubmit = false;
	uint64_t v;

	if (!d->async)
		return 0;
	/* Clear the eventfd before reaping: a completion posted after the last peek signals it
	 * again, so none is left waiting unseen. */
	if (read(d->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn_ratelimited(&d->rl, "disk: eventfd read: %s", strerror(errno));
	while (io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		struct disk_slot *s = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&d->ring, cqe);
		if (slot_advance(d, s, res)) {
			if (uring_prep(d, s) == 0) {
				resubmit = true;
				continue;
			}
			s->res = -EIO;
		}
		slot_finish(d, s);
		n++;
	}
	if (resubmit)
		uring_submit(d);
	return n;
}

/* --- open and close --- */

static bool uring_opcodes_ok(struct io_uring *ring)
{
	static const int ops[] = {IORING_OP_READV, IORING_OP_WRITEV, IORING_OP_FSYNC,
				  IORING_OP_FALLOCATE};
	struct io_uring_probe *p = io_uring_get_probe_ring(ring);
	bool ok = p != NULL;

	for (unsigned i = 0; ok && i < sizeof(ops) / sizeof(ops[0]); i++)
		ok = io_uring_opcode_supported(p, ops[i]);
	if (p)
		io_uring_free_probe(p);
	return ok;
}

/* Set up io_uring; on any failure leave d synchronous. */
static void uring_setup(struct disk *d)
{
	int ret = io_uring_queue_init(d->depth, &d->ring, 0);

	if (ret < 0) {
		log_info("disk: io_uring unavailable (%s): synchronous I/O", strerror(-ret));
		return;
	}
	if (!uring_opcodes_ok(&d->ring)) {
		log_info("disk: io_uring lacks readv/writev/fsync/fallocate: synchronous I/O");
		goto out_exit;
	}
	d->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->efd < 0)
		goto out_exit;
	ret = io_uring_register_eventfd(&d->ring, d->efd);
	if (ret < 0) {
		log_info("disk: io_uring eventfd (%s): synchronous I/O", strerror(-ret));
		close(d->efd);
		d->efd = -1;
		goto out_exit;
	}
	d->async = true;
	return;
out_exit:
	io_uring_queue_exit(&d->ring);
}

/* Open path and find its size in sectors. Returns the fd or -errno (logged). */
static int open_image(const char *path, bool ro, uint64_t *sectors, struct kiln_err *e)
{
	struct stat st;
	uint64_t bytes;
	int fd = file_open(path, ro ? O_RDONLY : O_RDWR, 0, FILE_REG | FILE_BLK);
	int err;

	if (fd < 0)
		return err_set(e, fd, "disk %s: %s", path, file_strerror(fd));
	if (fstat(fd, &st) < 0)
		goto out_errno;
	if (S_ISREG(st.st_mode)) {
		bytes = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &bytes) < 0)
			goto out_errno;
	} else {
		close(fd);
		return err_set(e, -EINVAL, "disk %s: not a regular file or block device", path);
	}
	if (bytes % DISK_SECTOR_SIZE)
		log_info("disk %s: size not a multiple of 512; the last %llu bytes are unused",
			 path, (unsigned long long)(bytes % DISK_SECTOR_SIZE));
	*sectors = bytes / DISK_SECTOR_SIZE;
	return fd;
out_errno:
	err = -errno;
	close(fd);
	return err_set(e, err, "disk %s: %s", path, strerror(-err));
}

int disk_open(const struct disk_params *cfg, struct disk **out)
{
	struct disk *d;
	int fd;

	if (!cfg->path || !cfg->done || cfg->depth == 0 || cfg->depth > DISK_DEPTH_MAX)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->slots = calloc(cfg->depth, sizeof(*d->slots));
	d->free_idx = calloc(cfg->depth, sizeof(*d->free_idx));
	fd = d->slots && d->free_idx ? open_image(cfg->path, cfg->read_only, &d->sectors, cfg->err)
				     : -ENOMEM;
	if (fd < 0) {
		free(d->slots);
		free(d->free_idx);
		free(d);
		return fd;
	}
	d->fd = fd;
	d->efd = -1;
	d->ro = cfg->read_only;
	d->done = cfg->done;
	d->ctx = cfg->ctx;
	d->depth = cfg->depth;
	d->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	for (unsigned i = 0; i < d->depth; i++)
		d->free_idx[i] = i;
	if (!cfg->force_sync)
		uring_setup(d);
	*out = d;
	return 0;
}

void disk_close(struct disk *d)
{
	struct io_uring_cqe *cqe;

	if (!d)
		return;
	if (d->async) {
		(void)io_uring_submit(&d->ring);
		/* The buffers are guest memory that may go away after us: wait for the kernel. */
		while (d->inflight > 0 && io_uring_wait_cqe(&d->ring, &cqe) == 0) {
			slot_put(d, io_uring_cqe_get_data(cqe));
			io_uring_cqe_seen(&d->ring, cqe);
		}
		io_uring_queue_exit(&d->ring);
		close(d->efd);
	}
	close(d->fd);
	free(d->slots);
	free(d->free_idx);
	free(d);
}

uint64_t disk_sectors(const struct disk *d)
{
	return d->sectors;
}

bool disk_read_only(const struct disk *d)
{
	return d->ro;
}

bool disk_is_async(const struct disk *d)
{
	return d->async;
}

bool disk_has_completions(struct disk *d)
{
	return d->async && io_uring_cq_ready(&d->ring) > 0;
}

int disk_event_fd(const struct disk *d)
{
	return d->async ? d->efd : -1;
}

unsigned disk_room(const struct disk *d)
{
	return d->depth - d->inflight;
}

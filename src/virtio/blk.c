/* blk.c — virtio-blk: request parsing (pure), the queue loop, backend completions, reset with
 * requests in flight (a generation counter), configuration space and statistics. */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <time.h>

#include "backend/disk.h"
#include "core/board.h"
#include "core/vm.h"
#include "util/err.h"
#include "util/log.h"
#include "virtio/blk.h"

/* --- request parsing: a pure function of the chain --- */

/* The readable or the writable bytes of a chain, as one logical byte string. */
struct span {
	const struct virtq_seg *seg;
	unsigned n;
	uint64_t len;
};

static struct span chain_span(const struct virtq_chain *c, bool writable)
{
	unsigned nr = c->nr_segs < VIRTQ_CHAIN_MAX ? c->nr_segs : VIRTQ_CHAIN_MAX;
	unsigned nr_out = c->nr_out < nr ? c->nr_out : nr;
	struct span s = {.seg = writable ? c->seg + nr_out : c->seg,
			 .n = writable ? nr - nr_out : nr_out};

	for (unsigned i = 0; i < s.n; i++)
		s.len += s.seg[i].len;
	return s;
}

/* Copy bytes [off, off+len) of the span to dst. The caller checked off+len <= s->len. */
static void span_copy(const struct span *s, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	for (unsigned i = 0; i < s->n && len; i++) {
		uint64_t l = s->seg[i].len, n;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = l - off < len ? l - off : len;
		memcpy(d, (const uint8_t *)s->seg[i].host + off, n);
		d += n;
		len -= n;
		off = 0;
	}
}

/* Describe bytes [off, off+len) of the span as iovecs (zero-length pieces skipped).
 * Returns false if more than `max` are needed. The caller checked off+len <= s->len. */
static bool span_iov(const struct span *s, uint64_t off, uint64_t len, struct blk_req *r,
		     unsigned max)
{
	r->nr_iov = 0;
	for (unsigned i = 0; i < s->n && len; i++) {
		uint64_t l = s->seg[i].len, n;

		if (off >= l) {
			off -= l;
			continue;
		}
		n = l - off < len ? l - off : len;
		if (r->nr_iov == max)
			return false;
		r->iov[r->nr_iov].iov_base = (uint8_t *)s->seg[i].host + off;
		r->iov[r->nr_iov++].iov_len = n;
		len -= n;
		off = 0;
	}
	return true;
}

/* Sectors [sector, sector+n) inside the disk, without overflow. */
static bool range_ok(uint64_t sector, uint64_t n, uint64_t capacity)
{
	return sector <= capacity && n <= capacity - sector;
}

/* IN (to_device false) and OUT: data is every byte between header and status. */
static int parse_rw(const struct span *rd, const struct span *wr, const struct blk_limits *lim,
		    struct blk_req *r)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	uint64_t rd_extra = rd->len - BLK_HDR_LEN, wr_extra = wr->len - 1;
	uint64_t data = in ? wr_extra : rd_extra;

	if ((in ? rd_extra : wr_extra) != 0)
		return VIRTIO_BLK_S_IOERR; /* data in the wrong direction */
	if (!in && lim->read_only)
		return VIRTIO_BLK_S_IOERR; /* §5.2.6.2 */
	if (data % BLK_SECTOR_SIZE || data > UINT32_MAX)
		return VIRTIO_BLK_S_IOERR;
	r->data_len = (uint32_t)data;
	r->nr_sectors = data / BLK_SECTOR_SIZE;
	if (!range_ok(r->sector, r->nr_sectors, lim->capacity))
		return VIRTIO_BLK_S_IOERR;
	if (!span_iov(in ? wr : rd, in ? 0 : BLK_HDR_LEN, data, r, BLK_SEG_MAX))
		return VIRTIO_BLK_S_IOERR;
	return 0;
}

static int parse_dwz(const struct span *rd, const struct span *wr, const struct blk_limits *lim,
		     struct blk_req *r)
{
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;
	uint8_t range[BLK_DWZ_LEN];
	uint32_t n, flags;

	if (!(discard ? lim->discard : lim->write_zeroes))
		return VIRTIO_BLK_S_UNSUPP;
	if (lim->read_only || wr->len != 1 || rd->len != BLK_HDR_LEN + BLK_DWZ_LEN)
		return VIRTIO_BLK_S_IOERR; /* one range (BLK_MAX_DWZ_SEG) and nothing to return */
	span_copy(rd, BLK_HDR_LEN, range, BLK_DWZ_LEN);
	memcpy(&r->sector, range, 8);
	memcpy(&n, range + 8, 4);
	memcpy(&flags, range + 12, 4);
	r->sector = le64toh(r->sector);
	n = le32toh(n);
	flags = le32toh(flags);
	/* §5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP. */
	if ((flags & ~VIRTIO_BLK_F_DWZ_UNMAP) || (discard && flags))
		return VIRTIO_BLK_S_UNSUPP;
	r->unmap = flags & VIRTIO_BLK_F_DWZ_UNMAP;
	r->nr_sectors = n;
	if (n > BLK_MAX_DWZ_SECTORS || !range_ok(r->sector, n, lim->capacity))
		return VIRTIO_BLK_S_IOERR;
	return 0;
}

/* The status byte: the last byte of the last non-empty writable segment. */
static uint8_t *status_byte(const struct span *wr)
{
	for (unsigned i = wr->n; i-- > 0;)
		if (wr->seg[i].len)
			return (uint8_t *)wr->seg[i].host + wr->seg[i].len - 1;
	return NULL;
}

int blk_req_parse(const struct virtq_chain *c, const struct blk_limits *lim, struct blk_req *r)
{
	struct span rd = chain_span(c, false), wr = chain_span(c, true);
	uint8_t hdr[BLK_HDR_LEN];
	uint32_t type;

	memset(r, 0, offsetof(struct blk_req, iov));
	r->type = BLK_T_NONE;
	r->status = status_byte(&wr);
	if (!r->status)
		return -EINVAL;
	if (rd.len < BLK_HDR_LEN)
		return VIRTIO_BLK_S_IOERR;
	span_copy(&rd, 0, hdr, BLK_HDR_LEN);
	memcpy(&type, hdr, 4);
	memcpy(&r->sector, hdr + 8, 8);
	r->type = le32toh(type);
	r->sector = le64toh(r->sector);
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return parse_rw(&rd, &wr, lim, r);
	case VIRTIO_BLK_T_FLUSH:
		r->sector = 0; /* unused for flush */
		return rd.len == BLK_HDR_LEN && wr.len == 1 ? 0 : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_GET_ID:
		if (rd.len != BLK_HDR_LEN)
			return VIRTIO_BLK_S_IOERR;
		r->data_len = wr.len - 1 < BLK_ID_LEN ? (uint32_t)(wr.len - 1) : BLK_ID_LEN;
		return span_iov(&wr, 0, r->data_len, r, BLK_ID_LEN) ? 0 : VIRTIO_BLK_S_IOERR;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return parse_dwz(&rd, &wr, lim, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

/* --- the device --- */

/* virtio_blk_config (§5.2.4), little-endian like the host. */
struct blk_config_space {
	uint64_t capacity;
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

_Static_assert(offsetof(struct blk_config_space, blk_size) == 20, "virtio_blk_config layout");
_Static_assert(offsetof(struct blk_config_space, max_discard_sectors) == 36,
	       "virtio_blk_config layout");
_Static_assert(sizeof(struct blk_config_space) == BLK_CONFIG_LEN, "virtio_blk_config size");

/* One request between pop and push. */
struct blk_slot {
	uint32_t gen; /* b->gen when popped: a reset since then drops the completion */
	uint16_t head;
	bool synced; /* write-through: the data write is done, its flush was submitted */
	struct blk_req req;
	/* Merged requests (merge_add): the group's next slot (NULL: the last), and on the
	 * group's first slot the combined iovecs the backend reads or writes (malloc'ed). */
	struct blk_slot *next;
	struct iovec *miov;
};

/* Adjacent reads or writes popped in one go, sent to the backend as one request (as QEMU's
 * virtio-blk does): fewer system calls, and io_uring's workers do not queue one behind the
 * other on the file's lock. */
#define MERGE_IOV_MAX	1024 /* IOV_MAX */
#define MERGE_BYTES_MAX (4u << 20)

struct blk_merge {
	struct blk_slot *first, *last;
	unsigned nr, nr_iov;
	uint64_t bytes;
};

struct blk {
	struct virtio_dev vd; /* vd.lock guards everything below */
	struct disk *disk;
	struct event_loop *loop;
	struct blk_config_space cfg;
	char serial[BLK_ID_LEN];
	struct blk_limits lim;
	uint32_t gen;
	bool stalled; /* stopped popping for want of slots: completions resume the queue */
	bool held;    /* no new request starts: the backing file is being replaced */
	bool defer_completions; /* blk_config's: no reaping in process_queue */
	struct rate_limiter rl;
	struct event_loop *events; /* the configuration's loop (rate limiter timers) */
	bool pushed;		   /* used entries not yet signalled */
	struct blk_slot slots[BLK_QUEUE_SIZE];
	unsigned free_idx[BLK_QUEUE_SIZE], nr_free;
	struct virtq_chain chain; /* scratch for virtq_pop */
	struct blk_merge merge;	  /* the group process_queue is building */
	struct blk_stats stats;
};

/* Requests popped and not yet answered. */
static unsigned in_flight(const struct blk *b)
{
	return BLK_QUEUE_SIZE - b->nr_free;
}

static struct blk_slot *slot_get(struct blk *b)
{
	return b->nr_free ? &b->slots[b->free_idx[--b->nr_free]] : NULL;
}

static void slot_put(struct blk *b, struct blk_slot *s)
{
	b->free_idx[b->nr_free++] = (unsigned)(s - b->slots);
}

/* Answer a request: status byte, used ring; or drop it if the device was reset since. */
static void finish(struct blk *b, struct blk_slot *s, uint8_t status, uint32_t written)
{
	if (s->gen != b->gen) {
		b->stats.dropped++;
	} else {
		*s->req.status = status;
		if (virtq_push(&b->vd.vq[0], s->head, written) == 0)
			b->pushed = true;
	}
	slot_put(b, s);
}

/* Signal the driver once per batch of used entries. */
static void flush_used(struct blk *b)
{
	if (b->pushed) {
		b->pushed = false;
		virtio_dev_used(&b->vd, 0);
	}
}

static void count_done(struct blk *b, const struct blk_req *r, int res)
{
	if (res < 0) {
		b->stats.io_errors++;
		log_warn_ratelimited(&b->vd.rl, "virtio-blk: request type %u sector %llu: %s",
				     r->type, (unsigned long long)r->sector, strerror(-res));
	} else if (r->type == VIRTIO_BLK_T_IN) {
		b->stats.bytes_read += r->data_len;
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		b->stats.bytes_written += r->data_len;
	}
}

/* Without VIRTIO_BLK_F_FLUSH the device's cache is write-through (virtio 1.2 §5.2.6.2): a
 * request that changed the disk completes only once the data is durable. */
static bool needs_write_through(struct blk *b, const struct blk_slot *s)
{
	uint32_t t = s->req.type;

	return !s->synced && !virtio_dev_has_feature(&b->vd, VIRTIO_BLK_F_FLUSH) &&
	       (t == VIRTIO_BLK_T_OUT || t == VIRTIO_BLK_T_DISCARD ||
		t == VIRTIO_BLK_T_WRITE_ZEROES);
}

static void disk_done(void *ctx, void *cookie, int res);

/* Follow a completed write with a flush of the file under the same slot. */
static bool submit_write_through(struct blk *b, struct blk_slot *s)
{
	struct disk_req d = {.op = DISK_FLUSH, .cookie = s};

	s->synced = true;
	b->stats.write_through_syncs++;
	return disk_submit(b->disk, &d) == 0;
}

/* Backend completion of a request or of a merged group headed by cookie (vd.lock held: inside
 * disk_submit or disk_complete): every request of the group gets the group's result. */
static void disk_done(void *ctx, void *cookie, int res)
{
	struct blk *b = ctx;
	struct blk_slot *s = cookie, *next;

	if (res == 0 && s->gen == b->gen && needs_write_through(b, s)) {
		if (submit_write_through(b, s))
			return; /* completes when the flush does */
		res = -EIO;
	}
	free(s->miov);
	s->miov = NULL;
	for (; s; s = next) {
		uint32_t written = 1;

		next = s->next;
		s->next = NULL;
		if (s->gen == b->gen) /* once per request, after its write-through flush if any */
			count_done(b, &s->req, res);
		if (res == 0 && s->req.type == VIRTIO_BLK_T_IN)
			written += s->req.data_len;
		finish(b, s, res == 0 ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR, written);
	}
}

static void count_type(struct blk *b, uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		b->stats.reads++;
		break;
	case VIRTIO_BLK_T_OUT:
		b->stats.writes++;
		break;
	case VIRTIO_BLK_T_FLUSH:
		b->stats.flushes++;
		break;
	case VIRTIO_BLK_T_GET_ID:
		b->stats.get_ids++;
		break;
	case VIRTIO_BLK_T_DISCARD:
		b->stats.discards++;
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		b->stats.write_zeroes++;
		break;
	}
}

static void get_id(struct blk *b, struct blk_slot *s)
{
	const struct blk_req *r = &s->req;
	uint32_t off = 0;

	for (unsigned i = 0; i < r->nr_iov; i++) {
		memcpy(r->iov[i].iov_base, b->serial + off, r->iov[i].iov_len);
		off += (uint32_t)r->iov[i].iov_len;
	}
	finish(b, s, VIRTIO_BLK_S_OK, r->data_len + 1);
}

static enum disk_op disk_op_of(uint32_t type)
{
	switch (type) {
	case VIRTIO_BLK_T_IN:
		return DISK_READ;
	case VIRTIO_BLK_T_OUT:
		return DISK_WRITE;
	case VIRTIO_BLK_T_DISCARD:
		return DISK_DISCARD;
	default:
		return DISK_WRITE_ZEROES;
	}
}

static void submit_one(struct blk *b, struct blk_slot *s);

/* Send the group being built to the backend: one request for all of it (a single request as
 * it is; a failed allocation sends them one by one). */
static void merge_submit(struct blk *b)
{
	struct blk_merge m = b->merge;
	struct blk_slot *s = m.first;
	struct disk_req d = {.op = s ? disk_op_of(s->req.type) : DISK_READ, .cookie = s};
	int ret;

	memset(&b->merge, 0, sizeof(b->merge));
	if (!s)
		return;
	d.offset = s->req.sector * BLK_SECTOR_SIZE;
	d.len = m.bytes;
	if (m.nr == 1 || !(s->miov = calloc(m.nr_iov, sizeof(*s->miov)))) {
		for (struct blk_slot *t = s, *next; t; t = next) {
			next = t->next;
			t->next = NULL;
			submit_one(b, t);
		}
		return;
	}
	d.iov = s->miov;
	for (struct blk_slot *t = s; t; t = t->next) {
		memcpy(s->miov + d.iovcnt, t->req.iov, t->req.nr_iov * sizeof(*s->miov));
		d.iovcnt += t->req.nr_iov;
	}
	b->stats.merged += m.nr - 1;
	ret = disk_submit(b->disk, &d);
	if (ret < 0)
		disk_done(b, s, ret);
}

/* Add read or write s to the group being built, or send that group and start a new one with s:
 * requests merge when they are of one type and each starts where the previous one ended. */
static void merge_add(struct blk *b, struct blk_slot *s)
{
	struct blk_merge *m = &b->merge;
	const struct blk_req *l = m->last ? &m->last->req : NULL;

	if (!l || l->type != s->req.type || l->sector + l->nr_sectors != s->req.sector ||
	    m->nr_iov + s->req.nr_iov > MERGE_IOV_MAX ||
	    m->bytes + s->req.data_len > MERGE_BYTES_MAX) {
		merge_submit(b);
		m->first = s;
	} else {
		m->last->next = s;
	}
	s->next = NULL;
	m->last = s;
	m->nr++;
	m->nr_iov += s->req.nr_iov;
	m->bytes += s->req.data_len;
}

/* Hand a valid request to the backend (or answer it when there is nothing to do): reads and
 * writes join the group merge_submit sends, anything else goes after that group. */
static void execute(struct blk *b, struct blk_slot *s)
{
	const struct blk_req *r = &s->req;

	if ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) && r->nr_sectors) {
		merge_add(b, s);
		return;
	}
	merge_submit(b);
	submit_one(b, s);
}

/* Hand one request to the backend (or answer it when there is nothing to do). */
static void submit_one(struct blk *b, struct blk_slot *s)
{
	struct blk_req *r = &s->req;
	struct disk_req d = {.offset = r->sector * BLK_SECTOR_SIZE,
			     .len = r->nr_sectors * BLK_SECTOR_SIZE,
			     .iov = r->iov,
			     .iovcnt = r->nr_iov,
			     .unmap = r->unmap,
			     .cookie = s};
	int ret;

	switch (r->type) {
	case VIRTIO_BLK_T_GET_ID:
		get_id(b, s);
		return;
	case VIRTIO_BLK_T_FLUSH:
		d.op = DISK_FLUSH;
		break;
	default:
		if (r->nr_sectors == 0) { /* an empty transfer or range: done */
			finish(b, s, VIRTIO_BLK_S_OK, 1);
			return;
		}
		d.op = disk_op_of(r->type);
		break;
	}
	ret = disk_submit(b->disk, &d);
	if (ret < 0)
		disk_done(b, s, ret);
}

/* The bytes a request moves, for the rate limiter (reads and writes; others: none). */
static uint64_t request_bytes(const struct blk_req *r)
{
	return r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ? r->data_len : 0;
}

/* One popped chain: parse, then answer or execute. false if the rate limiter holds it back:
 * the chain goes back to the ring and the limiter's timer resumes the queue. */
static bool handle_chain(struct blk *b, const struct virtq_chain *c)
{
	struct blk_slot *s = slot_get(b);
	int ret;

	assert(s); /* process_queue pops only with a free slot */
	s->gen = b->gen;
	s->synced = false;
	s->head = c->head;
	ret = blk_req_parse(c, &b->lim, &s->req);
	if (ret < 0) {
		/* No status byte: nowhere to report; return the buffers untouched (see header). */
		b->stats.no_status++;
		log_warn_ratelimited(&b->vd.rl, "virtio-blk: request without a status byte");
		if (virtq_push(&b->vd.vq[0], c->head, 0) == 0)
			b->pushed = true;
		slot_put(b, s);
		return true;
	}
	if (ret == 0 && !rate_limiter_consume(&b->rl, request_bytes(&s->req))) {
		slot_put(b, s);
		b->stats.throttled++;
		return virtq_unpop(&b->vd.vq[0]) < 0; /* popped just now: cannot fail */
	}
	count_type(b, s->req.type);
	if (ret == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupported++;
	else if (ret != 0)
		b->stats.bad_requests++;
	if (ret != 0)
		finish(b, s, (uint8_t)ret, 1);
	else
		execute(b, s);
	return true;
}

static bool can_start(const struct blk *b)
{
	return !b->held && b->nr_free > 0 && disk_room(b->disk) > 0;
}

/* Pop and start requests until the ring is empty (and notifications are re-enabled without a
 * race) or slots run out (then a completion resumes). Requests the page cache serves complete
 * inside io_uring_submit: they are reaped here, not one main-loop wakeup later (the disk's
 * eventfd is read in the same go, sparing that wakeup), and the slots they free take more of
 * the ring. vd.lock held. */
static void process_queue(struct blk *b)
{
	bool used = false; /* every well-formed chain is a request: none is refused */
	bool limited = false;
	int ret = 1;

	b->stalled = false;
	for (;;) {
		while (can_start(b) &&
		       (ret = virtio_dev_take(&b->vd, 0, &b->chain, NULL, NULL, &used)) > 0)
			if (!handle_chain(b, &b->chain)) {
				limited = true; /* rate-limited: the limiter's timer calls back */
				break;
			}
		merge_submit(b);
		if (limited || b->defer_completions || disk_complete(b->disk) == 0 || ret <= 0)
			break;
	}
	if (!limited && ret > 0 && !can_start(b)) /* slots ran out before the ring did */
		b->stalled = true;
	flush_used(b);
}

/* The rate limiter's timer: a request it held back may go now (main loop). */
static void on_rate_ready(void *ctx)
{
	struct blk *b = ctx;

	pthread_mutex_lock(&b->vd.lock);
	if (virtio_dev_live(&b->vd) && b->vd.vq[0].active)
		process_queue(b);
	pthread_mutex_unlock(&b->vd.lock);
}

int blk_set_rate_limit(struct blk *b, const struct rate_limit_config *rate)
{
	int ret;

	pthread_mutex_lock(&b->vd.lock);
	ret = rate_limiter_update(&b->rl, rate);
	pthread_mutex_unlock(&b->vd.lock);
	if (ret == 0)
		on_rate_ready(b);
	return ret;
}

/* The main loop's poller (src/core/event_loop.c): requests the driver queued and completions
 * io_uring posted, handled before their eventfds would wake the loop. WAIT while requests are
 * with io_uring's workers (a buffered write the page cache could not take at once): they need
 * the CPU the loop would spin on. */
static enum event_poll blk_poll(void *ctx)
{
	struct blk *b = ctx;
	enum event_poll r = EVENT_POLL_IDLE;

	pthread_mutex_lock(&b->vd.lock);
	if (!virtio_dev_live(&b->vd) || !b->vd.vq[0].active)
		r = EVENT_POLL_WAIT;
	else if ((can_start(b) && virtq_has_avail(&b->vd.vq[0])) || disk_has_completions(b->disk))
		r = EVENT_POLL_WORK;
	else if (in_flight(b) > 0)
		r = EVENT_POLL_WAIT;
	if (r == EVENT_POLL_WORK)
		process_queue(b); /* reaps the completions too (and takes what they free up) */
	pthread_mutex_unlock(&b->vd.lock);
	return r;
}

/* io_uring completions are waiting (main loop). */
static void on_disk_event(void *ctx, int fd, uint32_t events)
{
	struct blk *b = ctx;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&b->vd.lock);
	disk_complete(b->disk);
	if (b->stalled && virtio_dev_live(&b->vd) && b->vd.vq[0].active)
		process_queue(b);
	else
		flush_used(b);
	pthread_mutex_unlock(&b->vd.lock);
}

/* --- virtio_dev_ops --- */

static uint64_t blk_features(void *dev)
{
	struct blk *b = dev;
	uint64_t f = (1ULL << VIRTIO_BLK_F_SEG_MAX) | (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
		     (1ULL << VIRTIO_BLK_F_FLUSH);

	if (disk_read_only(b->disk))
		return f | (1ULL << VIRTIO_BLK_F_RO);
	return f | (1ULL << VIRTIO_BLK_F_DISCARD) | (1ULL << VIRTIO_BLK_F_WRITE_ZEROES);
}

static void blk_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct blk *b = dev;

	memcpy(buf, (const uint8_t *)&b->cfg + off, len);
}

static int blk_activate(void *dev)
{
	struct blk *b = dev;

	b->lim.discard = virtio_dev_has_feature(&b->vd, VIRTIO_BLK_F_DISCARD);
	b->lim.write_zeroes = virtio_dev_has_feature(&b->vd, VIRTIO_BLK_F_WRITE_ZEROES);
	b->stalled = false;
	return 0;
}

/* Requests in flight keep their slots until the backend finishes them; their completions see
 * a stale generation and touch neither the status byte nor the rings. */
static void blk_queue_reset(void *dev, unsigned q);

static void blk_reset(void *dev)
{
	struct blk *b = dev;

	blk_queue_reset(b, 0);
	b->lim.discard = false;
	b->lim.write_zeroes = false;
}

static void blk_notify(void *dev, unsigned q)
{
	(void)q; /* one queue: the transport checked q */
	process_queue(dev);
}

/* The queue's ring is gone: requests in flight keep their slots until the backend finishes them,
 * but their completions see a stale generation and touch neither the status byte nor a ring the
 * driver may have set up again. */
static void blk_queue_reset(void *dev, unsigned q)
{
	struct blk *b = dev;

	(void)q;
	b->gen++;
	b->stalled = false;
	b->pushed = false;
}

static int blk_save_hook(void *dev, struct state_buf *b)
{
	return blk_save(dev, b);
}

static int blk_load_hook(void *dev, struct state_buf *b, uint16_t version)
{
	return blk_load(dev, b, version);
}

static const struct device_counter blk_counters[] = {
    DEVICE_COUNTER(struct blk_stats, reads),	     DEVICE_COUNTER(struct blk_stats, writes),
    DEVICE_COUNTER(struct blk_stats, flushes),	     DEVICE_COUNTER(struct blk_stats, discards),
    DEVICE_COUNTER(struct blk_stats, write_zeroes),  DEVICE_COUNTER(struct blk_stats, get_ids),
    DEVICE_COUNTER(struct blk_stats, unsupported),   DEVICE_COUNTER(struct blk_stats, bytes_read),
    DEVICE_COUNTER(struct blk_stats, bytes_written), DEVICE_COUNTER(struct blk_stats, io_errors),
    DEVICE_COUNTER(struct blk_stats, bad_requests),  DEVICE_COUNTER(struct blk_stats, no_status),
    DEVICE_COUNTER(struct blk_stats, throttled),     DEVICE_COUNTER(struct blk_stats, merged),
};

static void blk_stats_hook(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct blk_stats s;

	blk_get_stats(dev, &s);
	device_report_counters(DEVICE_COUNTERS(blk_counters), &s, name, fn, ctx);
}

static int blk_drain_hook(void *dev, int timeout_ms)
{
	return blk_drain(dev, timeout_ms);
}

static void blk_destroy_hook(void *dev)
{
	blk_destroy(dev);
}

static const struct virtio_dev_ops blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .nr_queues = 1,
    .queue_max = BLK_QUEUE_SIZE,
    .config_len = BLK_CONFIG_LEN,
    .features = blk_features,
    .config_read = blk_config_read,
    .config_write = NULL,
    .activate = blk_activate,
    .reset = blk_reset,
    .notify = blk_notify,
    .queue_reset = blk_queue_reset,
    .state_name = "blk",
    .state_version = BLK_STATE_VERSION,
    .state_min_version = 1,
    .save = blk_save_hook,
    .load = blk_load_hook,
    .stats = blk_stats_hook,
    .drain = blk_drain_hook,
    .destroy = blk_destroy_hook,
};

/* --- creation --- */

static void fill_config(struct blk *b)
{
	uint64_t sectors = disk_sectors(b->disk);

	b->cfg.capacity = htole64(sectors);
	b->cfg.seg_max = htole32(BLK_SEG_MAX);
	b->cfg.blk_size = htole32(BLK_SECTOR_SIZE);
	b->cfg.num_queues = htole16(1);
	if (!disk_read_only(b->disk)) {
		b->cfg.max_discard_sectors = htole32(BLK_MAX_DWZ_SECTORS);
		b->cfg.max_discard_seg = htole32(BLK_MAX_DWZ_SEG);
		b->cfg.discard_sector_alignment = htole32(BLK_DISCARD_ALIGNMENT);
		b->cfg.max_write_zeroes_sectors = htole32(BLK_MAX_DWZ_SECTORS);
		b->cfg.max_write_zeroes_seg = htole32(BLK_MAX_DWZ_SEG);
		b->cfg.write_zeroes_may_unmap = 1;
	}
	b->lim.capacity = sectors;
	b->lim.read_only = disk_read_only(b->disk);
}

/* Open cfg->path as *out for b, its completions watched on cfg->loop (with io_uring). */
static int open_disk_as(struct blk *b, const struct blk_config *cfg, struct disk **out)
{
	struct disk_params dc = {.path = cfg->path,
				 .read_only = cfg->read_only,
				 .force_sync = cfg->force_sync || !cfg->loop,
				 .depth = BLK_QUEUE_SIZE,
				 .done = disk_done,
				 .ctx = b,
				 .err = cfg->err};
	int ret = disk_open(&dc, out);

	if (ret < 0 || !disk_is_async(*out))
		return ret;
	ret = event_loop_add(cfg->loop, disk_event_fd(*out), EPOLLIN, on_disk_event, b);
	if (ret < 0) {
		err_set(cfg->err, ret, "disk %s: watching completions: %s", cfg->path,
			strerror(-ret));
		disk_close(*out);
	}
	return ret;
}

static int open_disk(struct blk *b, const struct blk_config *cfg)
{
	int ret = open_disk_as(b, cfg, &b->disk);

	if (ret == 0 && disk_is_async(b->disk))
		b->loop = cfg->loop;
	return ret;
}

/* Stop the old disk's completions from reaching the loop and close it. */
static void close_disk(struct blk *b, struct disk *d)
{
	if (disk_is_async(d))
		event_loop_del(b->loop, disk_event_fd(d));
	disk_close(d);
}

int blk_create(const struct blk_config *cfg, struct blk **out)
{
	struct blk *b;
	int ret;

	if (cfg->serial && strlen(cfg->serial) > BLK_ID_LEN) {
		return err_set(cfg->err, -EINVAL, "disk %s: id '%s' is longer than %d bytes",
			       cfg->path, cfg->serial, BLK_ID_LEN);
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (cfg->serial)
		memcpy(b->serial, cfg->serial, strlen(cfg->serial));
	for (unsigned i = 0; i < BLK_QUEUE_SIZE; i++)
		b->free_idx[i] = i;
	b->nr_free = BLK_QUEUE_SIZE;
	b->events = cfg->loop;
	b->defer_completions = cfg->defer_completions;
	ret = rate_limiter_init(&b->rl, &cfg->rate, cfg->loop, on_rate_ready, b);
	if (ret < 0)
		goto out_free;
	ret = open_disk(b, cfg);
	if (ret < 0)
		goto out_rl;
	fill_config(b);
	ret = virtio_dev_init(&b->vd, &blk_ops, b, cfg->mem);
	if (ret < 0)
		goto out_close;
	if (b->events && !cfg->defer_completions &&
	    (ret = event_loop_add_poller(b->events, blk_poll, b)) < 0) {
		virtio_dev_destroy(&b->vd);
		goto out_close;
	}
	*out = b;
	return 0;
out_close:
	if (b->loop)
		event_loop_del(b->loop, disk_event_fd(b->disk));
	disk_close(b->disk);
out_rl:
	rate_limiter_destroy(&b->rl);
out_free:
	free(b);
	return ret;
}

/* The counter name disk `index` joins the board under ("block<index>"). */
static void disk_name(unsigned index, char name[DEVICE_NAME_MAX])
{
	snprintf(name, DEVICE_NAME_MAX, "block%u", index);
}

/* Disk `index` of the configuration, attached as "block<index>". */
static int disk_add(struct vm *vm, unsigned index)
{
	const struct disk_config *dc = &vm->cfg->disks[index];
	char serial[BLK_ID_LEN + 1], name[DEVICE_NAME_MAX]; /* GET_ID: the id's first 20 bytes */
	struct blk_config bc = {.path = dc->path,
				.read_only = dc->read_only,
				.serial = dc->id[0] ? serial : NULL,
				.force_sync = dc->io_engine == DISK_IO_SYNC,
				.loop = vm->loop,
				.mem = &vm->mem,
				.err = vm->err,
				.rate = dc->rate};
	struct blk *blk;
	int ret;

	snprintf(serial, sizeof(serial), "%s", dc->id);
	disk_name(index, name);
	ret = blk_create(&bc, &blk); /* logs its own one-line error */
	if (ret == 0) {
		ret = board_add_virtio(vm, &blk->vd, name);
		if (ret < 0)
			blk_destroy(blk);
	}
	return ret;
}

int blk_board_add(struct vm *vm)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->cfg->nr_disks && ret == 0; i++) {
		ret = disk_add(vm, i);
		if (ret == -ENOENT || ret == -EACCES || ret == -EISDIR || ret == -EINVAL)
			return -EINVAL; /* a bad --disk: a configuration error */
	}
	return ret;
}

struct virtio_dev *blk_virtio_dev(struct blk *b)
{
	return &b->vd;
}

void blk_get_stats(struct blk *b, struct blk_stats *out)
{
	pthread_mutex_lock(&b->vd.lock);
	*out = b->stats;
	pthread_mutex_unlock(&b->vd.lock);
}

int blk_replace_backing(struct blk *b, const char *path, int timeout_ms, struct kiln_err *err)
{
	struct blk_config bc = {.path = path,
				.read_only = b->lim.read_only,
				.force_sync = !disk_is_async(b->disk),
				.loop = b->loop,
				.err = err};
	struct disk *nd;
	int ret = open_disk_as(b, &bc, &nd);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&b->vd.lock);
	b->held = true; /* the queue stalls; requests in flight finish on the old file */
	pthread_mutex_unlock(&b->vd.lock);
	ret = blk_drain(b, timeout_ms);
	pthread_mutex_lock(&b->vd.lock);
	b->held = false;
	if (ret == 0) {
		close_disk(b, b->disk);
		b->disk = nd;
		fill_config(b);
		if (virtio_dev_live(&b->vd))
			virtio_dev_config_changed(&b->vd); /* the capacity may have changed */
	}
	if (virtio_dev_live(&b->vd) && b->vd.vq[0].active)
		process_queue(b);
	pthread_mutex_unlock(&b->vd.lock);
	if (ret < 0) {
		close_disk(b, nd);
		return err_set(err, ret, "disk %s: requests of the old file still in flight", path);
	}
	return 0;
}

struct blk *blk_find(struct vm *vm, unsigned index)
{
	char name[DEVICE_NAME_MAX];
	struct virtio_dev *vd;

	disk_name(index, name);
	vd = device_list_find(&vm->devices, name, &virtio_device_ops);
	return vd && vd->ops->device_id == VIRTIO_ID_BLOCK ? vd->dev : NULL;
}

void blk_destroy(struct blk *b)
{
	if (!b)
		return;
	if (b->events)
		event_loop_del_poller(b->events, blk_poll, b);
	if (b->loop)
		event_loop_del(b->loop, disk_event_fd(b->disk));
	disk_close(b->disk);
	rate_limiter_destroy(&b->rl);
	virtio_dev_destroy(&b->vd);
	free(b);
}

/* --- state --- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int blk_drain(struct blk *b, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	unsigned left;

	pthread_mutex_lock(&b->vd.lock);
	while ((left = in_flight(b)) > 0 && now_ms() < deadline) {
		struct pollfd p = {.fd = disk_event_fd(b->disk), .events = POLLIN};

		pthread_mutex_unlock(&b->vd.lock);
		if (p.fd >= 0)
			(void)poll(&p, 1, 50);
		pthread_mutex_lock(&b->vd.lock);
		disk_complete(b->disk); /* as on_disk_event does */
		if (b->stalled && virtio_dev_live(&b->vd) && b->vd.vq[0].active)
			process_queue(b);
		else
			flush_used(b);
	}
	pthread_mutex_unlock(&b->vd.lock);
	if (left)
		log_err("virtio-blk: %u requests still in flight after %d ms", left, timeout_ms);
	return left ? -ETIMEDOUT : 0;
}

int blk_save(struct blk *b, struct state_buf *sb)
{
	int ret = 0;

	pthread_mutex_lock(&b->vd.lock);
	if (in_flight(b)) {
		log_err("virtio-blk: cannot save with %u requests in flight", in_flight(b));
		ret = -EBUSY;
	} else {
		state_put_u64(sb, b->lim.capacity);
		state_put_u8(sb, b->lim.read_only);
		state_put_bytes(sb, b->serial, BLK_ID_LEN);
	}
	pthread_mutex_unlock(&b->vd.lock);
	return ret;
}

int blk_load(struct blk *b, struct state_buf *sb, uint16_t version)
{
	uint64_t cap = state_get_u64(sb);
	uint8_t ro = state_get_u8(sb);
	char serial[BLK_ID_LEN];

	state_get_bytes(sb, serial, sizeof(serial));
	if (version != BLK_STATE_VERSION || state_section_done(sb)) {
		state_refuse(sb, "virtio-blk: unknown section version or length");
		return -EINVAL;
	}
	if (cap != b->lim.capacity || ro != b->lim.read_only) {
		state_refuse(sb, "virtio-blk: the disk had %llu sectors%s, this one has %llu%s",
			     (unsigned long long)cap, ro ? " (read-only)" : "",
			     (unsigned long long)b->lim.capacity,
			     b->lim.read_only ? " (read-only)" : "");
		return -EINVAL;
	}
	if (memcmp(serial, b->serial, sizeof(serial)) != 0) {
		state_refuse(sb, "virtio-blk: the disk's id differs from the saved one");
		return -EINVAL;
	}
	return 0;
}

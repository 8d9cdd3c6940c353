/* virtq.c — split virtqueues (virtio 1.2 §2.7), device side: checked chain walks, used ring. */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/virtq.h"

/*
 * Ring layouts in guest memory, all little-endian (virtio 1.2 §2.7.5, §2.7.6, §2.7.8). Declared
 * here only for their sizes and offsets; fields are accessed through the helpers below so that
 * every shared field is read or written exactly once, with the ordering it needs.
 */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* [size], then uint16_t used_event */
};

struct vq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[]; /* [size], then uint16_t avail_event */
};

_Static_assert(sizeof(struct vq_desc) == 16, "descriptor is 16 bytes");
_Static_assert(sizeof(struct vq_avail) == 4, "avail header is 4 bytes");
_Static_assert(sizeof(struct vq_used_elem) == 8, "used element is 8 bytes");
_Static_assert(sizeof(struct vq_used) == 4, "used header is 4 bytes");

/* An indirect table holds at most this many descriptors (we cap it at the largest queue). */
#define VQ_INDIRECT_MAX VIRTQ_SIZE_MAX

static struct log_ratelimit vq_warn_rl = LOG_RATELIMIT_INIT;

/* Bytes of each ring for a queue of `size`, always counting the trailing event field: the driver
 * may negotiate EVENT_IDX after we check, and two bytes never matter. */
static uint64_t desc_bytes(uint32_t size)
{
	return (uint64_t)size * sizeof(struct vq_desc);
}

static uint64_t avail_bytes(uint32_t size)
{
	return sizeof(struct vq_avail) + 2ull * size + 2;
}

static uint64_t used_bytes(uint32_t size)
{
	return sizeof(struct vq_used) + (uint64_t)size * sizeof(struct vq_used_elem) + 2;
}

static struct vq_avail *avail_ring(const struct virtq *q)
{
	return q->avail;
}

static struct vq_used *used_ring(const struct virtq *q)
{
	return q->used;
}

/* Shared 16-bit fields: single relaxed accesses, converted from/to little-endian. */
static uint16_t load16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

static void store16(uint16_t *p, uint16_t v)
{
	__atomic_store_n(p, htole16(v), __ATOMIC_RELAXED);
}

static uint16_t *used_event(const struct virtq *q)
{
	return &avail_ring(q)->ring[q->size];
}

static uint16_t *avail_event(const struct virtq *q)
{
	/* Right after ring[size]; 2-byte aligned because the used ring is 4-byte aligned. */
	return (uint16_t *)(void *)&used_ring(q)->ring[q->size];
}

/*
 * virtio 1.2 §2.7.13.3: the driver writes the ring entry and descriptors, then a barrier, then
 * avail->idx. The acquire load pairs with that barrier: everything we read after it (ring
 * entries, descriptors, indirect tables) is at least as new as the index.
 */
static uint16_t avail_idx_acquire(const struct virtq *q)
{
	return le16toh(__atomic_load_n(&avail_ring(q)->idx, __ATOMIC_ACQUIRE));
}

static bool pow2(uint32_t x)
{
	return x && !(x & (x - 1));
}

static bool host_aligned(const void *p, uintptr_t align)
{
	return ((uintptr_t)p & (align - 1)) == 0;
}

/*
 * Dirty tracking of what the device writes (docs/architecture.md, "Dirty pages and live
 * migration"). The device may write exactly the device-writable buffers virtq_pop handed it, from
 * the pop until the push. The push marks them again (a fetch may have consumed the pop's marks,
 * or logging started after the pop), and it must not walk the descriptors again for that: the
 * driver may rewrite a chain's descriptors or indirect table while the chain is in flight. So the
 * pop records the ranges it handed out, whether or not logging is on, and the push marks from
 * the record.
 *
 * The record is a table by head, allocated at activation with the queue's size (a head names one
 * chain while it is in flight). Each entry keeps the chain's writable ranges exactly, adjacent
 * buffers joined, in a small inline array that grows on demand (fourfold, kept for reuse until
 * the queue resets) up to VIRTQ_CHAIN_MAX ranges, the most one chain has. Not "a few exact ranges
 * and one bounding range for the rest": a block read or a big receive chain scatters dozens of
 * pages over all of RAM, a bounding range would mark most of RAM at every such push and pre-copy
 * would never converge. Only when an entry cannot grow (no memory, or a driver publishing a head
 * still in flight piles up more ranges) does a range merge into the last one as a bounding range,
 * marked region by region since it may span holes: over-marking, never under-marking. A count of
 * pops not yet pushed or given back keeps a head published twice recorded until its last push.
 */
#define VQ_REC_INLINE 2		      /* ranges an entry holds without an allocation */
#define VQ_REC_MAX    VIRTQ_CHAIN_MAX /* ranges an entry grows to, at most */
#define VQ_NO_HEAD    0xffff	      /* popped[]: no chain recorded at this position */

struct vq_range {
	uint64_t gpa, len;
};

struct virtq_rec {
	struct vq_range in[VQ_REC_INLINE];
	struct vq_range *ext; /* once cap > VQ_REC_INLINE: the ranges, malloc'ed */
	uint16_t nr, cap;     /* ranges held; room (VQ_REC_INLINE until the first growth) */
	uint32_t inflight;    /* pops of this head not yet pushed or given back */
};

static struct vq_range *rec_ranges(struct virtq_rec *e)
{
	return e->cap > VQ_REC_INLINE ? e->ext : e->in;
}

/* Grow an entry's room fourfold (up to VQ_REC_MAX). false if it cannot grow. */
static bool rec_grow(struct virtq_rec *e)
{
	uint16_t cap = (uint16_t)(e->cap * 4 > VQ_REC_MAX ? VQ_REC_MAX : e->cap * 4);
	struct vq_range *r;

	if (e->cap >= VQ_REC_MAX)
		return false;
	r = realloc(e->cap > VQ_REC_INLINE ? e->ext : NULL, cap * sizeof(*r));
	if (!r)
		return false;
	if (e->cap == VQ_REC_INLINE)
		memcpy(r, e->in, sizeof(e->in));
	e->ext = r;
	e->cap = cap;
	return true;
}

/* Record [gpa, gpa + len), a buffer checked inside one region, for the chain being popped. */
static void rec_add(struct virtq_rec *e, uint64_t gpa, uint64_t len)
{
	struct vq_range *r = rec_ranges(e), *last = e->nr ? &r[e->nr - 1] : NULL;
	uint64_t lo, hi;

	if (last && gpa == last->gpa + last->len) {
		last->len += len; /* adjacent to the previous buffer */
		return;
	}
	if (e->nr < e->cap || rec_grow(e)) {
		rec_ranges(e)[e->nr++] = (struct vq_range){.gpa = gpa, .len = len};
		return;
	}
	lo = gpa < last->gpa ? gpa : last->gpa; /* full: nr == cap >= VQ_REC_INLINE, last set */
	hi = gpa + len > last->gpa + last->len ? gpa + len : last->gpa + last->len;
	*last = (struct vq_range){.gpa = lo, .len = hi - lo};
}

/* A pop of the entry's head ended (pushed or given back): forget its ranges after the last. */
static void rec_release(struct virtq_rec *e)
{
	if (e->inflight && --e->inflight == 0)
		e->nr = 0;
}

/* Mark [gpa, gpa + len) region by region: a merged range may span holes between regions. */
static void mark_span(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		uint64_t lo = gpa > r->gpa ? gpa : r->gpa;
		uint64_t hi = gpa + len < r->gpa + r->len ? gpa + len : r->gpa + r->len;

		if (lo < hi)
			guest_mem_mark_dirty(m, lo, hi - lo);
	}
}

static void rec_free(struct virtq *q)
{
	for (uint32_t i = 0; q->rec && i < q->size; i++)
		if (q->rec[i].cap > VQ_REC_INLINE)
			free(q->rec[i].ext);
	free(q->rec);
	free(q->popped);
	q->rec = NULL;
	q->popped = NULL;
}

/* The tables for a queue of q->size entries (empty records, no position popped). */
static int rec_alloc(struct virtq *q)
{
	q->rec = calloc(q->size, sizeof(*q->rec));
	q->popped = malloc(q->size * sizeof(*q->popped));
	if (!q->rec || !q->popped) {
		rec_free(q);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < q->size; i++) {
		q->rec[i].cap = VQ_REC_INLINE;
		q->popped[i] = VQ_NO_HEAD;
	}
	return 0;
}

int virtq_activate(struct virtq *q, const struct guest_mem *m)
{
	void *desc, *avail, *used;

	if (q->active || !pow2(q->size) || q->size > VIRTQ_SIZE_MAX)
		return -EINVAL;
	/* §2.7: descriptor table 16, available ring 2, used ring 4 bytes aligned. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	desc = guest_mem_ptr(m, q->desc_gpa, desc_bytes(q->size));
	avail = guest_mem_ptr(m, q->avail_gpa, avail_bytes(q->size));
	used = guest_mem_ptr_rw(m, q->used_gpa, used_bytes(q->size)); /* the device writes it */
	if (!desc || !avail || !used)
		return -EINVAL;
	/* Guest-physical alignment implies host alignment only if regions are mapped aligned. */
	if (!host_aligned(avail, 2) || !host_aligned(used, 4))
		return -EINVAL;
	if (rec_alloc(q) < 0)
		return -ENOMEM;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->mem = m;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	q->push_pending = false;
	q->active = true;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	rec_free(q);
	memset(q, 0, sizeof(*q));
}

/* State of one chain walk. */
struct vq_walk {
	const struct virtq *q;
	struct virtq_chain *c;
	bool seen_write; /* a device-writable descriptor came before */
	const char *why; /* reason for -EINVAL, for the log */
	uint16_t bad_idx;
	struct virtq_rec *rec; /* the head's record (NULL if the head is out of range) */
};

static int walk_fail(struct vq_walk *w, uint16_t idx, const char *why)
{
	w->why = why;
	w->bad_idx = idx;
	return -EINVAL;
}

/* Copy descriptor i of table out of guest memory once; the guest may change it meanwhile. */
static void read_desc(const void *table, uint32_t i, struct vq_desc *d)
{
	memcpy(d, (const uint8_t *)table + (size_t)i * sizeof(*d), sizeof(*d));
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

/* Dirty tracking: the device may write this buffer from now until the push. */
static void note_write(struct vq_walk *w, uint64_t gpa, uint32_t len)
{
	guest_mem_mark_dirty(w->q->mem, gpa, len);
	if (w->rec)
		rec_add(w->rec, gpa, len);
}

/* Append one buffer descriptor to the chain, translated and checked. */
static int add_seg(struct vq_walk *w, const struct vq_desc *d, uint16_t idx)
{
	struct virtq_chain *c = w->c;
	bool writes = d->flags & VIRTQ_DESC_F_WRITE;
	uint32_t *total = writes ? &c->in_len : &c->out_len;
	void *host;

	/* §2.7.4.2: device-readable descriptors before device-writable ones. Checked on
	 * zero-length descriptors too: the rule is about the chain's elements. */
	if (!writes && w->seen_write)
		return walk_fail(w, idx, "readable descriptor after a writable one");
	w->seen_write |= writes;
	if (d->len == 0)
		return 0; /* nothing to transfer; addr is not looked at */
	if (c->nr_segs == VIRTQ_CHAIN_MAX)
		return walk_fail(w, idx, "too many segments");
	/* §2.7.5: a chain is at most 2^32 bytes in total; the totals must not wrap. */
	if (d->len > UINT32_MAX - *total)
		return walk_fail(w, idx, "chain longer than 4 GiB");
	/* One region only: a buffer spanning two adjacent regions is refused (guest_mem_ptr). */
	host = writes ? guest_mem_ptr_rw(w->q->mem, d->addr, d->len)
		      : guest_mem_ptr(w->q->mem, d->addr, d->len);
	if (!host)
		return walk_fail(w, idx, "buffer outside guest memory (or read-only for a write)");
	c->seg[c->nr_segs++] = (struct virtq_seg){
	    .host = host, .gpa = d->addr, .len = d->len, .device_writes = writes};
	*total += d->len;
	if (writes)
		note_write(w, d->addr, d->len);
	else
		c->nr_out++;
	return 0;
}

static int walk_table(struct vq_walk *w, const void *table, uint32_t n, uint16_t first,
		      bool nested);

/* §2.7.5.3: descriptor d points to an indirect table; walk it (it ends the chain). */
static int walk_indirect(struct vq_walk *w, const struct vq_desc *d, uint16_t idx, bool nested)
{
	const void *table;

	if (!w->q->indirect)
		return walk_fail(w, idx, "INDIRECT without VIRTIO_RING_F_INDIRECT_DESC");
	if (nested)
		return walk_fail(w, idx, "INDIRECT inside an indirect table");
	if (d->flags & VIRTQ_DESC_F_NEXT)
		return walk_fail(w, idx, "INDIRECT together with NEXT");
	if (d->len == 0 || d->len % sizeof(struct vq_desc) ||
	    d->len / sizeof(struct vq_desc) > VQ_INDIRECT_MAX)
		return walk_fail(w, idx, "indirect table length");
	/* The WRITE flag on the indirect descriptor itself is ignored (§2.7.5.3.2). */
	table = guest_mem_ptr(w->q->mem, d->addr, d->len);
	if (!table)
		return walk_fail(w, idx, "indirect table outside guest memory");
	return walk_table(w, table, d->len / sizeof(struct vq_desc), 0, true);
}

/*
 * Follow a chain from `first` through a table of n descriptors (the queue's table, or an
 * indirect one). The TTL: a chain may visit at most n descriptors, zero-length ones included;
 * one more can only be a loop (§2.7.5.3.1: the driver MUST NOT create a chain longer than the
 * queue size).
 */
static int walk_table(struct vq_walk *w, const void *table, uint32_t n, uint16_t first, bool nested)
{
	uint32_t visited = 0;
	uint16_t i = first;

	for (;;) {
		struct vq_desc d;
		int ret;

		if (i >= n)
			return walk_fail(w, i, "descriptor index out of range");
		if (++visited > n)
			return walk_fail(w, i, "descriptor loop");
		read_desc(table, i, &d);
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return walk_indirect(w, &d, i, nested);
		ret = add_seg(w, &d, i);
		if (ret < 0)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

static int pop_malformed(struct virtq *q, const char *why, unsigned idx)
{
	q->stats.malformed++;
	log_warn_ratelimited(&vq_warn_rl, "virtq: malformed chain at descriptor %u: %s", idx, why);
	return -EINVAL;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c)
{
	struct vq_walk w = {.q = q, .c = c};
	uint16_t avail_idx, pending, head, pos, nr_before = 0;

	if (!q->active)
		return -ENOENT;
	avail_idx = avail_idx_acquire(q);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return -ENOENT;
	c->nr_segs = c->nr_out = 0;
	c->out_len = c->in_len = 0;
	/* Not consumed: there is no well-defined entry to skip; the caller resets the device. */
	if (pending > q->size)
		return pop_malformed(q, "available index ran more than the queue size ahead",
				     avail_idx);
	pos = q->last_avail & (q->size - 1);
	head = load16(&avail_ring(q)->ring[pos]);
	q->last_avail++;
	c->head = head;
	q->popped[pos] = VQ_NO_HEAD;
	if (head < q->size) {
		w.rec = &q->rec[head];
		nr_before = w.rec->nr;
	}
	if (walk_table(&w, q->desc, q->size, head, false) < 0) {
		if (w.rec) /* what the malformed chain added goes (a merge stays: over-marking) */
			w.rec->nr = w.rec->inflight ? nr_before : 0;
		c->nr_segs = c->nr_out = 0;
		c->out_len = c->in_len = 0;
		return pop_malformed(q, w.why, w.bad_idx);
	}
	w.rec->inflight++;
	q->popped[pos] = head;
	q->stats.popped++;
	return 0;
}

/* Dirty tracking after the used-ring update (a mark after the write it covers: a fetch in
 * between cannot consume it early): the used ring (avail_event with it) and what `head` was
 * given at pop, from the record; then the record is forgotten. */
static void mark_push(struct virtq *q, uint16_t head)
{
	struct virtq_rec *e = &q->rec[head];
	const struct vq_range *r = rec_ranges(e);

	if (__atomic_load_n(&q->mem->logging, __ATOMIC_ACQUIRE)) {
		guest_mem_mark_dirty(q->mem, q->used_gpa, used_bytes(q->size));
		for (unsigned i = 0; i < e->nr; i++)
			mark_span(q->mem, r[i].gpa, r[i].len);
	}
	rec_release(e);
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	struct vq_used_elem *e;

	if (!q->active || head >= q->size)
		return -EINVAL;
	e = &used_ring(q)->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, htole32(head), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(written), __ATOMIC_RELAXED);
	q->used_idx++;
	/*
	 * §2.7.8.2 (and §2.7.14): the element and the buffers' contents must be visible before the
	 * driver sees the new index; the release store orders every earlier write before it.
	 */
	__atomic_store_n(&used_ring(q)->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	mark_push(q, head);
	/* 2^16 pushes since the last decision: signalled_used no longer tells old from new. */
	if (q->used_idx == q->signalled_used)
		q->signalled_valid = false;
	q->push_pending = true;
	q->stats.pushed++;
	return 0;
}

/*
 * §2.7.7.2 with EVENT_IDX: interrupt iff used_event lies in [old, new), the used indices filled
 * since the last decision, computed modulo 2^16 (the Linux/virtio "vring_need_event" test).
 */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq_should_interrupt(struct virtq *q)
{
	bool notify;

	if (!q->active || !q->push_pending)
		return false;
	q->push_pending = false;
	/*
	 * §2.7.7: the driver writes used_event (or clears NO_INTERRUPT), then re-reads used->idx;
	 * we wrote used->idx and now read used_event. Each side stores then loads, so both need a
	 * full barrier; with only release/acquire both could read the old value and the driver
	 * would wait for an interrupt that never comes.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (q->event_idx) {
		uint16_t old = q->signalled_used;
		bool valid = q->signalled_valid;

		q->signalled_used = q->used_idx;
		q->signalled_valid = true;
		/* No baseline yet (first batch, or after a 2^16 wrap): interrupt, which is
		 * allowed (SHOULD NOT, not MUST NOT) and never loses a wake-up. */
		notify = !valid || need_event(load16(used_event(q)), q->used_idx, old);
	} else {
		/* §2.7.7.2 without EVENT_IDX: flags bit 0 asks us not to interrupt. */
		notify = !(load16(&avail_ring(q)->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	if (notify)
		q->stats.notifies++;
	else
		q->stats.suppressed++;
	return notify;
}

bool virtq_enable_notify(struct virtq *q)
{
	if (!q->active)
		return false;
	if (q->event_idx) {
		store16(avail_event(q), q->last_avail);
		/*
		 * §2.7.10: the driver publishes avail->idx, then reads avail_event to decide
		 * whether to notify; we publish avail_event, then re-read avail->idx. Store then
		 * load on both sides: a full barrier here (and the driver's) guarantees that at
		 * least one side sees the other's write, so a buffer is never left unnoticed.
		 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	return virtq_has_avail(q);
}

bool virtq_has_avail(const struct virtq *q)
{
	return q->active && avail_idx_acquire(q) != q->last_avail;
}

/* --- state --- */

void virtq_save(const struct virtq *q, struct state_buf *b)
{
	state_put_u16(b, q->size);
	state_put_u64(b, q->desc_gpa);
	state_put_u64(b, q->avail_gpa);
	state_put_u64(b, q->used_gpa);
	state_put_u8(b, q->event_idx);
	state_put_u8(b, q->indirect);
	state_put_u8(b, q->active);
	state_put_u16(b, q->last_avail);
	state_put_u16(b, q->used_idx);
	state_put_u16(b, q->signalled_used);
	state_put_u8(b, q->signalled_valid);
	state_put_u8(b, q->push_pending);
}

static int load_fail(struct virtq *q, const char **why, const char *what)
{
	virtq_reset(q);
	*why = what;
	return -EINVAL;
}

int virtq_load(struct virtq *q, const struct guest_mem *m, uint16_t queue_max, struct state_buf *b,
	       const char **why)
{
	uint8_t f[3], g[2];
	uint16_t last_avail, used_idx, signalled;
	int ret;

	virtq_reset(q);
	q->size = state_get_u16(b);
	q->desc_gpa = state_get_u64(b);
	q->avail_gpa = state_get_u64(b);
	q->used_gpa = state_get_u64(b);
	for (unsigned i = 0; i < 3; i++)
		f[i] = state_get_u8(b);
	last_avail = state_get_u16(b);
	used_idx = state_get_u16(b);
	signalled = state_get_u16(b);
	g[0] = state_get_u8(b);
	g[1] = state_get_u8(b);
	if (b->overflow)
		return load_fail(q, why, "queue state truncated");
	if (q->size > queue_max || f[0] > 1 || f[1] > 1 || f[2] > 1 || g[0] > 1 || g[1] > 1)
		return load_fail(q, why, "queue size or flags out of range");
	q->event_idx = f[0];
	q->indirect = f[1];
	if (!f[2])
		return 0; /* configured (perhaps) but not ready: nothing more to check */
	ret = virtq_activate(q, m);
	if (ret < 0)
		return load_fail(q, why,
				 ret == -ENOMEM
				     ? "no memory for the queue's records"
				     : "queue rings outside guest memory, misaligned or bad size");
	if ((uint16_t)(last_avail - used_idx) > q->size)
		return load_fail(q, why, "more chains in flight than the queue holds");
	q->last_avail = last_avail;
	q->used_idx = used_idx;
	q->signalled_used = signalled;
	q->signalled_valid = g[0];
	q->push_pending = g[1];
	return 0;
}

int virtq_unpop(struct virtq *q)
{
	uint16_t pos, head;

	if (!q->active || q->last_avail == q->used_idx)
		return -EINVAL;
	q->last_avail--;
	/* Our own note of the head, not the ring entry again: the driver cannot change it. */
	pos = q->last_avail & (q->size - 1);
	head = q->popped[pos];
	q->popped[pos] = VQ_NO_HEAD;
	if (head < q->size)
		rec_release(&q->rec[head]);
	return 0;
}

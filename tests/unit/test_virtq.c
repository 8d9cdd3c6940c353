/* test_virtq.c — split virtqueues driven by a test "driver" over a guard-paged host buffer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <sys/mman.h>
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <cmocka.h>

#include "util/log.h"
#include "virtio/virtq.h"

#define PG 4096ull
/* Guest memory: the main region (rings and buffers), a read-only page and a page right after
 * the main region (adjacent, for buffers that span two regions). */
#define MAIN_GPA  0x100000ull
#define MAIN_LEN  0x200000ull
#define ADJ_GPA	  (MAIN_GPA + MAIN_LEN)
#define ADJ_LEN	  PG
#define RO_GPA	  0x800000ull
#define RO_LEN	  PG
#define HUGE_GPA  0x100000000ull /* 3 GiB reserved, never touched: length-overflow tests */
#define HUGE_LEN  0xc0000000ull
#define DESC_GPA  MAIN_GPA
#define AVAIL_GPA (MAIN_GPA + 0x80000)
#define USED_GPA  (MAIN_GPA + 0xa0000)
#define DATA_GPA  (MAIN_GPA + 0x100000)
#define DATA_LEN  0x100000ull

/* The test driver: what a guest's virtio driver keeps, plus the device's queue. */
struct drv {
	struct guest_mem m;
	uint8_t *main, *adj, *ro;
	void *huge;
	struct virtq q;
	uint16_t size;
	uint16_t avail_idx; /* driver's next avail->idx */
	uint16_t next_desc; /* next free descriptor (allocated round-robin) */
	uint16_t last_used; /* used entries consumed */
	uint64_t data_next; /* bump allocator in the data area */
};

struct buf {
	uint32_t len;
	bool writable;
};

/* len bytes of RW memory with a PROT_NONE page on each side: any stray access faults. */
static uint8_t *map_guarded(size_t len)
{
	uint8_t *p = mmap(NULL, len + 2 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	assert_int_equal(mprotect(p + PG, len, PROT_READ | PROT_WRITE), 0);
	return p + PG;
}

static void unmap_guarded(uint8_t *p, size_t len)
{
	munmap(p - PG, len + 2 * PG);
}

static int setup(void **state)
{
	struct drv *d = calloc(1, sizeof(*d));

	assert_non_null(d);
	guest_mem_init(&d->m, -1);
	d->main = map_guarded(MAIN_LEN);
	d->adj = map_guarded(ADJ_LEN);
	d->ro = map_guarded(RO_LEN);
	d->huge =
	    mmap(NULL, HUGE_LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(d->huge != MAP_FAILED);
	assert_int_equal(guest_mem_add_host(&d->m, MAIN_GPA, MAIN_LEN, d->main, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add_host(&d->m, ADJ_GPA, ADJ_LEN, d->adj, GUEST_MEM_RAM), 0);
	assert_int_equal(guest_mem_add_host(&d->m, RO_GPA, RO_LEN, d->ro, GUEST_MEM_READONLY), 0);
	assert_int_equal(guest_mem_add_host(&d->m, HUGE_GPA, HUGE_LEN, d->huge, GUEST_MEM_RAM), 0);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct drv *d = *state;

	virtq_reset(&d->q);
	guest_mem_destroy(&d->m);
	unmap_guarded(d->main, MAIN_LEN);
	unmap_guarded(d->adj, ADJ_LEN);
	unmap_guarded(d->ro, RO_LEN);
	munmap(d->huge, HUGE_LEN);
	free(d);
	return 0;
}

static uint8_t *hptr(struct drv *d, uint64_t gpa)
{
	assert_true(gpa >= MAIN_GPA && gpa < MAIN_GPA + MAIN_LEN);
	return d->main + (gpa - MAIN_GPA);
}

/* 16-bit ring fields: single relaxed accesses, as a driver's READ_ONCE/WRITE_ONCE (the device
 * reads and writes them concurrently in the two-thread test). */
static void put16(struct drv *d, uint64_t gpa, uint16_t v)
{
	__atomic_store_n((uint16_t *)(void *)hptr(d, gpa), htole16(v), __ATOMIC_RELAXED);
}

static uint16_t get16(struct drv *d, uint64_t gpa)
{
	return le16toh(__atomic_load_n((uint16_t *)(void *)hptr(d, gpa), __ATOMIC_RELAXED));
}

static uint32_t get32(struct drv *d, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, hptr(d, gpa), 4);
	return le32toh(v);
}

/* Configure and activate a queue as the transport would; rings zeroed as a driver allocates. */
static void drv_queue(struct drv *d, uint16_t size, bool event_idx, bool indirect)
{
	virtq_reset(&d->q);
	memset(d->main, 0, MAIN_LEN);
	d->size = size;
	d->avail_idx = d->next_desc = d->last_used = 0;
	d->data_next = DATA_GPA;
	d->q.size = size;
	d->q.desc_gpa = DESC_GPA;
	d->q.avail_gpa = AVAIL_GPA;
	d->q.used_gpa = USED_GPA;
	d->q.event_idx = event_idx;
	d->q.indirect = indirect;
	assert_int_equal(virtq_activate(&d->q, &d->m), 0);
}

/* Pretend the queue has been running for a while: both sides' indices start at idx. */
static void drv_start_at(struct drv *d, uint16_t idx)
{
	d->avail_idx = d->last_used = idx;
	put16(d, AVAIL_GPA + 2, idx);
	put16(d, USED_GPA + 2, idx);
	d->q.last_avail = d->q.used_idx = d->q.signalled_used = idx;
}

static void drv_desc_at(struct drv *d, uint64_t table_gpa, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	uint8_t *p = hptr(d, table_gpa + 16ull * i);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

static void drv_desc(struct drv *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	drv_desc_at(d, DESC_GPA, i, addr, len, flags, next);
}

/* Make head available: ring entry first, then avail->idx with release (§2.7.13). */
static void drv_publish(struct drv *d, uint16_t head)
{
	uint16_t *idx = (uint16_t *)(void *)hptr(d, AVAIL_GPA + 2);

	put16(d, AVAIL_GPA + 4 + 2ull * (d->avail_idx & (d->size - 1)), head);
	d->avail_idx++;
	__atomic_store_n(idx, htole16(d->avail_idx), __ATOMIC_RELEASE);
}

static uint64_t drv_alloc(struct drv *d, uint32_t len)
{
	uint64_t gpa = d->data_next;

	d->data_next += (len + 15) & ~15u;
	assert_true(d->data_next <= DATA_GPA + DATA_LEN);
	return gpa;
}

/* Add a chain of direct descriptors, buffers freshly allocated; returns the head. */
static uint16_t drv_add(struct drv *d, unsigned n, const struct buf *b)
{
	uint16_t head = d->next_desc;

	for (unsigned k = 0; k < n; k++) {
		uint16_t i = d->next_desc, next = (uint16_t)((i + 1) & (d->size - 1));
		uint16_t flags =
		    (b[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		drv_desc(d, i, drv_alloc(d, b[k].len), b[k].len, flags, next);
		d->next_desc = next;
	}
	drv_publish(d, head);
	return head;
}

/* Add a chain made of one descriptor pointing to an indirect table of n entries. */
static uint16_t drv_add_indirect(struct drv *d, unsigned n, const struct buf *b)
{
	uint64_t table = drv_alloc(d, 16 * n);
	uint16_t head = d->next_desc;

	for (unsigned k = 0; k < n; k++) {
		uint16_t flags =
		    (b[k].writable ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);

		drv_desc_at(d, table, k, drv_alloc(d, b[k].len), b[k].len, flags, k + 1);
	}
	drv_desc(d, head, table, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	d->next_desc = (uint16_t)((head + 1) & (d->size - 1));
	drv_publish(d, head);
	return head;
}

/* Next used entry, if the device published one. */
static bool drv_used(struct drv *d, uint32_t *id, uint32_t *len)
{
	uint16_t *idx = (uint16_t *)(void *)hptr(d, USED_GPA + 2);
	uint64_t e;

	if (le16toh(__atomic_load_n(idx, __ATOMIC_ACQUIRE)) == d->last_used)
		return false;
	e = USED_GPA + 4 + 8ull * (d->last_used & (d->size - 1));
	*id = get32(d, e);
	*len = get32(d, e + 4);
	d->last_used++;
	return true;
}

static void drv_set_used_event(struct drv *d, uint16_t v)
{
	put16(d, AVAIL_GPA + 4 + 2ull * d->size, v);
}

static uint16_t drv_avail_event(struct drv *d)
{
	return get16(d, USED_GPA + 4 + 8ull * d->size);
}

static const struct buf one_r[] = {{64, false}};

/* Pop one chain that must be well-formed; check the common invariants. */
static void pop_ok(struct drv *d, struct virtq_chain *c)
{
	uint32_t out = 0, in = 0;

	assert_int_equal(virtq_pop(&d->q, c), 0);
	assert_true(c->nr_out <= c->nr_segs);
	for (unsigned k = 0; k < c->nr_segs; k++) {
		assert_int_equal(c->seg[k].device_writes, k >= c->nr_out);
		*(k < c->nr_out ? &out : &in) += c->seg[k].len;
	}
	assert_int_equal(out, c->out_len);
	assert_int_equal(in, c->in_len);
}

static void test_simple_chain(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;
	uint32_t id, len;
	uint16_t head;

	drv_queue(d, 16, false, false);
	assert_false(virtq_has_avail(&d->q));
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
	head = drv_add(d, 1, one_r);
	assert_true(virtq_has_avail(&d->q));
	pop_ok(d, &c);
	assert_int_equal(c.head, head);
	assert_int_equal(c.nr_segs, 1);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.out_len, 64);
	assert_ptr_equal(c.seg[0].host, hptr(d, DATA_GPA));
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
	assert_false(drv_used(d, &id, &len));
	assert_int_equal(virtq_push(&d->q, c.head, 0), 0);
	assert_true(drv_used(d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	assert_int_equal(d->q.stats.popped, 1);
	assert_int_equal(d->q.stats.pushed, 1);
	assert_int_equal(d->q.stats.malformed, 0);
}

static void test_read_write_chain(void **state)
{
	struct drv *d = *state;
	const struct buf b[] = {{16, false}, {512, false}, {512, true}, {1, true}};
	struct virtq_chain c;
	uint32_t id, len;
	uint16_t head;

	drv_queue(d, 8, false, false);
	drv_add(d, 1, one_r);
	head = drv_add(d, 4, b); /* descriptors 1..4 */
	pop_ok(d, &c);
	pop_ok(d, &c);
	assert_int_equal(c.head, head);
	assert_int_equal(c.nr_segs, 4);
	assert_int_equal(c.nr_out, 2);
	assert_int_equal(c.out_len, 528);
	assert_int_equal(c.in_len, 513);
	memset(c.seg[2].host, 0xab, c.seg[2].len); /* writable segments really are */
	assert_int_equal(virtq_push(&d->q, c.head, 513), 0);
	assert_true(drv_used(d, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 513);
}

/* Dirty tracking: popping marks the writable buffers' pages (not the readable ones), pushing marks
 * them again and the used ring; nothing is marked while logging is off. */
static bool page_dirty(const uint64_t *bits, uint64_t region_gpa, uint64_t gpa)
{
	uint64_t p = (gpa - region_gpa) / PG;

	return (bits[p / 64] >> (p % 64)) & 1;
}

static void test_dirty_marks(void **state)
{
	struct drv *d = *state;
	const uint64_t rd = DATA_GPA + 4 * PG, w1 = DATA_GPA + 8 * PG + 32, w2 = DATA_GPA + 12 * PG;
	const struct guest_region *r = guest_mem_find(&d->m, MAIN_GPA);
	uint64_t bits[MAIN_LEN / PG / 64];
	struct virtq_chain c;

	drv_queue(d, 8, false, false);
	d->data_next = DATA_GPA + 3 * PG;
	drv_add(d, 1, one_r);
	pop_ok(d, &c); /* logging off: nothing marked */
	assert_int_equal(guest_mem_log_start(&d->m), 0);
	/* readable 16 bytes on page 4; writable 4 KiB across pages 8-9; writable 8 bytes, page 12
	 */
	drv_desc(d, 1, rd, 16, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(d, 2, w1, PG, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	drv_desc(d, 3, w2, 8, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, 1);
	pop_ok(d, &c);
	assert_int_equal(c.nr_segs, 3);
	assert_int_equal(guest_mem_dirty_fetch(&d->m, r, bits), 0);
	assert_true(page_dirty(bits, r->gpa, w1) && page_dirty(bits, r->gpa, w1 + PG));
	assert_true(page_dirty(bits, r->gpa, w2));
	assert_false(page_dirty(bits, r->gpa, rd));
	assert_int_equal(guest_mem_bitmap_count(bits, MAIN_LEN / PG / 64), 3);
	assert_int_equal(virtq_push(&d->q, c.head, PG + 8), 0);
	assert_int_equal(guest_mem_dirty_fetch(&d->m, r, bits), 0);
	assert_true(page_dirty(bits, r->gpa, w1) && page_dirty(bits, r->gpa, w2));
	assert_true(page_dirty(bits, r->gpa, USED_GPA));
	assert_false(page_dirty(bits, r->gpa, rd));
	guest_mem_log_stop(&d->m);
}

#define MAIN_WORDS (MAIN_LEN / PG / 64)

/* Fetch (and clear) the main region's dirty bits; returns how many pages are dirty. */
static uint64_t fetch(struct drv *d, uint64_t *bits)
{
	assert_int_equal(guest_mem_dirty_fetch(&d->m, guest_mem_find(&d->m, MAIN_GPA), bits), 0);
	return guest_mem_bitmap_count(bits, MAIN_WORDS);
}

/* Head 0: a readable descriptor (page 4), then a writable one at wr_gpa (64 bytes). */
static void publish_rw(struct drv *d, uint64_t wr_gpa)
{
	drv_desc(d, 0, DATA_GPA + 4 * PG, 16, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, wr_gpa, 64, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, 0);
}

/*
 * The push marks the buffers the device was given at pop, not what the descriptors say at push:
 * the guest rewrites the writable descriptor (page A -> page B) while the chain is in flight,
 * and logging starts after the pop (so the pop itself marked nothing).
 */
static void test_dirty_push_marks_popped_buffers(void **state)
{
	struct drv *d = *state;
	const uint64_t a = DATA_GPA + 8 * PG, b = DATA_GPA + 20 * PG;
	uint64_t bits[MAIN_WORDS];
	struct virtq_chain c;

	drv_queue(d, 8, false, false);
	publish_rw(d, a);
	pop_ok(d, &c);
	assert_int_equal(c.seg[1].gpa, a);
	drv_desc(d, 1, b, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(guest_mem_log_start(&d->m), 0);
	memset(c.seg[1].host, 0xab, c.seg[1].len); /* the device fills page A */
	assert_int_equal(virtq_push(&d->q, c.head, 64), 0);
	assert_int_equal(fetch(d, bits), 2);
	assert_true(page_dirty(bits, MAIN_GPA, a));
	assert_true(page_dirty(bits, MAIN_GPA, USED_GPA));
	assert_false(page_dirty(bits, MAIN_GPA, b)); /* never the device's */
	guest_mem_log_stop(&d->m);
}

/* Popped before logging started, pushed after: every writable page of the chain is marked, and
 * only those (40 scattered pages through an indirect table, more than a few ranges), even when
 * the guest has rewritten the table meanwhile. */
static void test_dirty_popped_before_logging(void **state)
{
	struct drv *d = *state;
	const uint64_t table = DATA_GPA, page0 = DATA_GPA + 16 * PG;
	uint64_t bits[MAIN_WORDS];
	struct virtq_chain c;

	drv_queue(d, 8, false, true);
	drv_desc_at(d, table, 0, DATA_GPA + 4 * PG, 16, VIRTQ_DESC_F_NEXT, 1);
	for (unsigned k = 1; k <= 40; k++) /* every other page: no two ranges touch */
		drv_desc_at(d, table, k, page0 + 2 * (k - 1) * PG, 32,
			    VIRTQ_DESC_F_WRITE | (k < 40 ? VIRTQ_DESC_F_NEXT : 0), k + 1);
	drv_desc(d, 3, table, 16 * 41, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(d, 3);
	pop_ok(d, &c);
	assert_int_equal(c.nr_segs, 41);
	for (unsigned k = 1; k <= 40; k++) /* the guest points them all elsewhere */
		drv_desc_at(d, table, k, DATA_GPA + 4 * PG, 32, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(guest_mem_log_start(&d->m), 0);
	assert_int_equal(virtq_push(&d->q, c.head, 40 * 32), 0);
	assert_int_equal(fetch(d, bits), 41);
	for (unsigned k = 0; k < 40; k++) {
		assert_true(page_dirty(bits, MAIN_GPA, page0 + 2 * k * PG));
		assert_false(page_dirty(bits, MAIN_GPA, page0 + (2 * k + 1) * PG));
	}
	assert_true(page_dirty(bits, MAIN_GPA, USED_GPA));
	guest_mem_log_stop(&d->m);
}

/* What was recorded at pop goes with the chain: given back (unpop) and taken again it is marked
 * once; a head pushed again without a new pop, a chain that turned out malformed, and a chain
 * taken before a queue reset mark nothing but the used ring. */
static void test_dirty_record_lifecycle(void **state)
{
	struct drv *d = *state;
	const uint64_t a = DATA_GPA + 8 * PG;
	uint64_t bits[MAIN_WORDS];
	struct virtq_chain c;

	drv_queue(d, 8, false, false);
	assert_int_equal(guest_mem_log_start(&d->m), 0);
	publish_rw(d, a);
	pop_ok(d, &c);
	assert_int_equal(virtq_unpop(&d->q), 0);
	pop_ok(d, &c);
	fetch(d, bits);
	assert_int_equal(virtq_push(&d->q, c.head, 64), 0);
	assert_int_equal(fetch(d, bits), 2);
	assert_true(page_dirty(bits, MAIN_GPA, a));
	assert_int_equal(virtq_push(&d->q, c.head, 64), 0); /* a device bug: not popped again */
	assert_int_equal(fetch(d, bits), 1);
	/* Writable page A, then a readable descriptor: malformed, nothing stays recorded. */
	drv_desc(d, 0, a, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, DATA_GPA, 16, 0, 0);
	drv_publish(d, 0);
	assert_int_equal(virtq_pop(&d->q, &c), -EINVAL);
	fetch(d, bits);
	assert_int_equal(virtq_push(&d->q, 0, 0), 0);
	assert_int_equal(fetch(d, bits), 1);
	/* A chain in flight when the queue is reset is forgotten with the queue. */
	drv_queue(d, 8, false, false);
	publish_rw(d, a);
	pop_ok(d, &c);
	drv_queue(d, 8, false, false);
	publish_rw(d, a);
	fetch(d, bits);
	assert_int_equal(virtq_push(&d->q, 0, 0), 0);
	assert_int_equal(fetch(d, bits), 1);
	guest_mem_log_stop(&d->m);
}

/* Restored queue state (virtq_load) with a chain in flight: the device takes it again (unpop,
 * pop, as the devices do for a chain they held) and the push marks it from that record. */
static void test_dirty_after_load(void **state)
{
	struct drv *d = *state;
	const uint64_t a = DATA_GPA + 8 * PG;
	struct state_buf w = {0}, r = {0};
	uint64_t bits[MAIN_WORDS];
	struct virtq_chain c;
	const char *why = NULL;
	uint16_t version;

	drv_queue(d, 8, false, false);
	publish_rw(d, a);
	pop_ok(d, &c);
	assert_int_equal(state_begin_section(&w, "q", 1), 0);
	virtq_save(&d->q, &w);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "q", &version), 0);
	assert_int_equal(virtq_load(&d->q, &d->m, 256, &r, &why), 0);
	assert_int_equal(virtq_unpop(&d->q), 0);
	pop_ok(d, &c);
	drv_desc(d, 1, DATA_GPA + 20 * PG, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(guest_mem_log_start(&d->m), 0);
	assert_int_equal(virtq_push(&d->q, c.head, 64), 0);
	assert_int_equal(fetch(d, bits), 2);
	assert_true(page_dirty(bits, MAIN_GPA, a));
	guest_mem_log_stop(&d->m);
	state_buf_free(&w);
}

static void test_chain_as_long_as_queue(void **state)
{
	struct drv *d = *state;
	struct buf b[16];
	struct virtq_chain c;

	for (unsigned k = 0; k < 16; k++)
		b[k] = (struct buf){8, k >= 10};
	drv_queue(d, 16, false, false);
	drv_add(d, 16, b); /* exactly size descriptors: legal */
	pop_ok(d, &c);
	assert_int_equal(c.nr_segs, 16);
	assert_int_equal(c.nr_out, 10);
}

static void test_indirect_chain(void **state)
{
	struct drv *d = *state;
	const struct buf b[] = {{100, false}, {200, true}, {300, true}};
	struct virtq_chain c;
	uint64_t table;
	uint16_t head;

	drv_queue(d, 16, false, true);
	head = drv_add_indirect(d, 3, b);
	pop_ok(d, &c);
	assert_int_equal(c.head, head);
	assert_int_equal(c.nr_segs, 3);
	assert_int_equal(c.nr_out, 1);
	assert_int_equal(c.out_len, 100);
	assert_int_equal(c.in_len, 500);

	/* Direct descriptors followed by one indirect one (§2.7.5.3.2: valid); WRITE on the
	 * indirect descriptor itself is ignored. */
	table = drv_alloc(d, 32);
	drv_desc_at(d, table, 0, drv_alloc(d, 8), 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc_at(d, table, 1, drv_alloc(d, 8), 8, VIRTQ_DESC_F_WRITE, 0);
	drv_desc(d, 5, drv_alloc(d, 4), 4, VIRTQ_DESC_F_NEXT, 9);
	drv_desc(d, 9, table, 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, 5);
	pop_ok(d, &c);
	assert_int_equal(c.head, 5);
	assert_int_equal(c.nr_segs, 3);
	assert_int_equal(c.nr_out, 2);
	assert_int_equal(c.out_len, 12);
	assert_int_equal(c.in_len, 8);
}

static void test_indirect_table_full_size(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;
	uint64_t table;

	/* A 256-entry indirect table in a 2-entry queue: bounded by the table, not the queue. */
	drv_queue(d, 2, false, true);
	table = drv_alloc(d, 16 * 256);
	for (unsigned k = 0; k < 256; k++)
		drv_desc_at(d, table, k, DATA_GPA, 1, k < 255 ? VIRTQ_DESC_F_NEXT : 0, k + 1);
	drv_desc(d, 0, table, 16 * 256, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(d, 0);
	pop_ok(d, &c);
	assert_int_equal(c.nr_segs, VIRTQ_CHAIN_MAX);
}

static void test_zero_length(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;

	drv_queue(d, 8, false, false);
	/* A zero-length descriptor is skipped; its address is never looked at. */
	drv_desc(d, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, UINT64_MAX, 0, VIRTQ_DESC_F_NEXT, 2);
	drv_desc(d, 2, DATA_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, 0);
	pop_ok(d, &c);
	assert_int_equal(c.nr_segs, 2);
	assert_int_equal(c.nr_out, 1);
	/* A chain of nothing but zero-length descriptors is empty, not malformed. */
	drv_desc(d, 3, 0, 0, 0, 0);
	drv_publish(d, 3);
	pop_ok(d, &c);
	assert_int_equal(c.head, 3);
	assert_int_equal(c.nr_segs, 0);
	assert_int_equal(d->q.stats.malformed, 0);
}

/* Pop/push across the 16-bit index wrap, starting just below 65535. */
static void test_index_wraparound(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;
	uint32_t id, len;

	drv_queue(d, 8, false, false);
	drv_start_at(d, 65530);
	for (unsigned n = 0; n < 40; n++) {
		uint16_t head = drv_add(d, 1, one_r);

		if (n % 3 == 0) /* keep a few in flight */
			head = drv_add(d, 1, one_r);
		while (virtq_pop(&d->q, &c) == 0)
			assert_int_equal(virtq_push(&d->q, c.head, n), 0);
		while (drv_used(d, &id, &len))
			assert_true(id < 8 && len == n);
		(void)head;
		d->data_next = DATA_GPA;
	}
	assert_int_equal(d->q.last_avail, d->avail_idx);
	assert_int_equal(d->q.used_idx, d->last_used);
	assert_true(d->avail_idx < 100); /* it did wrap */
	/* And from zero, the long way round: more than 2^16 chains through a queue of 4. */
	drv_queue(d, 4, true, false);
	for (unsigned n = 0; n < 70000; n++) {
		d->data_next = DATA_GPA;
		drv_add(d, 1, one_r);
		pop_ok(d, &c);
		assert_int_equal(virtq_push(&d->q, c.head, 1), 0);
		assert_true(drv_used(d, &id, &len));
		assert_int_equal(id, c.head);
	}
	assert_int_equal(d->q.stats.popped, 70000);
}

/* Push n chains (added by the driver), then ask. */
static bool batch(struct drv *d, unsigned n)
{
	struct virtq_chain c;

	for (unsigned k = 0; k < n; k++) {
		d->data_next = DATA_GPA;
		drv_add(d, 1, one_r);
		pop_ok(d, &c);
		assert_int_equal(virtq_push(&d->q, c.head, 0), 0);
	}
	return virtq_should_interrupt(&d->q);
}

static void event_idx_batches(struct drv *d, uint16_t start)
{
	drv_queue(d, 16, true, false);
	drv_start_at(d, start);
	drv_set_used_event(d, (uint16_t)(start + 100)); /* far away */
	/* Nothing pushed: no interrupt, whatever the state. */
	assert_false(virtq_should_interrupt(&d->q));
	/* First decision after activation: no baseline, interrupt. */
	assert_true(batch(d, 1)); /* used idx start+1 */
	assert_false(virtq_should_interrupt(&d->q));
	/* used_event = start+3: interrupt when the entry at index start+3 is filled. */
	drv_set_used_event(d, (uint16_t)(start + 3));
	assert_false(batch(d, 1)); /* filled start+1 */
	assert_false(batch(d, 1)); /* start+2 */
	assert_true(batch(d, 1));  /* start+3 */
	assert_false(batch(d, 2)); /* start+4, +5: event now behind */
	/* A batch that steps over the event index still interrupts. */
	drv_set_used_event(d, (uint16_t)(start + 7));
	assert_true(batch(d, 4)); /* start+6 .. +9 */
	/* Event exactly at the first entry of a batch. */
	drv_set_used_event(d, (uint16_t)(start + 10));
	assert_true(batch(d, 3));
	/* Event at the next index to be filled (the driver "wants the next one"). */
	drv_set_used_event(d, d->q.used_idx);
	assert_true(batch(d, 1));
	/* Driver sets the event to what was already filled: no interrupt (it rechecks itself). */
	drv_set_used_event(d, (uint16_t)(d->q.used_idx - 1));
	assert_false(batch(d, 2));
	assert_int_equal(d->q.stats.notifies + d->q.stats.suppressed, 9);
}

static void test_event_idx(void **state)
{
	struct drv *d = *state;

	event_idx_batches(d, 0);
	event_idx_batches(d, 65530); /* the same across the 16-bit wrap */
	event_idx_batches(d, 65535);
}

static void test_event_idx_ignores_flags(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, true, false);
	put16(d, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT); /* ignored with EVENT_IDX (§2.7.7.2) */
	assert_true(batch(d, 1));
	drv_set_used_event(d, d->q.used_idx);
	assert_true(batch(d, 1));
}

static void test_event_idx_wrap_without_decision(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, true, false);
	drv_set_used_event(d, 1000);
	assert_true(batch(d, 1)); /* baseline: used 1 */
	/* 2^16 pushes with no decision: the old baseline means nothing; interrupt anyway. */
	for (unsigned k = 0; k < 65536; k++)
		assert_int_equal(virtq_push(&d->q, 0, 0), 0);
	assert_false(d->q.signalled_valid);
	assert_true(virtq_should_interrupt(&d->q));
	assert_true(d->q.signalled_valid);
	assert_false(batch(d, 1));
}

static void test_no_interrupt_flag(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, false, false);
	drv_set_used_event(d, 12345);		     /* ignored without EVENT_IDX */
	assert_false(virtq_should_interrupt(&d->q)); /* nothing pushed */
	assert_true(batch(d, 1));
	put16(d, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(batch(d, 3));
	assert_int_equal(d->q.stats.suppressed, 1);
	put16(d, AVAIL_GPA, 0);
	assert_true(batch(d, 1));
	assert_int_equal(d->q.stats.notifies, 2);
}

static void test_enable_notify(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;

	drv_queue(d, 16, true, false);
	drv_start_at(d, 65534);
	assert_false(virtq_enable_notify(&d->q));
	assert_int_equal(drv_avail_event(d), 65534);
	drv_add(d, 1, one_r);
	drv_add(d, 1, one_r);
	drv_add(d, 1, one_r);
	pop_ok(d, &c);
	/* Buffers arrived: the re-check reports them; avail_event follows last_avail. */
	assert_true(virtq_enable_notify(&d->q));
	assert_int_equal(drv_avail_event(d), 65535);
	pop_ok(d, &c);
	pop_ok(d, &c);
	assert_false(virtq_enable_notify(&d->q));
	assert_int_equal(drv_avail_event(d), 1);
	/* The driver's view: it notifies iff avail_event is within what it just added. */
	drv_add(d, 1, one_r);
	assert_true(virtq_has_avail(&d->q));

	/* Without EVENT_IDX: avail_event untouched, the result is "ring non-empty". */
	drv_queue(d, 16, false, false);
	put16(d, USED_GPA + 4 + 8 * 16, 0x5555);
	assert_false(virtq_enable_notify(&d->q));
	drv_add(d, 1, one_r);
	assert_true(virtq_enable_notify(&d->q));
	assert_int_equal(drv_avail_event(d), 0x5555);
}

/* ---- malformed chains ---------------------------------------------------------------------- */

/* Expect the next pop to be refused and counted; then a good chain at descriptor `good` still
 * goes through (the bad entry was consumed). */
static void expect_malformed(struct drv *d, uint16_t good)
{
	struct virtq_chain c;
	uint64_t before = d->q.stats.malformed;

	assert_int_equal(virtq_pop(&d->q, &c), -EINVAL);
	assert_int_equal(d->q.stats.malformed, before + 1);
	assert_int_equal(c.nr_segs, 0);
	assert_int_equal(c.out_len + c.in_len, 0);
	drv_desc(d, good, DATA_GPA, 32, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, good);
	pop_ok(d, &c);
	assert_int_equal(c.head, good);
	assert_int_equal(c.in_len, 32);
	assert_int_equal(virtq_push(&d->q, c.head, 32), 0);
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
}

/* A single descriptor chain {addr, len, flags} at descriptor 0. */
static void bad_single(struct drv *d, uint64_t addr, uint32_t len, uint16_t flags)
{
	drv_desc(d, 0, addr, len, flags, 0);
	drv_publish(d, 0);
	expect_malformed(d, 15);
}

static void test_bad_loops(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, false, false);
	drv_desc(d, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0); /* length-1 loop */
	drv_publish(d, 0);
	expect_malformed(d, 15);
	for (uint16_t i = 0; i < 16; i++) /* 0 -> 1 -> ... -> 15 -> 3 -> ... */
		drv_desc(d, i, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, i < 15 ? i + 1 : 3);
	drv_publish(d, 0);
	expect_malformed(d, 15);
	for (uint16_t i = 0; i < 16; i++) /* a loop of zero-length descriptors: counted too */
		drv_desc(d, i, 0, 0, VIRTQ_DESC_F_NEXT, (i + 1) & 15);
	drv_publish(d, 7);
	expect_malformed(d, 15);
}

static void test_bad_indices(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, false, false);
	drv_desc(d, 0, DATA_GPA, 8, 0, 0);
	drv_publish(d, 16); /* head out of range */
	expect_malformed(d, 15);
	drv_publish(d, 0xffff);
	expect_malformed(d, 15);
	drv_desc(d, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 16); /* next out of range */
	drv_publish(d, 0);
	expect_malformed(d, 15);
}

static void test_bad_buffers(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, false, false);
	bad_single(d, MAIN_GPA + MAIN_LEN + ADJ_LEN, 1, 0); /* just past the adjacent page */
	bad_single(d, MAIN_GPA - 8, 16, 0);		    /* starts before */
	bad_single(d, 0x400000, 8, 0);			    /* in a hole */
	bad_single(d, UINT64_MAX - 7, 16, 0);		    /* overflows 2^64 */
	bad_single(d, UINT64_MAX, UINT32_MAX, VIRTQ_DESC_F_WRITE);
	bad_single(d, ADJ_GPA - 8, 16, 0);	       /* spans two adjacent regions */
	bad_single(d, RO_GPA, 16, VIRTQ_DESC_F_WRITE); /* device would write read-only memory */
	bad_single(d, ADJ_GPA + ADJ_LEN - 4, 5, 0);    /* one byte past the end */
	/* Reading read-only memory is fine. */
	drv_desc(d, 0, RO_GPA, RO_LEN, 0, 0);
	drv_publish(d, 0);
	assert_int_equal(virtq_pop(&d->q, &(struct virtq_chain){0}), 0);
	/* Totals past 4 GiB (§2.7.5.2): two 3 GiB buffers, never touched. */
	drv_desc(d, 0, HUGE_GPA, HUGE_LEN, VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, HUGE_GPA, HUGE_LEN, 0, 0);
	drv_publish(d, 0);
	expect_malformed(d, 15);
}

static void test_bad_order(void **state)
{
	struct drv *d = *state;

	drv_queue(d, 16, false, true);
	drv_desc(d, 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, DATA_GPA, 8, 0, 0);
	drv_publish(d, 0);
	expect_malformed(d, 15);
	/* Also when the writable one is zero-length, and across into an indirect table. */
	drv_desc(d, 0, DATA_GPA, 0, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_publish(d, 0);
	expect_malformed(d, 15);
	drv_desc_at(d, DATA_GPA + 0x1000, 0, DATA_GPA, 8, 0, 0);
	drv_desc(d, 0, DATA_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	drv_desc(d, 1, DATA_GPA + 0x1000, 16, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(d, 0);
	expect_malformed(d, 15);
}

static void test_bad_indirect(void **state)
{
	struct drv *d = *state;
	uint64_t t = DATA_GPA + 0x1000;

	drv_queue(d, 16, false, false);
	drv_desc_at(d, t, 0, DATA_GPA, 8, 0, 0);
	bad_single(d, t, 16, VIRTQ_DESC_F_INDIRECT); /* feature not negotiated */

	drv_queue(d, 16, false, true);
	drv_desc_at(d, t, 0, DATA_GPA, 8, 0, 0);
	drv_desc(d, 1, DATA_GPA, 8, 0, 0);
	drv_desc(d, 0, t, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1); /* with NEXT */
	drv_publish(d, 0);
	expect_malformed(d, 15);
	bad_single(d, t, 0, VIRTQ_DESC_F_INDIRECT);  /* empty */
	bad_single(d, t, 24, VIRTQ_DESC_F_INDIRECT); /* not a multiple of 16 */
	bad_single(d, t, 8, VIRTQ_DESC_F_INDIRECT);
	bad_single(d, ADJ_GPA + ADJ_LEN - 16, 32, VIRTQ_DESC_F_INDIRECT); /* runs off memory */
	bad_single(d, ADJ_GPA - 16, 32, VIRTQ_DESC_F_INDIRECT);		  /* spans regions */
	bad_single(d, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT);	  /* overflows */
	bad_single(d, HUGE_GPA, 16 * (VIRTQ_SIZE_MAX + 1), VIRTQ_DESC_F_INDIRECT); /* too big */

	drv_desc_at(d, t, 0, t + 64, 16, VIRTQ_DESC_F_INDIRECT, 0); /* nested */
	drv_desc_at(d, t + 64, 0, DATA_GPA, 8, 0, 0);
	bad_single(d, t, 16, VIRTQ_DESC_F_INDIRECT);
	drv_desc_at(d, t, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1); /* next beyond the table */
	bad_single(d, t, 16, VIRTQ_DESC_F_INDIRECT);
	drv_desc_at(d, t, 0, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 1); /* loop inside the table */
	drv_desc_at(d, t, 1, DATA_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	bad_single(d, t, 32, VIRTQ_DESC_F_INDIRECT);
	drv_desc_at(d, t, 0, MAIN_GPA + MAIN_LEN + ADJ_LEN, 8, 0, 0); /* buffer outside memory */
	bad_single(d, t, 16, VIRTQ_DESC_F_INDIRECT);
	assert_int_equal(d->q.stats.popped, 12); /* the good chains since the re-activation */
}

static void test_too_many_segments(void **state)
{
	struct drv *d = *state;
	uint64_t t = DATA_GPA + 0x1000;

	drv_queue(d, 512, false, true);
	for (uint16_t i = 0; i < VIRTQ_CHAIN_MAX + 1; i++)
		drv_desc(d, i, DATA_GPA, 1, i < VIRTQ_CHAIN_MAX ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	drv_publish(d, 0);
	expect_malformed(d, 511);
	/* Zero-length descriptors do not count as segments... */
	drv_desc(d, VIRTQ_CHAIN_MAX, DATA_GPA, 0, 0, 0);
	drv_publish(d, 0);
	assert_int_equal(virtq_pop(&d->q, &(struct virtq_chain){0}), 0);
	/* ...and the limit spans the direct part and the indirect table together. */
	for (uint16_t i = 0; i < 200; i++)
		drv_desc_at(d, t, i, DATA_GPA, 1, i < 199 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	drv_desc(d, 99, t, 16 * 200, VIRTQ_DESC_F_INDIRECT, 0);
	drv_publish(d, 0);
	expect_malformed(d, 511);
}

static void test_avail_idx_jump(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;

	drv_queue(d, 16, false, false);
	drv_start_at(d, 65530);
	drv_desc(d, 0, DATA_GPA, 8, 0, 0);
	put16(d, AVAIL_GPA + 2, (uint16_t)(65530 + 17)); /* 17 entries in a ring of 16 */
	assert_int_equal(virtq_pop(&d->q, &c), -EINVAL);
	assert_int_equal(virtq_pop(&d->q, &c), -EINVAL); /* not consumed; counted each time */
	assert_int_equal(d->q.stats.malformed, 2);
	assert_int_equal(d->q.last_avail, 65530);
	/* Exactly `size` ahead is a full ring, fine. */
	put16(d, AVAIL_GPA + 2, (uint16_t)(65530 + 16));
	for (int k = 0; k < 16; k++)
		pop_ok(d, &c);
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
	/* A reset and re-activation brings the queue back. */
	put16(d, AVAIL_GPA + 2, 40000);
	assert_int_equal(virtq_pop(&d->q, &c), -EINVAL);
	drv_queue(d, 16, false, false);
	drv_add(d, 1, one_r);
	pop_ok(d, &c);
}

/* ---- two threads: the notification protocol end to end -------------------------------------- */

/* Device and driver each sleep until the other wakes them; a lost wake-up (wrong avail_event or
 * used_event handling, a missing re-check) shows as a timeout. */
struct duo {
	struct drv *d;
	sem_t kick, irq;
	volatile bool stop;
	volatile bool timed_out;
	unsigned long kicks, irqs;
};

static bool wait_sem(sem_t *s)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 10;
	while (sem_timedwait(s, &t) < 0)
		if (errno != EINTR)
			return false;
	return true;
}

static void *device_thread(void *arg)
{
	struct duo *u = arg;
	struct virtq *q = &u->d->q;
	static struct virtq_chain c;

	while (!u->stop) {
		while (virtq_pop(q, &c) == 0) {
			if (virtq_push(q, c.head, c.in_len) < 0)
				u->timed_out = true; /* cannot happen; noticed by the driver */
			if (virtq_should_interrupt(q))
				sem_post(&u->irq);
		}
		if (virtq_enable_notify(q))
			continue;
		if (!wait_sem(&u->kick)) {
			u->timed_out = true;
			sem_post(&u->irq);
			break;
		}
	}
	return NULL;
}

static uint16_t load_le16(struct drv *d, uint64_t gpa)
{
	return le16toh(__atomic_load_n((uint16_t *)(void *)hptr(d, gpa), __ATOMIC_ACQUIRE));
}

/* The driver's half of §2.7.10: publish, full fence, notify if avail_event was crossed. */
static void duo_send(struct duo *u, uint16_t head)
{
	struct drv *d = u->d;
	uint16_t old = d->avail_idx, event;

	drv_desc(d, head, DATA_GPA + 64ull * head, 64, VIRTQ_DESC_F_WRITE, 0);
	drv_publish(d, head);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	event = get16(d, USED_GPA + 4 + 8ull * d->size);
	if ((uint16_t)(d->avail_idx - event - 1) < (uint16_t)(d->avail_idx - old)) {
		u->kicks++;
		sem_post(&u->kick);
	}
}

static void test_two_threads(void **state)
{
	struct drv *d = *state;
	struct duo u = {.d = d};
	const unsigned total = 200000;
	unsigned sent = 0, done = 0;
	pthread_t t;
	uint32_t id, len;

	drv_queue(d, 64, true, false);
	drv_start_at(d, 65000);
	sem_init(&u.kick, 0, 0);
	sem_init(&u.irq, 0, 0);
	assert_int_equal(pthread_create(&t, NULL, device_thread, &u), 0);
	while (done < total && !u.timed_out) {
		while (sent < total && sent - done < d->size)
			duo_send(&u, (uint16_t)(sent++ % d->size));
		while (drv_used(d, &id, &len)) {
			assert_int_equal(id, done % d->size);
			assert_int_equal(len, 64);
			done++;
		}
		if (done == sent || (sent - done < d->size && sent < total))
			continue; /* nothing to wait for, or room to send more */
		/* §2.7.7, the driver's half: ask for an interrupt at the next entry, full fence,
		 * re-check before sleeping. */
		drv_set_used_event(d, d->last_used);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (load_le16(d, USED_GPA + 2) != d->last_used)
			continue;
		u.irqs++;
		if (!wait_sem(&u.irq))
			u.timed_out = true;
	}
	u.stop = true;
	sem_post(&u.kick);
	pthread_join(t, NULL);
	if (u.timed_out)
		print_error(
		    "stuck: sent %u done %u last_avail %u used_idx %u avail.idx %u used.idx %u "
		    "avail_event %u used_event %u kicks %lu irqs %lu\n",
		    sent, done, d->q.last_avail, d->q.used_idx, get16(d, AVAIL_GPA + 2),
		    get16(d, USED_GPA + 2), drv_avail_event(d),
		    get16(d, AVAIL_GPA + 4 + 2ull * d->size), u.kicks, u.irqs);
	assert_false(u.timed_out);
	assert_int_equal(done, total);
	assert_int_equal(d->q.stats.popped, total);
	assert_int_equal(d->q.stats.malformed, 0);
	sem_destroy(&u.kick);
	sem_destroy(&u.irq);
}

/* ---- activation, push, reset ---------------------------------------------------------------- */

static int try_activate(struct drv *d, uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	virtq_reset(&d->q);
	d->q.size = size;
	d->q.desc_gpa = desc;
	d->q.avail_gpa = avail;
	d->q.used_gpa = used;
	return virtq_activate(&d->q, &d->m);
}

static void test_activate_validation(void **state)
{
	struct drv *d = *state;
	const uint64_t D = DESC_GPA, A = AVAIL_GPA, U = USED_GPA;

	assert_int_equal(try_activate(d, 0, D, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 3, D, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 0xffff, D, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 32768 + 1024, D, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 32768, D, A, U), 0); /* the largest */
	assert_int_equal(try_activate(d, 1, D, A, U), 0);     /* the smallest */
	assert_true(d->q.active);
	assert_int_equal(virtq_activate(&d->q, &d->m), -EINVAL); /* already active */
	/* Alignment. */
	assert_int_equal(try_activate(d, 16, D + 8, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, A + 1, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, A, U + 2), -EINVAL);
	assert_int_equal(try_activate(d, 16, D + 16, A + 2, U + 4), 0);
	/* Outside memory: in a hole, running off the end, the event field off the end. */
	assert_int_equal(try_activate(d, 16, 0x400000, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, 0x400000, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, A, 0x400000), -EINVAL);
	assert_int_equal(try_activate(d, 16, ADJ_GPA + ADJ_LEN - 128, A, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, ADJ_GPA + ADJ_LEN - 256, A, U), 0);
	assert_int_equal(try_activate(d, 16, D, ADJ_GPA + ADJ_LEN - 36, U), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, ADJ_GPA + ADJ_LEN - 38, U), 0);
	assert_int_equal(try_activate(d, 16, D, A, ADJ_GPA + ADJ_LEN - 132), -EINVAL);
	assert_int_equal(try_activate(d, 16, D, A, ADJ_GPA + ADJ_LEN - 136), 0);
	assert_int_equal(try_activate(d, 16, D, A, ADJ_GPA - 64), -EINVAL); /* spans regions */
	assert_int_equal(try_activate(d, 16, UINT64_MAX - 15, A, U), -EINVAL);
	/* Read-only memory: fine for what the device only reads, not for the used ring. */
	assert_int_equal(try_activate(d, 16, RO_GPA, RO_GPA + 256, U), 0);
	assert_int_equal(try_activate(d, 16, D, A, RO_GPA), -EINVAL);
	assert_false(d->q.active);
}

static void test_push_and_reset(void **state)
{
	struct drv *d = *state;
	struct virtq_chain c;

	virtq_reset(&d->q);
	assert_int_equal(virtq_push(&d->q, 0, 0), -EINVAL); /* not active */
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
	assert_false(virtq_should_interrupt(&d->q));
	assert_false(virtq_enable_notify(&d->q));
	assert_false(virtq_has_avail(&d->q));
	drv_queue(d, 16, true, true);
	assert_int_equal(virtq_push(&d->q, 16, 0), -EINVAL);
	assert_int_equal(virtq_push(&d->q, 15, 0), 0);
	drv_add(d, 1, one_r);
	virtq_reset(&d->q);
	assert_false(d->q.active);
	assert_int_equal(d->q.size, 0);
	assert_int_equal(d->q.stats.pushed, 0);
	assert_int_equal(virtq_pop(&d->q, &c), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_simple_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_write_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_marks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_push_marks_popped_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_popped_before_logging, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_record_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dirty_after_load, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain_as_long_as_queue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_indirect_table_full_size, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_length, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_index_wraparound, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_ignores_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_event_idx_wrap_without_decision, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enable_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_loops, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_indices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_indirect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_avail_idx_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_activate_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_and_reset, setup, teardown),
	};

	log_set_level(LOG_ERROR); /* malformed chains log rate-limited warnings */
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_virtio_balloon.c — virtio-balloon driven through virtio-mmio as a guest driver would:
 * inflate and deflate with good and hostile page numbers, pages really given back, the
 * statistics protocol, free page reporting, configuration space, state. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "vdrv.h"
#include "virtio/balloon.h"

#define MEM_LEN	 (4ull << 20) /* guest RAM: gpa 0x100000..0x500000, pages 0x100..0x4ff */
#define PAGES_AT 0x200000ull  /* offset of the pages the tests balloon (gpa 0x300000) */
#define PFN0	 ((VDRV_MEM_GPA + PAGES_AT) >> 12)
#define F(bit)	 (1ull << (bit))

struct fx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_balloon *b;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	vdrv_init_mem(&f->d, MEM_LEN);
	assert_int_equal(event_loop_init(&f->loop), 0);
	*state = f;
	return 0;
}

/* The balloon under test, with cfg's options (mem and loop filled in). */
static void make(struct fx *f, struct virtio_balloon_config cfg)
{
	cfg.mem = &f->d.mem;
	cfg.loop = &f->loop;
	assert_int_equal(virtio_balloon_create(&cfg, &f->b), 0);
	vdrv_attach(&f->d, &f->b->vd);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->b) {
		vdrv_detach(&f->d);
		virtio_balloon_destroy(f->b);
	}
	vdrv_fini(&f->d);
	event_loop_destroy(&f->loop);
	free(f);
	return 0;
}

/* Fill page i of the ballooned area with a byte pattern (touched: resident). */
static uint8_t *page(struct fx *f, unsigned i)
{
	return vdrv_ptr(&f->d, PAGES_AT + (uint64_t)i * 4096);
}

static void fill(struct fx *f, unsigned i, uint8_t v)
{
	memset(page(f, i), v, 4096);
}

static bool all(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static bool resident(struct fx *f, unsigned i)
{
	unsigned char vec = 0;

	assert_int_equal(mincore(page(f, i), 4096, &vec), 0);
	return vec & 1;
}

/* Post n page numbers (le32) on queue q as one readable buffer, kick; the chain's head. */
static uint16_t send_pfns(struct fx *f, unsigned q, const uint32_t *pfns, unsigned n)
{
	uint64_t off = vdrv_alloc(&f->d, n * 4);
	struct vdrv_buf buf = {off, n * 4, false};
	uint32_t *p = vdrv_ptr(&f->d, off);
	uint16_t head;

	for (unsigned i = 0; i < n; i++)
		p[i] = htole32(pfns[i]);
	head = vdrv_add(&f->d, q, &buf, 1);
	vdrv_kick(&f->d, q);
	return head;
}

static void expect_used(struct fx *f, unsigned q, uint16_t head)
{
	uint32_t id, len;

	assert_true(vdrv_used(&f->d, q, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
}

static void test_identity_and_features(void **state)
{
	struct fx *f = *state;

	make(f, (struct virtio_balloon_config){.num_pages = 0});
	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_BALLOON);
	assert_int_equal(vdrv_device_features(&f->d) & 0xffffff, 0); /* device bits 0-23 */
	vdrv_detach(&f->d);
	virtio_balloon_destroy(f->b);
	make(f, (struct virtio_balloon_config){
		    .deflate_on_oom = true, .stats_interval_s = 1, .reporting = true});
	assert_int_equal(vdrv_device_features(&f->d) & 0xffffff,
			 F(VIRTIO_BALLOON_F_DEFLATE_ON_OOM) | F(VIRTIO_BALLOON_F_STATS_VQ) |
			     F(VIRTIO_BALLOON_F_REPORTING));
}

/* §5.5.4: num_pages is the device's (LE), actual the driver's; the rest reads 0. */
static void test_config_space(void **state)
{
	struct fx *f = *state;
	uint32_t gen;
	int irqs;

	make(f, (struct virtio_balloon_config){.num_pages = 0x12345});
	vdrv_start(&f->d, 2, 0);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), 0x12345);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 1), 0x45);
	assert_int_equal(vdrv_cfg_rd(&f->d, 2, 2), 0x0001);
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 4), 0);
	vdrv_cfg_wr(&f->d, 4, 0x300, 4);
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 4), 0x300);
	vdrv_cfg_wr(&f->d, 5, 0x7, 1); /* a byte of actual */
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 4), 0x700);
	vdrv_cfg_wr(&f->d, 0, 0xdead, 4); /* num_pages is not the driver's */
	vdrv_cfg_wr(&f->d, 12, 0xaa, 4);  /* poison_val: not offered, ignored */
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), 0x12345);
	assert_int_equal(vdrv_cfg_rd(&f->d, 8, 4), 0);
	assert_int_equal(vdrv_cfg_rd(&f->d, 12, 4), 0);

	gen = vdrv_rd(&f->d, VDRV_REG_CONFIG_GENERATION);
	irqs = f->d.irqs;
	virtio_balloon_set_target(f->b, 128 * VIRTIO_BALLOON_PAGES_MIB);
	assert_int_equal(vdrv_cfg_rd(&f->d, 0, 4), 128 * 256);
	assert_int_not_equal(vdrv_rd(&f->d, VDRV_REG_CONFIG_GENERATION), gen);
	assert_true(f->d.irqs > irqs);
	assert_true(vdrv_rd(&f->d, VDRV_REG_INTERRUPT_STATUS) & 2); /* a configuration change */
}

/* Inflated pages go back to the host: not resident, zero when read again; their neighbours are
 * untouched; contiguous page numbers are one discard. */
static void test_inflate_discards(void **state)
{
	struct fx *f = *state;
	uint32_t pfns[] = {PFN0, PFN0 + 1, PFN0 + 3};
	uint16_t head;

	make(f, (struct virtio_balloon_config){0});
	vdrv_start(&f->d, 2, 0);
	for (unsigned i = 0; i < 4; i++)
		fill(f, i, 0xa5);
	assert_true(resident(f, 0) && resident(f, 3));
	head = send_pfns(f, 0, pfns, 3);
	expect_used(f, 0, head);
	assert_false(resident(f, 0));
	assert_false(resident(f, 1));
	assert_false(resident(f, 3));
	assert_true(all(page(f, 0), 4096, 0));
	assert_true(all(page(f, 3), 4096, 0));
	assert_true(all(page(f, 2), 4096, 0xa5)); /* not given: kept */
	assert_int_equal(virtio_balloon_stats(f->b).inflated, 3);
	assert_int_equal(virtio_balloon_stats(f->b).discarded_bytes, 3 * 4096);
	assert_true(f->d.irqs >= 1);
}

/* Page numbers are the guest's word: outside RAM (below it, the MMIO hole, past the end, the
 * largest le32), duplicates and deflates of pages not in the balloon are counted and change
 * nothing; the device keeps working. */
static void test_hostile_pfns(void **state)
{
	struct fx *f = *state;
	uint32_t bad[] = {0,	       0xff,	 0xd0000, 0xfee00, (uint32_t)(0x500000 >> 12),
			  0xffffffffu, PFN0 + 5, PFN0 + 5};
	uint32_t deflate[] = {PFN0 + 6, PFN0 + 5, PFN0 + 5, 0xd0000};
	struct virtio_balloon_stats s;

	make(f, (struct virtio_balloon_config){0});
	vdrv_start(&f->d, 2, 0);
	fill(f, 6, 0x11);
	expect_used(f, 0, send_pfns(f, 0, bad, 8));
	s = virtio_balloon_stats(f->b);
	assert_int_equal(s.bad_pfn, 6);
	assert_int_equal(s.inflated, 1);
	assert_int_equal(s.duplicate, 1);
	assert_int_equal(s.discarded_bytes, 4096);
	assert_true(all(page(f, 6), 4096, 0x11));
	expect_used(f, 1, send_pfns(f, 1, deflate, 4));
	s = virtio_balloon_stats(f->b);
	assert_int_equal(s.deflated, 1);
	assert_int_equal(s.duplicate, 3); /* +6 not inflated, +5 twice */
	assert_int_equal(s.bad_pfn, 7);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	/* deflated: it can be inflated again */
	expect_used(f, 0, send_pfns(f, 0, (uint32_t[]){PFN0 + 5}, 1));
	assert_int_equal(virtio_balloon_stats(f->b).inflated, 2);
}

/* Hugetlb-backed RAM: a huge page goes back only once all its 512 pages are in the balloon
 * (a region flagged GUEST_MEM_HUGEPAGES over ordinary memory stands in for hugetlbfs). */
static void test_hugepage_whole_only(void **state)
{
	struct fx *f = *state;
	const uint64_t gpa = 0x1000000, len = 4ull << 20;
	uint8_t *huge = aligned_alloc(2u << 20, len);
	uint32_t pfns[256];
	uint32_t first = (uint32_t)(gpa >> 12) + 512; /* the second huge page */

	assert_non_null(huge);
	memset(huge, 0x3c, len);
	assert_int_equal(
	    guest_mem_add_host(&f->d.mem, gpa, len, huge, GUEST_MEM_RAM | GUEST_MEM_HUGEPAGES), 0);
	make(f, (struct virtio_balloon_config){0});
	vdrv_start(&f->d, 2, 0);
	for (unsigned batch = 0; batch < 2; batch++) {
		for (unsigned i = 0; i < 256; i++)
			pfns[i] = first + batch * 256 + i;
		if (batch == 1)
			pfns[255] = first + 10; /* a duplicate instead of the last page */
		expect_used(f, 0, send_pfns(f, 0, pfns, 256));
	}
	assert_true(all(huge + (2u << 20), 2u << 20, 0x3c)); /* 511 of 512: kept */
	assert_int_equal(virtio_balloon_stats(f->b).partial, 511);
	expect_used(f, 0, send_pfns(f, 0, (uint32_t[]){first + 511}, 1));
	assert_true(all(huge + (2u << 20), 2u << 20, 0)); /* whole: given back */
	assert_true(all(huge, 2u << 20, 0x3c));		  /* the first huge page untouched */
	assert_int_equal(virtio_balloon_stats(f->b).discarded_bytes, 2u << 20);
	vdrv_detach(&f->d);
	virtio_balloon_destroy(f->b);
	f->b = NULL;
	assert_int_equal(guest_mem_remove(&f->d.mem, gpa), 0);
	free(huge);
}

/* Chains the wrong way round, or not a whole number of page numbers, go back unread. */
static void test_malformed_chains(void **state)
{
	struct fx *f = *state;
	uint64_t off = vdrv_alloc(&f->d, 64);
	struct vdrv_buf wr = {off, 8, true}, odd = {off, 6, false};
	struct vdrv_buf split[2] = {{off, 2, false}, {off + 32, 2, false}};
	uint32_t *p = vdrv_ptr(&f->d, off);
	uint16_t h1, h2, h3;

	make(f, (struct virtio_balloon_config){0});
	vdrv_start(&f->d, 2, 0);
	p[0] = htole32(PFN0);
	p[8] = htole32(PFN0 + 1);
	memcpy((uint8_t *)p + 32, (uint8_t *)&p[0] + 2, 2); /* PFN0's high half after its low */
	fill(f, 0, 1);
	fill(f, 1, 1);
	h1 = vdrv_add(&f->d, 0, &wr, 1);
	h2 = vdrv_add(&f->d, 0, &odd, 1);
	h3 = vdrv_add(&f->d, 0, split, 2); /* one le32 across two buffers: fine */
	vdrv_kick(&f->d, 0);
	expect_used(f, 0, h1);
	expect_used(f, 0, h2);
	expect_used(f, 0, h3);
	assert_int_equal(virtio_balloon_stats(f->b).malformed, 2);
	assert_int_equal(virtio_balloon_stats(f->b).inflated, 1);
	assert_false(resident(f, 0)); /* the split one */
	assert_true(resident(f, 1));
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* One statistics buffer: the guest fills it, the device keeps it until the next poll. */
static uint16_t send_stats(struct fx *f, unsigned q, const uint16_t *tags, const uint64_t *vals,
			   unsigned n)
{
	uint64_t off = vdrv_alloc(&f->d, n * 10);
	uint8_t *p = vdrv_ptr(&f->d, off);
	struct vdrv_buf buf = {off, n * 10, false};
	uint16_t head;

	for (unsigned i = 0; i < n; i++) {
		uint16_t t = htole16(tags[i]);
		uint64_t v = htole64(vals[i]);

		memcpy(p + i * 10, &t, 2);
		memcpy(p + i * 10 + 2, &v, 8);
	}
	head = vdrv_add(&f->d, q, &buf, 1);
	vdrv_kick(&f->d, q);
	return head;
}

static void test_stats_protocol(void **state)
{
	struct fx *f = *state;
	struct virtio_balloon_guest_stats g;
	uint32_t target, actual, id, len;
	uint16_t interval, head;

	make(f, (struct virtio_balloon_config){.stats_interval_s = 1, .num_pages = 256});
	vdrv_start(&f->d, 3, F(VIRTIO_BALLOON_F_STATS_VQ));
	assert_int_equal(virtio_balloon_queue_role(f->b, 2), BALLOON_Q_STATS);
	head = send_stats(f, 2, (uint16_t[]){4, 5, 99}, (uint64_t[]){1000, 1ull << 40, 7}, 3);
	assert_false(vdrv_used(&f->d, 2, &id, &len)); /* kept until the poll */
	virtio_balloon_status(f->b, &target, &actual, &interval, &g);
	assert_int_equal(target, 256);
	assert_int_equal(interval, 1);
	assert_int_equal(g.present, (1u << 4) | (1u << 5));
	assert_int_equal(g.val[4], 1000);
	assert_true(g.val[5] == 1ull << 40);
	assert_int_equal(virtio_balloon_stats(f->b).stats_unknown, 1);

	/* Firecracker's rules for a new period: not from or to 0; a change polls at once */
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 0), -EINVAL);
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 1), 0);
	assert_false(vdrv_used(&f->d, 2, &id, &len));
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 2), 0);
	expect_used(f, 2, head);

	/* the guest refills; the timer (2 s now) returns it */
	head = send_stats(f, 2, (uint16_t[]){4}, (uint64_t[]){2000}, 1);
	assert_false(vdrv_used(&f->d, 2, &id, &len));
	vdrv_pump(&f->loop, 2500);
	expect_used(f, 2, head);
	virtio_balloon_status(f->b, &target, &actual, &interval, &g);
	assert_int_equal(g.val[4], 2000);
	assert_int_equal(virtio_balloon_stats(f->b).stats_updates, 2);

	/* a second buffer while one is held: the first goes back */
	head = send_stats(f, 2, (uint16_t[]){4}, (uint64_t[]){3000}, 1);
	assert_false(vdrv_used(&f->d, 2, &id, &len));
	send_stats(f, 2, (uint16_t[]){4}, (uint64_t[]){4000}, 1);
	expect_used(f, 2, head);
	/* a buffer that is not whole entries goes back at once, unread */
	{
		uint64_t off = vdrv_alloc(&f->d, 16);
		struct vdrv_buf odd = {off, 11, false};

		head = vdrv_add(&f->d, 2, &odd, 1);
		vdrv_kick(&f->d, 2);
		expect_used(f, 2, head);
	}
	assert_int_equal(virtio_balloon_stats(f->b).malformed, 1);
	virtio_balloon_status(f->b, &target, &actual, &interval, &g);
	assert_int_equal(g.val[4], 4000);
}

static void test_stats_off_cannot_be_enabled(void **state)
{
	struct fx *f = *state;

	make(f, (struct virtio_balloon_config){0});
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 0), 0);
	assert_int_equal(virtio_balloon_set_stats_interval(f->b, 5), -EINVAL);
	vdrv_start(&f->d, 3, 0);
	assert_int_equal(virtio_balloon_queue_role(f->b, 2), BALLOON_Q_NONE);
}

/* Free page reporting: each writable buffer is a free range, discarded; the queue index follows
 * the negotiated features (2 without statistics, 3 with). */
static void test_free_page_reporting(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf ranges[2] = {{PAGES_AT, 2 * 4096, true}, {PAGES_AT + 5 * 4096, 4096, true}};
	struct vdrv_buf hostile = {PAGES_AT + 7 * 4096 + 100, 4096, true};
	uint16_t head;

	make(f, (struct virtio_balloon_config){.reporting = true, .stats_interval_s = 1});
	vdrv_start(&f->d, 4, F(VIRTIO_BALLOON_F_REPORTING));
	assert_int_equal(virtio_balloon_queue_role(f->b, 2), BALLOON_Q_REPORT);
	for (unsigned i = 0; i < 9; i++)
		fill(f, i, 0x5a);
	head = vdrv_add(&f->d, 2, ranges, 2);
	vdrv_kick(&f->d, 2);
	expect_used(f, 2, head);
	assert_false(resident(f, 1));
	assert_true(all(page(f, 0), 2 * 4096, 0));
	assert_true(all(page(f, 2), 3 * 4096, 0x5a));
	assert_true(all(page(f, 5), 4096, 0));
	/* a range not on page boundaries: only the pages it wholly covers (none here) */
	head = vdrv_add(&f->d, 2, &hostile, 1);
	vdrv_kick(&f->d, 2);
	expect_used(f, 2, head);
	assert_true(all(page(f, 7), 2 * 4096, 0x5a));
	assert_int_equal(virtio_balloon_stats(f->b).reported, 3);
	assert_int_equal(virtio_balloon_stats(f->b).discarded_bytes, 3 * 4096);
	/* a readable chain on the reporting queue is refused */
	head = vdrv_add(&f->d, 2, &(struct vdrv_buf){PAGES_AT, 4096, false}, 1);
	vdrv_kick(&f->d, 2);
	expect_used(f, 2, head);
	assert_int_equal(virtio_balloon_stats(f->b).malformed, 1);

	/* with statistics negotiated too, reporting is queue 3 */
	vdrv_start(&f->d, 4, F(VIRTIO_BALLOON_F_REPORTING) | F(VIRTIO_BALLOON_F_STATS_VQ));
	assert_int_equal(virtio_balloon_queue_role(f->b, 2), BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_queue_role(f->b, 3), BALLOON_Q_REPORT);
}

/* A driver reset forgets the balloon: actual 0, every page the guest's again. */
static void test_reset_empties(void **state)
{
	struct fx *f = *state;

	make(f, (struct virtio_balloon_config){0});
	vdrv_start(&f->d, 2, 0);
	expect_used(f, 0, send_pfns(f, 0, (uint32_t[]){PFN0}, 1));
	vdrv_cfg_wr(&f->d, 4, 1, 4);
	vdrv_start(&f->d, 2, 0); /* starts with a reset */
	assert_int_equal(vdrv_cfg_rd(&f->d, 4, 4), 0);
	expect_used(f, 0, send_pfns(f, 0, (uint32_t[]){PFN0}, 1));
	assert_int_equal(virtio_balloon_stats(f->b).duplicate, 0);
}

/* The device's section: target, actual, period, statistics and the pages in the balloon come
 * back; bad values are refused. */
static void test_state_roundtrip(void **state)
{
	struct fx *f = *state;
	struct state_buf w = {0}, r;
	struct virtio_balloon *b2;
	struct virtio_balloon_config cfg = {.mem = &f->d.mem, .stats_interval_s = 3};
	struct virtio_balloon_guest_stats g;
	uint32_t target, actual;
	uint16_t interval, ver;

	make(f, (struct virtio_balloon_config){.stats_interval_s = 3, .num_pages = 77});
	vdrv_start(&f->d, 2, 0);
	expect_used(f, 0, send_pfns(f, 0, (uint32_t[]){PFN0, PFN0 + 1, PFN0 + 9}, 3));
	vdrv_cfg_wr(&f->d, 4, 3, 4);
	assert_int_equal(state_begin_section(&w, "balloon", 1), 0);
	virtio_balloon_save(f->b, &w);
	assert_int_equal(state_end_section(&w), 0);

	assert_int_equal(virtio_balloon_create(&cfg, &b2), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "balloon", &ver), 0);
	assert_int_equal(virtio_balloon_load(b2, &r, ver), 0);
	virtio_balloon_status(b2, &target, &actual, &interval, &g);
	assert_int_equal(target, 77);
	assert_int_equal(actual, 3);
	assert_int_equal(interval, 3);
	/* the pages are in its balloon: inflating them again is a duplicate */
	pthread_mutex_lock(&b2->vd.lock);
	assert_true(b2->inflated[PFN0 / 64] >> (PFN0 % 64) & 1);
	assert_true(b2->inflated[(PFN0 + 9) / 64] >> ((PFN0 + 9) % 64) & 1);
	assert_false(b2->inflated[(PFN0 + 2) / 64] >> ((PFN0 + 2) % 64) & 1);
	pthread_mutex_unlock(&b2->vd.lock);

	/* statistics off in this configuration: refused */
	virtio_balloon_destroy(b2);
	cfg.stats_interval_s = 0;
	assert_int_equal(virtio_balloon_create(&cfg, &b2), 0);
	assert_int_equal(state_section(&r, "balloon", &ver), 0);
	assert_int_equal(virtio_balloon_load(b2, &r, ver), -EINVAL);
	virtio_balloon_destroy(b2);

	/* a run past guest RAM: refused */
	cfg.stats_interval_s = 3;
	assert_int_equal(virtio_balloon_create(&cfg, &b2), 0);
	{
		uint8_t *p = w.data + w.len - 16; /* the last run's (start, count) */
		uint64_t far = htole64(0x500);

		memcpy(p, &far, 8);
	}
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "balloon", &ver), 0);
	assert_int_equal(virtio_balloon_load(b2, &r, ver), -EINVAL);
	virtio_balloon_destroy(b2);
	state_buf_free(&w);
}

/* Through the transport, as a restore does: the held statistics buffer is popped again and
 * goes back to the driver on the restored device's first poll. */
static void test_restore_held_stats(void **state)
{
	struct fx *a = *state, b = {0};
	struct virtio_balloon_config cfg = {.stats_interval_s = 1};
	struct state_buf w = {0}, r;
	uint16_t head, v;

	make(a, cfg);
	vdrv_start(&a->d, 3, F(VIRTIO_BALLOON_F_STATS_VQ));
	head = send_stats(a, 2, (uint16_t[]){6}, (uint64_t[]){42}, 1);
	vdrv_init_mem(&b.d, MEM_LEN);
	assert_int_equal(event_loop_init(&b.loop), 0);
	make(&b, cfg);
	memcpy(b.d.ram, a->d.ram, MEM_LEN); /* guest memory travels as the memory file would */
	memcpy(b.d.q, a->d.q, sizeof(a->d.q));
	assert_int_equal(state_begin_section(&w, "t", 1), 0);
	virtio_mmio_save(a->d.t, &w);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_begin_section(&w, "b", 1), 0);
	virtio_balloon_save(a->b, &w);
	assert_int_equal(state_end_section(&w), 0);
	assert_int_equal(state_open(&r, w.data, w.len), 0);
	assert_int_equal(state_section(&r, "t", &v), 0);
	assert_int_equal(virtio_mmio_load(b.d.t, &r, v, "virtio.0"), 0);
	assert_int_equal(state_section(&r, "b", &v), 0);
	assert_int_equal(virtio_balloon_load(b.b, &r, v), 0);
	assert_true(b.b->stats_held);
	assert_int_equal(b.b->guest.val[6], 42);
	pthread_mutex_lock(&b.b->vd.lock);
	virtio_dev_restored(&b.b->vd);
	pthread_mutex_unlock(&b.b->vd.lock);
	assert_int_equal(virtio_balloon_set_stats_interval(b.b, 4), 0);
	expect_used(&b, 2, head);
	state_buf_free(&w);
	vdrv_detach(&b.d);
	virtio_balloon_destroy(b.b);
	vdrv_fini(&b.d);
	event_loop_destroy(&b.loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_inflate_discards, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_pfns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_chains, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hugepage_whole_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_protocol, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stats_off_cannot_be_enabled, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_free_page_reporting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_empties, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_state_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_held_stats, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_virtq.c — libFuzzer target: split virtqueues over guest memory supplied by the input.
 *
 * Input: a 12-byte header (queue size and features, ring placement, number of operations), then
 * 6-byte operations (pop, push, interrupt decision, enable-notify, driver writes to guest
 * memory, reset), then the guest memory image. Guest memory is three exact-size heap regions
 * (main RAM, a read-only page right after it, and a separate RAM page), so AddressSanitizer sees
 * any access outside them. Every popped segment must lie inside one region, writable ones
 * outside the read-only page; segments are read and written in full.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/virtq.h"

#define MAIN_GPA 0x10000ull
#define MAIN_LEN 0x10000ull
#define RO_GPA	 (MAIN_GPA + MAIN_LEN) /* adjacent: buffers may try to span both */
#define RO_LEN	 0x1000ull
#define HI_GPA	 0x40000ull /* after a hole */
#define HI_LEN	 0x1000ull
#define HDR_LEN	 12
#define OP_LEN	 6
#define MAX_OPS	 512
#define MAX_POPS 4096 /* per input: a jumped avail index makes pop fail forever */

struct region {
	uint64_t gpa, len;
	uint8_t *host;
	bool ro;
};

static struct region regions[] = {
    {MAIN_GPA, MAIN_LEN, NULL, false},
    {RO_GPA, RO_LEN, NULL, true},
    {HI_GPA, HI_LEN, NULL, false},
};

static struct guest_mem mem;

struct fuzz {
	struct virtq q;
	struct virtq cfg; /* the transport's configuration, re-applied on reset */
	uint16_t inflight[1024];
	unsigned nr_inflight;
	uint32_t inflight_len[1024];
	unsigned pops;
	struct virtq_chain c;
};

static void setup_once(void)
{
	static bool ready;

	if (ready)
		return;
	log_set_level(LOG_ERROR);
	guest_mem_init(&mem, -1);
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct region *r = &regions[i];

		r->host = aligned_alloc(4096, r->len);
		assert(r->host);
		if (guest_mem_add_host(&mem, r->gpa, r->len, r->host,
				       r->ro ? GUEST_MEM_READONLY : GUEST_MEM_RAM) < 0)
			abort();
	}
	ready = true;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Ring base: the main region, or (by a feature bit) the read-only page or the high page. */
static uint64_t ring_gpa(uint8_t sel, uint16_t off)
{
	switch (sel & 3) {
	case 1:
		return RO_GPA + (off & (RO_LEN - 1));
	case 2:
		return HI_GPA + (off & (HI_LEN - 1));
	case 3:
		return (uint64_t)off << 20; /* mostly outside memory */
	default:
		return MAIN_GPA + off;
	}
}

static void parse_config(struct virtq *cfg, const uint8_t *h)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = (h[0] & 0x80) ? rd16(h + 8) : (uint16_t)(1u << (h[0] % 10));
	cfg->event_idx = h[1] & 1;
	cfg->indirect = h[1] & 2;
	if (h[1] & 4) { /* packed layout, as a driver would lay it out */
		uint64_t avail = MAIN_GPA + 16ull * cfg->size;

		cfg->desc_gpa = MAIN_GPA;
		cfg->avail_gpa = avail;
		cfg->used_gpa = (avail + 6 + 2ull * cfg->size + 3) & ~3ull;
		return;
	}
	cfg->desc_gpa = ring_gpa(h[1] >> 3, rd16(h + 2));
	cfg->avail_gpa = ring_gpa(h[1] >> 5, rd16(h + 4));
	cfg->used_gpa = ring_gpa(h[10], rd16(h + 6));
}

static void load_memory(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct region *r = &regions[i];
		size_t n = size < r->len ? size : r->len;

		memcpy(r->host, data, n);
		memset(r->host + n, 0, r->len - n);
		data += n;
		size -= n;
	}
}

/* The segment must lie inside one region; writable ones not in the read-only one. */
static void check_seg(const struct virtq_seg *s)
{
	const uint8_t *p = s->host;

	assert(s->len > 0);
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		const struct region *r = &regions[i];

		if (p >= r->host && p < r->host + r->len) {
			assert(s->len <= r->len - (size_t)(p - r->host));
			assert(!(s->device_writes && r->ro));
			return;
		}
	}
	assert(!"segment outside guest memory");
}

/* Check a popped chain and touch every byte of it, as a device would. */
static uint32_t check_chain(const struct virtq *q, const struct virtq_chain *c)
{
	uint32_t out = 0, in = 0, sum = 0;

	assert(c->head < q->size);
	assert(c->nr_segs <= VIRTQ_CHAIN_MAX && c->nr_out <= c->nr_segs);
	for (unsigned k = 0; k < c->nr_segs; k++) {
		const struct virtq_seg *s = &c->seg[k];

		check_seg(s);
		assert(s->device_writes == (k >= c->nr_out));
		if (s->device_writes) {
			memset(s->host, 0x5a, s->len);
			in += s->len;
		} else {
			for (uint32_t b = 0; b < s->len; b += 512)
				sum += ((const uint8_t *)s->host)[b];
			sum += ((const uint8_t *)s->host)[s->len - 1];
			out += s->len;
		}
	}
	assert(out == c->out_len && in == c->in_len);
	return sum;
}

static void do_pop(struct fuzz *f)
{
	int ret;

	if (f->pops++ >= MAX_POPS)
		return;
	ret = virtq_pop(&f->q, &f->c);
	assert(ret == 0 || ret == -ENOENT || ret == -EINVAL);
	if (ret != 0) {
		assert(ret == -ENOENT || f->c.nr_segs == 0);
		return;
	}
	(void)check_chain(&f->q, &f->c);
	if (f->nr_inflight == sizeof(f->inflight) / sizeof(f->inflight[0])) {
		assert(virtq_push(&f->q, f->c.head, f->c.in_len) == 0);
		return;
	}
	f->inflight[f->nr_inflight] = f->c.head;
	f->inflight_len[f->nr_inflight++] = f->c.in_len;
}

static void do_push(struct fuzz *f, uint16_t written)
{
	if (!f->nr_inflight)
		return;
	f->nr_inflight--;
	written = written < f->inflight_len[f->nr_inflight] ? written : 0;
	assert(virtq_push(&f->q, f->inflight[f->nr_inflight], written) == 0);
}

/* A device bug on purpose: push a head that was never popped (may be out of range). */
static void raw_push(struct fuzz *f, uint16_t head)
{
	int ret = virtq_push(&f->q, head, 0);

	assert(ret == ((f->q.active && head < f->q.size) ? 0 : -EINVAL));
}

static void do_activate(struct fuzz *f)
{
	virtq_reset(&f->q);
	f->q = f->cfg;
	f->nr_inflight = 0;
	if (virtq_activate(&f->q, &mem) < 0)
		assert(!f->q.active);
}

/* A driver write to guest memory between device operations (a 16-bit store). */
static void driver_write(uint16_t off, uint16_t val)
{
	off &= (uint16_t)(MAIN_LEN - 2);
	val = htole16(val);
	memcpy(regions[0].host + off, &val, 2);
}

static void run_op(struct fuzz *f, const uint8_t *op)
{
	switch (op[0] % 8) {
	case 0:
	case 1:
		do_pop(f);
		break;
	case 2:
		if (op[1] == 0x77)
			raw_push(f, rd16(op + 4));
		else
			do_push(f, rd16(op + 2));
		break;
	case 3:
		(void)virtq_should_interrupt(&f->q);
		break;
	case 4:
		(void)virtq_enable_notify(&f->q);
		break;
	case 5:
		driver_write(rd16(op + 2), rd16(op + 4));
		break;
	case 6:
		if (op[1] == 0xa5)
			do_activate(f);
		else
			(void)virtq_has_avail(&f->q);
		break;
	default:
		while (f->pops < MAX_POPS && virtq_has_avail(&f->q)) {
			do_pop(f);
			while (f->nr_inflight)
				do_push(f, op[1]);
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz f;
	size_t nops;

	if (size < HDR_LEN)
		return 0;
	setup_once();
	parse_config(&f.cfg, data);
	nops = data[11] * 2u;
	nops = nops < MAX_OPS ? nops : MAX_OPS;
	if (nops * OP_LEN > size - HDR_LEN)
		nops = (size - HDR_LEN) / OP_LEN;
	load_memory(data + HDR_LEN + nops * OP_LEN, size - HDR_LEN - nops * OP_LEN);
	f.pops = 0;
	do_activate(&f);
	for (size_t i = 0; i < nops; i++)
		run_op(&f, data + HDR_LEN + i * OP_LEN);
	/* Drain what is left, as a device would on a kick. */
	while (f.pops < MAX_POPS && virtq_has_avail(&f.q)) {
		do_pop(&f);
		while (f.nr_inflight)
			do_push(&f, 0xffff);
		(void)virtq_should_interrupt(&f.q);
		(void)virtq_enable_notify(&f.q);
	}
	virtq_reset(&f.q);
	return 0;
}

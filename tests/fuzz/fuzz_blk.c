/* fuzz_blk.c — libFuzzer target: blk_req_parse on arbitrary chains (segment layout, directions,
 * contents, limits), checking that every result is one of the documented ones and that the
 * buffers it returns lie inside the right segments.
 *
 * Input: [nr_segs - 1][nr_out][flags][capacity: 8 bytes] then per segment a 2-byte length, then the
 * bytes that fill the segments in order (zeros once the input runs out). Each segment is its own
 * allocation so ASan sees any access past it.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk.h"

#define SEG_LEN_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

/* Which segment holds [p, p+len), or -1. */
static int owner(const struct virtq_chain *c, const uint8_t *p, size_t len)
{
	for (unsigned i = 0; i < c->nr_segs; i++) {
		const uint8_t *s = c->seg[i].host;

		if (p >= s && len <= c->seg[i].len && p - s <= (ptrdiff_t)(c->seg[i].len - len))
			return (int)i;
	}
	return -1;
}

static void check_iov(const struct virtq_chain *c, const struct blk_req *r, bool writable)
{
	uint64_t total = 0;

	assert(r->nr_iov <= BLK_SEG_MAX);
	for (unsigned i = 0; i < r->nr_iov; i++) {
		int s = owner(c, r->iov[i].iov_base, r->iov[i].iov_len);

		assert(s >= 0 && r->iov[i].iov_len > 0);
		assert((s >= c->nr_out) == writable);
		/* The status byte is never part of the data. */
		assert(r->status < (uint8_t *)r->iov[i].iov_base ||
		       r->status >= (uint8_t *)r->iov[i].iov_base + r->iov[i].iov_len);
		if (writable)
			memset(r->iov[i].iov_base, 0xa5, r->iov[i].iov_len);
		total += r->iov[i].iov_len;
	}
	assert(total == r->data_len);
}

static void check(const struct virtq_chain *c, const struct blk_limits *lim, int ret,
		  const struct blk_req *r)
{
	bool has_writable = false;

	for (unsigned i = c->nr_out; i < c->nr_segs; i++)
		has_writable |= c->seg[i].len > 0;
	assert(ret == -EINVAL || ret == 0 || ret == VIRTIO_BLK_S_IOERR ||
	       ret == VIRTIO_BLK_S_UNSUPP);
	assert((ret == -EINVAL) == !has_writable);
	if (ret == -EINVAL)
		return;
	assert(owner(c, r->status, 1) >= c->nr_out);
	*r->status = VIRTIO_BLK_S_OK; /* the device writes it: must be writable memory */
	if (ret != 0)
		return;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		assert(r->data_len % BLK_SECTOR_SIZE == 0);
		assert(r->nr_sectors == r->data_len / BLK_SECTOR_SIZE);
		assert(r->sector <= lim->capacity && r->nr_sectors <= lim->capacity - r->sector);
		assert(r->type == VIRTIO_BLK_T_IN || !lim->read_only);
		check_iov(c, r, r->type == VIRTIO_BLK_T_IN);
		break;
	case VIRTIO_BLK_T_GET_ID:
		assert(r->data_len <= BLK_ID_LEN);
		check_iov(c, r, true);
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		assert(!lim->read_only);
		assert(r->type == VIRTIO_BLK_T_DISCARD ? lim->discard : lim->write_zeroes);
		assert(r->nr_sectors <= BLK_MAX_DWZ_SECTORS);
		assert(r->sector <= lim->capacity && r->nr_sectors <= lim->capacity - r->sector);
		assert(!(r->type == VIRTIO_BLK_T_DISCARD && r->unmap));
		break;
	case VIRTIO_BLK_T_FLUSH:
		assert(r->nr_iov == 0);
		break;
	default:
		assert(0 && "unknown type accepted");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain c;
	static struct blk_req r;
	struct input in = {data, size};
	struct blk_limits lim;
	unsigned flags;
	int ret;

	memset(&c, 0, sizeof(c));
	c.nr_segs = (uint16_t)(take(&in, 1) + 1); /* 1 .. VIRTQ_CHAIN_MAX */
	c.nr_out = (uint16_t)(take(&in, 1) % (c.nr_segs + 1u));
	flags = (unsigned)take(&in, 1);
	lim = (struct blk_limits){.capacity = take(&in, 8),
				  .read_only = flags & 1,
				  .discard = flags & 2,
				  .write_zeroes = flags & 4};
	if (flags & 8) /* small capacities make range edges reachable */
		lim.capacity &= 0xffff;
	for (unsigned i = 0; i < c.nr_segs; i++)
		c.seg[i].len = (uint32_t)(take(&in, 2) % (SEG_LEN_MAX + 1));
	for (unsigned i = 0; i < c.nr_segs; i++) {
		c.seg[i].host = malloc(c.seg[i].len ? c.seg[i].len : 1);
		c.seg[i].device_writes = i >= c.nr_out;
		for (uint32_t j = 0; j < c.seg[i].len; j++)
			((uint8_t *)c.seg[i].host)[j] = (uint8_t)take(&in, 1);
		if (i < c.nr_out)
			c.out_len += c.seg[i].len;
		else
			c.in_len += c.seg[i].len;
	}
	ret = blk_req_parse(&c, &lim, &r);
	check(&c, &lim, ret, &r);
	for (unsigned i = 0; i < c.nr_segs; i++)
		free(c.seg[i].host);
	return 0;
}

/* virtio_blk.c — virtio-blk over the runner's patterned image: reads (one, several and indirect
 * descriptors), writes, FLUSH, GET_ID, capacity, out-of-range and read-only IOERR, DISCARD and
 * WRITE_ZEROES. The runner checks the image file afterwards (run-guest --disk-expect). */
#include "virtio.h"

/*
 * Command line: sectors=N (the image's size; capacity must match), seed=S (run-guest's pattern
 * of the image: see blk_pattern), wseed=W (the pattern written), id=NAME (GET_ID; absent: all
 * zeros expected), ro=1 (a read-only disk: RO offered, writes fail), nth=K (test the K-th
 * virtio-blk device on the command line, from 0; default 0).
 * Writes (not ro): sectors [WRITE_AT, WRITE_AT + 16) get pattern W; [ZERO_AT, +8) is
 * WRITE_ZEROES'd and [DISCARD_AT, +8) discarded, when the device offers those.
 */
#define WRITE_AT   16
#define ZERO_AT	   40
#define DISCARD_AT 48

#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	   0
#define VIRTIO_BLK_S_IOERR 1

#define CFG_CAPACITY 0 /* le64, in 512-byte sectors */
#define CFG_SEG_MAX  12
#define SECTOR	     512

struct blk_dwz {
	uint64_t sector;
	uint32_t num_sectors, flags;
};

static struct vdev dev;
static struct vq q;
static struct blk_hdr *hdr;
static uint8_t *status, *data, *id_buf;
static struct blk_dwz *dwz;
static struct virtq_desc *itable;
static uint64_t seed, wseed;

/* Byte i of sector s of pattern `seed` — run-guest's make_pattern writes the same. */
static uint8_t blk_pattern(uint64_t s, uint64_t seed_, unsigned i)
{
	if (i < 8)
		return (uint8_t)(s >> (8 * i));
	if (i < 16)
		return (uint8_t)(seed_ >> (8 * (i - 8)));
	return (uint8_t)(i + s * 13 + seed_ * 101);
}

static void fill(uint8_t *p, uint64_t first, unsigned n, uint64_t seed_)
{
	for (unsigned s = 0; s < n; s++)
		for (unsigned i = 0; i < SECTOR; i++)
			p[s * SECTOR + i] = blk_pattern(first + s, seed_, i);
}

/* Check n sectors at p against pattern seed_ (or zeros if zero); fail naming the caller. */
static void check_at(const uint8_t *p, uint64_t first, unsigned n, uint64_t seed_, bool zero,
		     int line)
{
	for (unsigned s = 0; s < n; s++)
		for (unsigned i = 0; i < SECTOR; i++) {
			uint8_t want = zero ? 0 : blk_pattern(first + s, seed_, i);

			if (p[s * SECTOR + i] != want)
				guest_fail("%s:%d: sector %lu byte %u is %#x, expected %#x",
					   __FILE__, line, first + s, i, p[s * SECTOR + i], want);
		}
}
#define CHECK(p, first, n, seed_) check_at((p), (first), (n), (seed_), false, __LINE__)
#define CHECK_ZERO(p, first, n)	  check_at((p), (first), (n), 0, true, __LINE__)

/*
 * One request: the header, data split into the nseg lengths of seg (bytes; none for 0), the
 * status byte; through an indirect table if indirect. Returns the status byte.
 */
static uint8_t request(uint32_t type, uint64_t sector, void *buf, const uint32_t *seg,
		       unsigned nseg, bool indirect)
{
	struct vbuf b[8];
	unsigned n = 0;
	uint32_t off = 0, len;
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	int head;

	*hdr = (struct blk_hdr){type, 0, sector};
	*status = 0xff;
	b[n++] = (struct vbuf){hdr, sizeof(*hdr), false};
	for (unsigned k = 0; k < nseg; off += seg[k], k++)
		b[n++] = (struct vbuf){(uint8_t *)buf + off, seg[k], in};
	b[n++] = (struct vbuf){status, 1, true};
	head = indirect ? vq_add_indirect(&q, b, n, itable) : vq_add(&q, b, n);
	GUEST_ASSERT(head >= 0);
	vq_kick(&q);
	GUEST_ASSERT_EQ(VQ_WAIT(&q, &len), (uint32_t)head);
	GUEST_ASSERT(*status != 0xff);
	/* §5.2.6.1: len counts the bytes written: the data read (on success) and the status. */
	if (*status == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN)
		GUEST_ASSERT_EQ(len, off + 1);
	return *status;
}

static uint8_t rw(uint32_t type, uint64_t sector, unsigned nsect)
{
	uint32_t seg = nsect * SECTOR;

	return request(type, sector, data, &seg, nsect ? 1 : 0, false);
}

static uint8_t dwz_request(uint32_t type, uint64_t sector, uint32_t n)
{
	uint32_t seg = sizeof(*dwz);

	*dwz = (struct blk_dwz){sector, n, 0};
	return request(type, sector, dwz, &seg, 1, false);
}

int main(void)
{
	static const uint32_t three[] = {512, 2048, 1536}; /* 8 sectors in three descriptors */
	uint64_t sectors, cap, ro = 0, nth = 0, want;
	char id[21] = "";
	bool has_id;

	GUEST_ASSERT(guest_cmdline_u64("sectors", &sectors));
	GUEST_ASSERT(guest_cmdline_u64("seed", &seed));
	GUEST_ASSERT(guest_cmdline_u64("wseed", &wseed));
	guest_cmdline_u64("ro", &ro);
	guest_cmdline_u64("nth", &nth);
	has_id = guest_cmdline_get("id", id, sizeof(id));

	hdr = virtio_alloc(sizeof(*hdr), 16);
	status = virtio_alloc(1, 1);
	data = virtio_alloc(64 * SECTOR, 4096);
	id_buf = virtio_alloc(20, 4);
	dwz = virtio_alloc(sizeof(*dwz), 16);
	itable = virtio_alloc(8 * sizeof(struct virtq_desc), 16);

	if (!vdev_find(VIRTIO_ID_BLOCK, (unsigned)nth, &dev))
		guest_fail("no virtio-blk device %lu on the command line \"%s\"", nth,
			   guest_cmdline());
	want = VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) |
	       VIRTIO_BIT(VIRTIO_BLK_F_RO) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |
	       VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |
	       VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES);
	vdev_init(&dev, want);
	vq_setup(&dev, &q, 0, 64);
	vdev_driver_ok(&dev);
	cap = vdev_config64(&dev, CFG_CAPACITY);
	guest_printf("virtio-blk at %#lx: features %#lx, capacity %lu sectors, seg_max %u\n",
		     dev.base, dev.features, cap, vdev_config32(&dev, CFG_SEG_MAX));
	GUEST_ASSERT_EQ(cap, sectors);
	GUEST_ASSERT_EQ(!!(dev.offered & VIRTIO_BIT(VIRTIO_BLK_F_RO)), !!ro);
	GUEST_ASSERT(dev.features & VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC));
	GUEST_ASSERT(dev.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));

	/* Reads: single sectors (first, last), 8 sectors in one, three and indirect descriptors. */
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, 0, 1), VIRTIO_BLK_S_OK);
	CHECK(data, 0, 1, seed);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, sectors - 1, 1), VIRTIO_BLK_S_OK);
	CHECK(data, sectors - 1, 1, seed);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, 3, 8), VIRTIO_BLK_S_OK);
	CHECK(data, 3, 8, seed);
	memset(data, 0, 8 * SECTOR);
	GUEST_ASSERT_EQ(request(VIRTIO_BLK_T_IN, 100, data, three, 3, false), VIRTIO_BLK_S_OK);
	CHECK(data, 100, 8, seed);
	memset(data, 0, 8 * SECTOR);
	GUEST_ASSERT_EQ(request(VIRTIO_BLK_T_IN, 200, data, three, 3, true), VIRTIO_BLK_S_OK);
	CHECK(data, 200, 8, seed);
	guest_printf("reads ok: 1, 8 sectors; 3 segments; indirect\n");

	/* Out of range: the sector past the end, and a read straddling it. */
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, sectors, 1), VIRTIO_BLK_S_IOERR);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, sectors - 1, 2), VIRTIO_BLK_S_IOERR);
	guest_printf("out-of-range reads: IOERR\n");

	/* GET_ID: 20 bytes, the id zero-padded. */
	{
		uint32_t seg = 20;

		memset(id_buf, 0xff, 20);
		GUEST_ASSERT_EQ(request(VIRTIO_BLK_T_GET_ID, 0, id_buf, &seg, 1, false),
				VIRTIO_BLK_S_OK);
		for (unsigned i = 0; i < 20; i++)
			GUEST_ASSERT_EQ(id_buf[i], i < strlen(id) ? (uint8_t)id[i] : 0);
		guest_printf("GET_ID \"%s\"%s\n", id, has_id ? "" : " (none given: zeros)");
	}

	if (ro) {
		fill(data, WRITE_AT, 8, wseed);
		GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_OUT, WRITE_AT, 8), VIRTIO_BLK_S_IOERR);
		GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, WRITE_AT, 8), VIRTIO_BLK_S_OK);
		CHECK(data, WRITE_AT, 8, seed);
		guest_printf("read-only: RO offered, write IOERR, data unchanged\n");
		return 0;
	}

	/* Writes: 8 sectors in one descriptor, 8 through an indirect table of three; read back. */
	fill(data, WRITE_AT, 16, wseed);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_OUT, WRITE_AT, 8), VIRTIO_BLK_S_OK);
	GUEST_ASSERT_EQ(request(VIRTIO_BLK_T_OUT, WRITE_AT + 8, data + 8 * SECTOR, three, 3, true),
			VIRTIO_BLK_S_OK);
	memset(data, 0, 16 * SECTOR);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, WRITE_AT - 1, 18), VIRTIO_BLK_S_OK);
	CHECK(data, WRITE_AT - 1, 1, seed);
	CHECK(data + SECTOR, WRITE_AT, 16, wseed);
	CHECK(data + 17 * SECTOR, WRITE_AT + 16, 1, seed);
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_OUT, sectors, 1), VIRTIO_BLK_S_IOERR);
	guest_printf("writes ok, read back; out-of-range write: IOERR\n");

	if (dev.features & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		GUEST_ASSERT_EQ(dwz_request(VIRTIO_BLK_T_WRITE_ZEROES, ZERO_AT, 8),
				VIRTIO_BLK_S_OK);
		GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_IN, ZERO_AT, 8), VIRTIO_BLK_S_OK);
		CHECK_ZERO(data, ZERO_AT, 8);
		GUEST_ASSERT_EQ(dwz_request(VIRTIO_BLK_T_WRITE_ZEROES, sectors - 4, 8),
				VIRTIO_BLK_S_IOERR);
		guest_printf("WRITE_ZEROES ok\n");
	}
	if (dev.features & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD)) {
		GUEST_ASSERT_EQ(dwz_request(VIRTIO_BLK_T_DISCARD, DISCARD_AT, 8), VIRTIO_BLK_S_OK);
		guest_printf("DISCARD ok\n");
	}
	GUEST_ASSERT_EQ(rw(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
	guest_printf("FLUSH ok\n");
	return 0;
}

/* blk_fault.c — virtio-blk on a failing backing device (the fault suite, tests/fault): runs a
 * list of reads, writes and flushes from the command line, each expecting OK or IOERR in the
 * status byte, and checks what every successful read returns. The guest goes on after each
 * error: reaching the end proves kiln kept serving the device. */
#include "virtio.h"

/*
 * Command line: sectors=N (capacity), seed=S (the image's pattern, run-guest's make_pattern;
 * seed=zero: an all-zero image), wseed=W (the pattern this guest writes), flush=0 (do not
 * negotiate VIRTIO_BLK_F_FLUSH: the device is then write-through), ops=OP,OP,... with
 *   rFIRST+COUNT:ok|err   read COUNT sectors at FIRST (ok: compare with what must be there)
 *   wFIRST+COUNT:ok|err   write pattern W there (ok: those sectors now hold W; err: unknown)
 *   f:ok|err              FLUSH
 * COUNT is at most MAX_SECT. A sector a failed write touched is not compared any more: a device
 * may have written part of it.
 */
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_T_IN	   0
#define VIRTIO_BLK_T_OUT   1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK	   0
#define VIRTIO_BLK_S_IOERR 1
#define CFG_CAPACITY	   0
#define SECTOR		   512
#define MAX_SECT	   2048 /* 1 MiB per request */
#define MAX_DISK	   65536
#define OPS_MAX		   1024

enum sect_state { S_BASE, S_WRITTEN, S_UNKNOWN }; /* 2 bits per sector */

static struct vdev dev;
static struct vq q;
static struct blk_hdr *hdr;
static uint8_t *status, *data;
static uint64_t seed, wseed, sectors;
static bool zero_base;
static uint8_t state[MAX_DISK];

static uint8_t pattern(uint64_t s, uint64_t seed_, unsigned i)
{
	if (i < 8)
		return (uint8_t)(s >> (8 * i));
	if (i < 16)
		return (uint8_t)(seed_ >> (8 * (i - 8)));
	return (uint8_t)(i + s * 13 + seed_ * 101);
}

/* One request of n sectors at sector through data; returns the status byte. */
static uint8_t request(uint32_t type, uint64_t sector, unsigned n)
{
	struct vbuf b[3];
	unsigned k = 0;
	uint32_t len;
	int head;

	*hdr = (struct blk_hdr){type, 0, sector};
	*status = 0xff;
	b[k++] = (struct vbuf){hdr, sizeof(*hdr), false};
	if (n)
		b[k++] = (struct vbuf){data, n * SECTOR, type == VIRTIO_BLK_T_IN};
	b[k++] = (struct vbuf){status, 1, true};
	head = vq_add(&q, b, k);
	GUEST_ASSERT(head >= 0);
	vq_kick(&q);
	GUEST_ASSERT_EQ(vq_wait_at(&q, &len, 20000, __FILE__, __LINE__), (uint32_t)head);
	GUEST_ASSERT(*status == VIRTIO_BLK_S_OK || *status == VIRTIO_BLK_S_IOERR);
	return *status;
}

/* Compare the n sectors read at first with what each must hold. */
static void check_read(uint64_t first, unsigned n)
{
	for (unsigned s = 0; s < n; s++) {
		uint64_t sec = first + s;
		unsigned st = state[sec];

		for (unsigned i = 0; st != S_UNKNOWN && i < SECTOR; i++) {
			uint8_t want = st == S_WRITTEN ? pattern(sec, wseed, i)
				       : zero_base     ? 0
						       : pattern(sec, seed, i);

			if (data[s * SECTOR + i] != want)
				guest_fail("sector %lu byte %u is %#x, expected %#x (%s)", sec, i,
					   data[s * SECTOR + i], want,
					   st == S_WRITTEN ? "written" : "the image's");
		}
	}
}

/* Run one op "rF+N:ok" | "wF+N:err" | "f:ok"; fails the test on a wrong outcome. */
static void run_op(const char *op)
{
	uint64_t first = 0, n = 0;
	const char *p = op + 1, *colon = op;
	bool want_ok;
	uint8_t st;

	while (*colon && *colon != ':')
		colon++;
	GUEST_ASSERT(*colon == ':');
	want_ok = strcmp(colon + 1, "ok") == 0;
	GUEST_ASSERT(want_ok || strcmp(colon + 1, "err") == 0);
	if (op[0] != 'f') {
		while (*p >= '0' && *p <= '9')
			first = first * 10 + (uint64_t)(*p++ - '0');
		GUEST_ASSERT(*p++ == '+');
		while (*p >= '0' && *p <= '9')
			n = n * 10 + (uint64_t)(*p++ - '0');
		GUEST_ASSERT(p == colon && n > 0 && n <= MAX_SECT && first + n <= MAX_DISK);
	}
	if (op[0] == 'r') {
		memset(data, 0xa5, n * SECTOR);
		st = request(VIRTIO_BLK_T_IN, first, (unsigned)n);
		if (st == VIRTIO_BLK_S_OK)
			check_read(first, (unsigned)n);
	} else if (op[0] == 'w') {
		for (unsigned s = 0; s < n; s++)
			for (unsigned i = 0; i < SECTOR; i++)
				data[s * SECTOR + i] = pattern(first + s, wseed, i);
		st = request(VIRTIO_BLK_T_OUT, first, (unsigned)n);
		for (unsigned s = 0; s < n; s++)
			state[first + s] = st == VIRTIO_BLK_S_OK ? S_WRITTEN : S_UNKNOWN;
	} else {
		GUEST_ASSERT(op[0] == 'f' && op[1] == ':');
		st = request(VIRTIO_BLK_T_FLUSH, 0, 0);
	}
	guest_printf("%s -> %s\n", op, st == VIRTIO_BLK_S_OK ? "OK" : "IOERR");
	if ((st == VIRTIO_BLK_S_OK) != want_ok)
		guest_fail("%s: expected %s", op, want_ok ? "OK" : "IOERR");
}

static void setup(void)
{
	char s[16];
	uint64_t flush = 1;

	GUEST_ASSERT(guest_cmdline_u64("sectors", &sectors));
	guest_cmdline_u64("flush", &flush);
	GUEST_ASSERT(guest_cmdline_u64("wseed", &wseed));
	GUEST_ASSERT(guest_cmdline_get("seed", s, sizeof(s)));
	zero_base = strcmp(s, "zero") == 0;
	GUEST_ASSERT(zero_base || guest_cmdline_u64("seed", &seed));
	GUEST_ASSERT(sectors <= MAX_DISK);
	hdr = virtio_alloc(sizeof(*hdr), 16);
	status = virtio_alloc(1, 1);
	data = virtio_alloc(MAX_SECT * SECTOR, 4096);
	VDEV_FIND(VIRTIO_ID_BLOCK, &dev);
	vdev_init(&dev,
		  VIRTIO_BIT(VIRTIO_F_VERSION_1) | (flush ? VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) : 0));
	vq_setup(&dev, &q, 0, 16);
	vdev_driver_ok(&dev);
	GUEST_ASSERT_EQ(vdev_config64(&dev, CFG_CAPACITY), sectors);
	GUEST_ASSERT_EQ(!!(dev.features & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH)), !!flush);
}

int main(void)
{
	static char ops[OPS_MAX];
	unsigned n = 0;
	char *op;

	setup();
	GUEST_ASSERT(guest_cmdline_get("ops", ops, sizeof(ops)));
	for (op = ops; *op;) {
		char *end = op;

		while (*end && *end != ',')
			end++;
		if (*end)
			*end++ = 0;
		run_op(op);
		n++;
		op = end;
	}
	guest_printf("blk_fault: %u operations as expected\n", n);
	return 0;
}

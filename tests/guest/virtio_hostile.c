/* virtio_hostile.c — malformed chains to virtio-blk (a descriptor loop, a buffer outside guest
 * memory, a device-writable header): each gets IOERR or DEVICE_NEEDS_RESET, kiln keeps running,
 * and after a reset the device reads correctly again. */
#include "virtio.h"

/* Command line: seed=S, the runner's pattern of the image (run-guest --disk); 2048 sectors. */
#define VIRTIO_BLK_T_IN	   0
#define VIRTIO_BLK_S_IOERR 1
#define SECTOR		   512
#define OUTSIDE_RAM	   0x7f0000000000ULL /* far above any guest RAM */
#define WAIT_MS		   2000

static struct vdev dev;
static struct vq q;
static struct blk_hdr *hdr;
static uint8_t *status, *data;
static uint64_t seed;

static void start(void)
{
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &q, 0, 16); /* fresh rings each time: the allocator never frees */
	vdev_driver_ok(&dev);
}

/* A good one-sector read of sector s must return run-guest's pattern (bytes 0-15 suffice). */
static void read_ok(uint64_t s)
{
	struct vbuf b[3] = {{hdr, sizeof(*hdr), false}, {data, SECTOR, true}, {status, 1, true}};

	*hdr = (struct blk_hdr){VIRTIO_BLK_T_IN, 0, s};
	*status = 0xff;
	VQ_RUN(&q, b, 3);
	GUEST_ASSERT_EQ(*status, 0);
	GUEST_ASSERT_EQ(*(uint64_t *)data, s);
	GUEST_ASSERT_EQ(*(uint64_t *)(data + 8), seed);
}

/*
 * Publish the hand-made chain at descriptor 0 (nr descriptors), kick, and wait for either a used
 * entry (whose status must be IOERR) or NEEDS_RESET; after NEEDS_RESET, reset and start again.
 * Then a good read must work. Returns what happened, for the log.
 */
static const char *expect_refused(const char *what, uint16_t nr)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * WAIT_MS;
	const char *outcome = NULL;
	uint32_t id, len;

	*status = 0xff;
	q.free_head = nr; /* descriptors 0..nr-1 are taken by this chain */
	q.nr_free = (uint16_t)(q.size - nr);
	vq_publish(&q, 0, nr);
	vq_kick(&q);
	while (!outcome) {
		if (vq_poll(&q, &id, &len)) {
			GUEST_ASSERT_EQ(id, 0);
			if (*status != VIRTIO_BLK_S_IOERR)
				guest_fail("%s: used with status %#x, expected IOERR", what,
					   *status);
			outcome = "IOERR";
		} else if (vdev_status(&dev) & VIRTIO_STATUS_NEEDS_RESET) {
			outcome = "DEVICE_NEEDS_RESET";
		} else if (guest_rdtsc() > end) {
			guest_fail("%s: neither used nor NEEDS_RESET after %d ms (status %#x)",
				   what, WAIT_MS, vdev_status(&dev));
		}
	}
	guest_printf("%s: %s\n", what, outcome);
	start(); /* reset either way: the queue's free list was bypassed */
	read_ok(7);
	return outcome;
}

int main(void)
{
	struct virtq_desc *d;

	GUEST_ASSERT(guest_cmdline_u64("seed", &seed));
	hdr = virtio_alloc(sizeof(*hdr), 16);
	status = virtio_alloc(1, 1);
	data = virtio_alloc(SECTOR, SECTOR);
	VDEV_FIND(VIRTIO_ID_BLOCK, &dev);
	start();
	read_ok(0);

	/* 1. A loop: header -> data -> status -> data -> ... (NEXT everywhere, directions valid).
	 */
	*hdr = (struct blk_hdr){VIRTIO_BLK_T_IN, 0, 1};
	d = q.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, sizeof(*hdr), VIRTQ_DESC_F_NEXT, 1};
	d[1] =
	    (struct virtq_desc){(uint64_t)data, SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
	d[2] = (struct virtq_desc){(uint64_t)status, 1, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1};
	expect_refused("descriptor loop", 3);

	/* 2. The data buffer outside guest memory. */
	*hdr = (struct blk_hdr){VIRTIO_BLK_T_IN, 0, 1};
	d = q.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, sizeof(*hdr), VIRTQ_DESC_F_NEXT, 1};
	d[1] = (struct virtq_desc){OUTSIDE_RAM, SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
	d[2] = (struct virtq_desc){(uint64_t)status, 1, VIRTQ_DESC_F_WRITE, 0};
	expect_refused("buffer outside guest memory", 3);

	/* 3. The header device-writable (a driver-side direction error). */
	*hdr = (struct blk_hdr){VIRTIO_BLK_T_IN, 0, 1};
	d = q.desc;
	d[0] = (struct virtq_desc){(uint64_t)hdr, sizeof(*hdr),
				   VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1};
	d[1] =
	    (struct virtq_desc){(uint64_t)data, SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2};
	d[2] = (struct virtq_desc){(uint64_t)status, 1, VIRTQ_DESC_F_WRITE, 0};
	expect_refused("write-only header", 3);

	guest_printf("virtio-blk survived 3 malformed chains; reads work after each reset\n");
	return 0;
}

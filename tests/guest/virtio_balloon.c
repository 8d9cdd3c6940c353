/* virtio_balloon.c — a hostile balloon driver: page numbers outside RAM (below nothing, in the
 * MMIO hole, past the end, the largest le32), duplicates, chains the wrong way round or not whole
 * page numbers, and a buffer outside guest memory. kiln refuses each and keeps running; a page
 * really given is discarded (reads zero afterwards) while its neighbour keeps its bytes.
 *
 * Command line: target=N, the num_pages kiln must show (--balloon amount_mib=N/256). */
#include "virtio.h"

#define VIRTIO_ID_BALLOON 5
#define INFLATEQ	  0
#define DEFLATEQ	  1
#define PAGE		  4096
#define OUTSIDE_RAM	  0x7f0000000000ULL
#define WAIT_MS		  2000

static struct vdev dev;
static struct vq inflate, deflate;

static void start(void)
{
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &inflate, INFLATEQ, 16);
	vq_setup(&dev, &deflate, DEFLATEQ, 16);
	vdev_driver_ok(&dev);
}

/* Give n page numbers on q as one readable buffer; the device returns it with 0 bytes. */
static void give(struct vq *q, const uint32_t *pfns, unsigned n)
{
	uint32_t *buf = virtio_alloc(n * 4, 16);
	struct vbuf b = {buf, n * 4, false};

	memcpy(buf, pfns, n * 4);
	GUEST_ASSERT_EQ(VQ_RUN(q, &b, 1), 0);
	GUEST_ASSERT_EQ(vdev_status(&dev) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

/* One hand-made descriptor (addr, len, flags) on the inflate queue: it must come back used with
 * 0 bytes, or put the device in NEEDS_RESET (then reset and start again). */
static const char *refused(const char *what, uint64_t addr, uint32_t len, uint16_t flags)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * WAIT_MS;
	const char *outcome = NULL;
	uint32_t id, used_len;

	inflate.desc[0] = (struct virtq_desc){addr, len, flags, 0};
	inflate.free_head = 1;
	inflate.nr_free = (uint16_t)(inflate.size - 1);
	vq_publish(&inflate, 0, 1);
	vq_kick(&inflate);
	while (!outcome) {
		if (vq_poll(&inflate, &id, &used_len)) {
			GUEST_ASSERT_EQ(id, 0);
			GUEST_ASSERT_EQ(used_len, 0);
			outcome = "returned unread";
		} else if (vdev_status(&dev) & VIRTIO_STATUS_NEEDS_RESET) {
			outcome = "DEVICE_NEEDS_RESET";
		} else if (guest_rdtsc() > end) {
			guest_fail("%s: neither used nor NEEDS_RESET after %d ms", what, WAIT_MS);
		}
	}
	guest_printf("%s: %s\n", what, outcome);
	start();
	return outcome;
}

int main(void)
{
	uint8_t *pages = virtio_alloc(4 * PAGE, PAGE);
	uint32_t pfn = (uint32_t)((uint64_t)pages / PAGE);
	uint64_t target;
	uint32_t *words;

	GUEST_ASSERT(guest_cmdline_u64("target", &target));
	VDEV_FIND(VIRTIO_ID_BALLOON, &dev);
	start();
	GUEST_ASSERT_EQ(vdev_config32(&dev, 0), target); /* num_pages */
	GUEST_ASSERT_EQ(vdev_config32(&dev, 4), 0);	 /* actual */

	/* 1. Page numbers outside RAM and a duplicate among good ones: the good page is given
	 * back (it reads zero), its neighbours keep their bytes. */
	memset(pages, 0x5a, 4 * PAGE);
	{
		uint32_t pfns[] = {0xd0000,	0xfee00, 0xfffff, 0x40000,
				   0xffffffffu, pfn + 1, pfn + 1, 0xc0000};

		give(&inflate, pfns, 8);
	}
	GUEST_ASSERT_EQ(pages[PAGE], 0);
	GUEST_ASSERT_EQ(pages[2 * PAGE - 1], 0);
	GUEST_ASSERT_EQ(pages[PAGE - 1], 0x5a);
	GUEST_ASSERT_EQ(pages[2 * PAGE], 0x5a);
	guest_printf("inflate: page %#x given back, 6 page numbers outside RAM refused\n", pfn + 1);

	/* 2. Deflate: outside RAM, never inflated, the inflated page twice. */
	{
		uint32_t pfns[] = {0xd0000, pfn + 2, pfn + 1, pfn + 1, 0xffffffffu};

		give(&deflate, pfns, 5);
	}
	vdev_write(&dev, VIRTIO_MMIO_CONFIG + 4, 1); /* actual: the driver's to write */
	GUEST_ASSERT_EQ(vdev_config32(&dev, 4), 1);
	vdev_write(&dev, VIRTIO_MMIO_CONFIG, 7); /* num_pages: not the driver's */
	GUEST_ASSERT_EQ(vdev_config32(&dev, 0), target);

	/* 3. Malformed chains. */
	words = virtio_alloc(16, 16);
	words[0] = pfn + 3;
	pages[3 * PAGE] = 0x77;
	refused("device-writable page numbers", (uint64_t)words, 4, VIRTQ_DESC_F_WRITE);
	refused("6 bytes of page numbers", (uint64_t)words, 6, 0);
	GUEST_ASSERT_EQ(pages[3 * PAGE], 0x77); /* neither was read */
	refused("page numbers outside guest memory", OUTSIDE_RAM, 4, 0);

	/* 4. After all that (and the resets), inflating works. */
	{
		uint32_t pfns[] = {pfn + 3};

		give(&inflate, pfns, 1);
	}
	GUEST_ASSERT_EQ(pages[3 * PAGE], 0);
	guest_printf("virtio-balloon refused every hostile page number and chain; inflate works\n");
	return 0;
}

/* snap_pattern.c — the snapshot subject for data: writes a known pattern to guest memory and,
 * through virtio-blk, to the disk, then checks both forever in rounds, printing
 * "snap_pattern: round N ok (tsc T)" after each. A snapshot taken at any moment and restored in
 * another kiln must let the rounds go on with no "FAIL" (the host-side test checks the output).
 * Waits have no timeout (the guest's TSC is not restored on every host: see
 * docs/snapshot-format.md); the test's own timeout bounds them.
 * Command line: seed=S (the pattern; default 7). */
#include "virtio.h"

#define SECTORS	  64
#define SECTOR	  512
#define MEM_BYTES (1u << 20)

static struct vdev dev;
static struct vq q;
static struct blk_hdr *hdr;
static uint8_t *status, *disk_buf, *mem_buf;
static uint64_t seed = 7;

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 31 + (i >> 9) * 7 + seed * 101);
}

/* One request, polled without a deadline. Returns the status byte. */
static uint8_t request(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vbuf b[3] = {{hdr, sizeof(*hdr), false}, {buf, len, type == 0}, {status, 1, true}};
	uint32_t id, l;
	int head;

	*hdr = (struct blk_hdr){type, 0, sector};
	*status = 0xff;
	head = vq_add(&q, b, 3);
	GUEST_ASSERT(head >= 0);
	vq_kick(&q);
	while (!vq_poll(&q, &id, &l))
		guest_pause();
	GUEST_ASSERT_EQ(id, (uint32_t)head);
	return *status;
}

static void check(const uint8_t *p, uint32_t n, const char *what, unsigned round)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i] != pattern(i))
			guest_fail("snap_pattern: round %u: %s byte %u is %#x, expected %#x", round,
				   what, i, p[i], pattern(i));
}

int main(void)
{
	(void)guest_cmdline_u64("seed", &seed);
	hdr = virtio_alloc(sizeof(*hdr), 16);
	status = virtio_alloc(1, 1);
	disk_buf = virtio_alloc(SECTORS * SECTOR, 4096);
	mem_buf = virtio_alloc(MEM_BYTES, 4096);
	VDEV_FIND(VIRTIO_ID_BLOCK, &dev);
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &q, 0, 16);
	vdev_driver_ok(&dev);
	for (uint32_t i = 0; i < MEM_BYTES; i++)
		mem_buf[i] = pattern(i);
	for (uint32_t i = 0; i < SECTORS * SECTOR; i++)
		disk_buf[i] = pattern(i);
	GUEST_ASSERT_EQ(request(1, 0, disk_buf, SECTORS * SECTOR), 0);
	guest_printf("snap_pattern: pattern written (seed %lu)\n", seed);
	for (unsigned round = 1;; round++) {
		for (uint32_t i = 0; i < SECTORS * SECTOR; i++)
			disk_buf[i] = 0;
		GUEST_ASSERT_EQ(request(0, 0, disk_buf, SECTORS * SECTOR), 0);
		check(disk_buf, SECTORS * SECTOR, "disk", round);
		check(mem_buf, MEM_BYTES, "memory", round);
		guest_printf("snap_pattern: round %u ok (tsc %lu)\n", round, guest_rdtsc());
	}
}

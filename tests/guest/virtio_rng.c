/* virtio_rng.c — virtio-rng fills the buffers it is given: each read reports a length, those
 * bytes are written (not all zero), and two reads differ. */
#include "virtio.h"

#define READS	 4
#define BUF_LEN	 256
#define SENTINEL 0xa5

int main(void)
{
	struct vdev d;
	struct vq q;
	uint8_t *buf[READS];
	uint32_t len[READS];

	VDEV_FIND(VIRTIO_ID_RNG, &d);
	vdev_init(&d, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&d, &q, 0, 16);
	vdev_driver_ok(&d);
	guest_printf("virtio-rng at %#lx (irq %u), queue of %u\n", d.base, d.irq, q.size);

	for (int i = 0; i < READS; i++) {
		/* Alternate one and two descriptors; the device may fill less than offered. */
		struct vbuf b[2];
		unsigned n = (i & 1) ? 2 : 1, zeros = 0, untouched = 0;

		buf[i] = virtio_alloc(BUF_LEN, 64);
		memset(buf[i], SENTINEL, BUF_LEN);
		b[0] = (struct vbuf){buf[i], n == 1 ? BUF_LEN : BUF_LEN / 2, true};
		b[1] = (struct vbuf){buf[i] + BUF_LEN / 2, BUF_LEN / 2, true};
		len[i] = VQ_RUN(&q, b, n);
		GUEST_ASSERT(len[i] > 0 && len[i] <= BUF_LEN);
		for (uint32_t k = 0; k < len[i]; k++)
			zeros += buf[i][k] == 0;
		for (uint32_t k = len[i]; k < BUF_LEN; k++)
			untouched += buf[i][k] == SENTINEL;
		guest_printf("read %d: %u bytes in %u descriptor(s), %u zero\n", i, len[i], n,
			     zeros);
		GUEST_ASSERT(zeros < len[i]); /* not all zero */
		/* Random bytes equal the sentinel 1 time in 256: most of the reported bytes
		 * changed. */
		GUEST_ASSERT(len[i] < 16 || zeros < len[i] / 4);
		GUEST_ASSERT_EQ(untouched, BUF_LEN - len[i]); /* nothing past len was written */
		for (int j = 0; j < i; j++) {
			uint32_t m = len[i] < len[j] ? len[i] : len[j];

			GUEST_ASSERT(m < 8 || memcmp(buf[i], buf[j], m) != 0);
		}
	}
	guest_printf("virtio-rng: %d reads, all filled and distinct\n", READS);
	return 0;
}

/* blk_bench.c — block benchmark guest: drives the first virtio-blk device with a stream of
 * requests (sequential or random, read or write), polling, several in flight; bench/run times it.
 */
#include "virtio.h"

/*
 * Command line: mode=seqread|seqwrite|randread|randwrite, bs=BYTES (a multiple of 512, at most
 * 64K), total=BYTES (K/M/G suffixes; 0: set the device up and exit, the baseline run), qd=N
 * (requests in flight, 1..16). Random offsets are bs-aligned, from a fixed xorshift sequence,
 * inside the disk's capacity; sequential ones wrap around at the end. Every request must
 * complete with status OK. Prints one line and exits through the debug-exit port (PASS, status
 * 1). Runs on kiln and on QEMU microvm (which needs the virtio_mmio.device= token on -append).
 */
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_T_IN	   0
#define VIRTIO_BLK_T_OUT   1
#define QD_MAX		   16
#define BS_MAX		   (64 * 1024)
#define SECTOR		   512

static struct vdev dev;
static struct vq q;
static struct blk_hdr *hdr[QD_MAX];
static uint8_t *status[QD_MAX], *buf[QD_MAX];
static bool busy[QD_MAX]; /* issued and not yet taken off the used ring */
static int slot_of_head[VQ_MAX_SIZE];

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t xorshift(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

int main(void)
{
	char mode[16] = "";
	uint64_t bs = 0, total = 0, qd = 1, capacity, blocks, next_block = 0, issued = 0, done = 0;
	bool write, random;
	uint32_t type;

	GUEST_ASSERT(guest_cmdline_get("mode", mode, sizeof(mode)));
	GUEST_ASSERT(guest_cmdline_u64("bs", &bs));
	GUEST_ASSERT(guest_cmdline_u64("total", &total));
	guest_cmdline_u64("qd", &qd);
	GUEST_ASSERT(bs >= SECTOR && bs <= BS_MAX && bs % SECTOR == 0);
	GUEST_ASSERT(qd >= 1 && qd <= QD_MAX);
	GUEST_ASSERT(total % bs == 0);
	write = strstr(mode, "write") != NULL;
	random = strncmp(mode, "rand", 4) == 0;
	GUEST_ASSERT(write || strstr(mode, "read"));
	type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;

	VDEV_FIND(VIRTIO_ID_BLOCK, &dev);
	/* FLUSH negotiated: the device's cache is writeback (§5.2.4: without it, writethrough, and
	 * QEMU then syncs every write); the benchmark issues no flushes. */
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
	vq_setup(&dev, &q, 0, 64);
	GUEST_ASSERT(q.size >= 3 * qd);
	vdev_driver_ok(&dev);
	capacity = vdev_config64(&dev, 0);
	blocks = capacity / (bs / SECTOR);
	GUEST_ASSERT(blocks > 0);
	for (unsigned i = 0; i < qd; i++) {
		hdr[i] = virtio_alloc(sizeof(struct blk_hdr), 16);
		status[i] = virtio_alloc(1, 1);
		buf[i] = virtio_alloc(bs, 4096);
		memset(buf[i], 0x5a + i, bs);
	}

	/* Keep qd requests in flight: issue into every free slot, kick once, reap what is used. */
	for (uint64_t want = total / bs, free_slots = qd; done < want;) {
		uint32_t id, len;
		bool added = false;

		for (unsigned s = 0; issued < want && free_slots > 0 && s < qd; s++) {
			struct vbuf b[3];
			uint64_t block;
			int head;

			if (busy[s])
				continue;
			block = random ? xorshift() % blocks : next_block++ % blocks;
			*hdr[s] = (struct blk_hdr){type, 0, block * (bs / SECTOR)};
			status[s][0] = 0xee;
			busy[s] = true;
			b[0] = (struct vbuf){hdr[s], sizeof(struct blk_hdr), false};
			b[1] = (struct vbuf){buf[s], (uint32_t)bs, !write};
			b[2] = (struct vbuf){status[s], 1, true};
			head = vq_add(&q, b, 3);
			GUEST_ASSERT(head >= 0);
			slot_of_head[head] = (int)s;
			issued++;
			free_slots--;
			added = true;
		}
		if (added)
			vq_kick(&q);
		id = VQ_WAIT(&q, &len);
		do { /* take whatever else completed too before issuing again */
			int s = slot_of_head[id];

			GUEST_ASSERT(busy[s]);
			GUEST_ASSERT_EQ(status[s][0], 0);
			busy[s] = false;
			free_slots++;
			done++;
		} while (vq_poll(&q, &id, &len));
	}
	guest_printf("blk_bench: %s bs=%lu qd=%lu: %lu requests\n", mode, bs, qd, done);
	return 0;
}

/* fuzz_balloon.c — libFuzzer target: the virtio-balloon device (src/virtio/balloon.c) on guest
 * memory, rings and page numbers supplied by the input. The transport is left out: the input
 * drives the device through the calls a transport makes (negotiation, queue setup,
 * notifications, configuration writes, resets) and the integrator's (target, statistics period,
 * save/load). The in-balloon bitmap must stay consistent with the counters, the guest's
 * statistics within the known tags; AddressSanitizer and UBSan watch the rest.
 *
 * Input: a 4-byte header — [features: 1 STATS_VQ, 2 REPORTING, 4 EVENT_IDX, 8 INDIRECT_DESC]
 * [queue size log2][unused][number of operations] — then 4-byte operations (see run_op), then
 * the guest memory image. Guest memory: RAM at 0 (rings of queue q at q * 0x3000: descriptors,
 * +0x1000 available, +0x2000 used), a read-only page at RO_GPA, a hole, RAM again at RAM2_GPA.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "virtio/balloon.h"

#include "fuzz_virtio.h"

#define MEM_LEN	  0x40000ull
#define RO_GPA	  MEM_LEN
#define RAM2_GPA  0x80000ull
#define RAM2_LEN  0x20000ull
#define HDR_LEN	  4
#define OP_LEN	  4
#define MAX_OPS	  255
#define NR_QUEUES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct guest_mem mem;
static uint8_t *ram, *ram2, *rom;

static void setup_once(void)
{
	static bool ready;

	if (ready)
		return;
	log_set_level(LOG_OFF);
	guest_mem_init(&mem, -1);
	ram = fuzz_region(&mem, 0, MEM_LEN, GUEST_MEM_RAM);
	rom = fuzz_region(&mem, RO_GPA, 4096, GUEST_MEM_READONLY);
	ram2 = fuzz_region(&mem, RAM2_GPA, RAM2_LEN, GUEST_MEM_RAM);
	ready = true;
}

struct fuzz {
	struct virtio_balloon *b;
	uint8_t feat;
	uint16_t qsize;
};

/* Reset, negotiate, set up every queue, DRIVER_OK (vd.lock held). */
static void driver_init(struct fuzz *f)
{
	struct virtio_dev *vd = &f->b->vd;
	uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t want = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;

	if (f->feat & 1)
		want |= 1ull << VIRTIO_BALLOON_F_STATS_VQ;
	if (f->feat & 2)
		want |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	if (f->feat & 4)
		want |= 1ull << VIRTIO_RING_F_EVENT_IDX;
	if (f->feat & 8)
		want |= 1ull << VIRTIO_RING_F_INDIRECT_DESC;
	virtio_dev_write_status(vd, 0);
	virtio_dev_write_status(vd, st);
	vd->driver_features = want & vd->offered;
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < NR_QUEUES; q++) {
		vd->vq[q].size = f->qsize;
		vd->vq[q].desc_gpa = q * 0x3000;
		vd->vq[q].avail_gpa = q * 0x3000 + 0x1000;
		vd->vq[q].used_gpa = q * 0x3000 + 0x2000;
		virtio_dev_queue_ready(vd, q);
	}
	virtio_dev_write_status(vd, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* The bitmap counts no more pages than were inflated, and none outside RAM. */
static void check_device(const struct fuzz *f)
{
	const struct virtio_balloon *b = f->b;
	uint64_t in = 0;

	for (uint64_t p = 0; p < b->bitmap_pages; p++) {
		bool set = (b->inflated[p / 64] >> (p % 64)) & 1;

		in += set;
		assert(!set || p * 4096 < MEM_LEN || (p * 4096 >= RAM2_GPA));
	}
	assert(in <= b->stats.inflated);
	assert(b->guest.present < 1u << VIRTIO_BALLOON_S_NR);
}

static int balloon_save(void *dev, struct state_buf *b)
{
	virtio_balloon_save(dev, b);
	return 0;
}

static int balloon_load(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_balloon_load(dev, b, version);
}

static void save_load(struct fuzz *f)
{
	fuzz_virtio_round_trip(&f->b->vd, f->b, balloon_save, balloon_load,
			       VIRTIO_BALLOON_STATE_VERSION);
}

static void run_op(struct fuzz *f, const uint8_t *op)
{
	struct virtio_dev *vd = &f->b->vd;
	uint64_t off = ((uint64_t)(op[1] | op[2] << 8) * 4) % MEM_LEN;
	uint32_t val = (uint32_t)(op[2] | op[3] << 8);

	switch (op[0] % 8) {
	case 0:
	case 1:
		pthread_mutex_lock(&vd->lock);
		virtio_dev_notify(vd, op[1] % NR_QUEUES);
		pthread_mutex_unlock(&vd->lock);
		break;
	case 2:
		memcpy(ram + off, &op[2], 2); /* the driver writes rings, buffers, page numbers */
		break;
	case 3:
		pthread_mutex_lock(&vd->lock);
		if (vd->ops->config_write)
			vd->ops->config_write(vd->dev, op[1] % VIRTIO_BALLOON_CONFIG_LEN, &val,
					      1 + op[3] % 4 > VIRTIO_BALLOON_CONFIG_LEN -
								  op[1] % VIRTIO_BALLOON_CONFIG_LEN
						  ? 1
						  : 1 + op[3] % 4);
		pthread_mutex_unlock(&vd->lock);
		break;
	case 4:
		virtio_balloon_set_target(f->b, val);
		break;
	case 5:
		(void)virtio_balloon_set_stats_interval(f->b, op[1] % 3);
		break;
	case 6:
		pthread_mutex_lock(&vd->lock);
		driver_init(f);
		pthread_mutex_unlock(&vd->lock);
		break;
	default:
		save_load(f);
		break;
	}
	check_device(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_balloon_config c = {.mem = &mem};
	struct fuzz f = {0};
	size_t nops, img;

	if (size < HDR_LEN)
		return 0;
	setup_once();
	f.feat = data[0];
	f.qsize = (uint16_t)(1u << (data[1] % 9));
	nops = data[3] < MAX_OPS ? data[3] : MAX_OPS;
	if (nops * OP_LEN > size - HDR_LEN)
		nops = (size - HDR_LEN) / OP_LEN;
	img = size - HDR_LEN - nops * OP_LEN;
	img = img < MEM_LEN ? img : MEM_LEN;
	memcpy(ram, data + HDR_LEN + nops * OP_LEN, img);
	memset(ram + img, 0, MEM_LEN - img);
	c.stats_interval_s = (f.feat & 1) ? 1 : 0;
	c.reporting = f.feat & 2;
	c.deflate_on_oom = true;
	if (virtio_balloon_create(&c, &f.b) < 0)
		abort();
	pthread_mutex_lock(&f.b->vd.lock);
	driver_init(&f);
	pthread_mutex_unlock(&f.b->vd.lock);
	for (size_t i = 0; i < nops; i++)
		run_op(&f, data + HDR_LEN + i * OP_LEN);
	virtio_balloon_destroy(f.b);
	return 0;
}

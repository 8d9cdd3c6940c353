/* virtio.h — the kit's polling virtio-mmio driver (virtio 1.2 §4.2, §2.7): find, initialise,
 * queues. */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include "guest.h"

/*
 * Everything runs at CPL3 without interrupts: the driver sets VIRTQ_AVAIL_F_NO_INTERRUPT and
 * polls the used ring. Rings and buffers come from a bump allocator over the kit's virtio
 * region (KIT_VIRTIO_GPA, identity-mapped RAM, see kit.h); nothing is ever freed. Every
 * failure (no device, a refused feature, a wait that times out) ends the test with
 * "FAIL <file>:<line>: ..." naming the caller's line.
 */

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER	  2u
#define VIRTIO_STATUS_DRIVER_OK	  4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED	  128u

/* Device IDs (§5). */
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4

/* A virtio-blk request's header (virtio 1.2 §5.2.6), the first descriptor of every request. */
struct blk_hdr {
	uint32_t type, reserved;
	uint64_t sector;
};

/* Transport feature bits (§6). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_BIT(b)	       (1ULL << (b))

/* virtio-mmio registers (§4.2.2), byte offsets into the window. */
#define VIRTIO_MMIO_MAGIC	      0x000
#define VIRTIO_MMIO_VERSION	      0x004
#define VIRTIO_MMIO_DEVICE_ID	      0x008
#define VIRTIO_MMIO_VENDOR_ID	      0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES   0x010
#define VIRTIO_MMIO_DEVICE_FEAT_SEL   0x014
#define VIRTIO_MMIO_DRIVER_FEATURES   0x020
#define VIRTIO_MMIO_DRIVER_FEAT_SEL   0x024
#define VIRTIO_MMIO_QUEUE_SEL	      0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX     0x034
#define VIRTIO_MMIO_QUEUE_NUM	      0x038
#define VIRTIO_MMIO_QUEUE_READY	      0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY      0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS  0x060
#define VIRTIO_MMIO_INTERRUPT_ACK     0x064
#define VIRTIO_MMIO_STATUS	      0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW    0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH   0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW  0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW  0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG	      0x100
#define VIRTIO_MMIO_MAGIC_VALUE	      0x74726976 /* "virt" */

/* Split virtqueue layout (§2.7). */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* size entries, then avail_event */
};

/* One device found on the command line and probed. */
struct vdev {
	uint64_t base;	   /* the register window */
	uint32_t irq;	   /* from the token; unused (the driver polls) */
	uint32_t id;	   /* DeviceID */
	uint64_t offered;  /* device features */
	uint64_t features; /* negotiated: valid after vdev_init */
};

#define VQ_MAX_SIZE 256

/* A split virtqueue the driver owns. */
struct vq {
	struct vdev *dev;
	unsigned index; /* QueueSel */
	uint16_t size;
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t free_head, nr_free;	 /* free descriptors, linked through next */
	uint16_t avail_idx;		 /* our copy of avail->idx */
	uint16_t last_used;		 /* used entries consumed so far */
	uint16_t chain_len[VQ_MAX_SIZE]; /* by head: descriptors to free when it is used */
};

/* One buffer of a chain: device-readable, or device-writable if write is set. */
struct vbuf {
	const volatile void *addr;
	uint32_t len;
	bool write;
};

/* ---- memory --------------------------------------------------------------------------------- */
/* size bytes, aligned to align (a power of two), zeroed, from the kit's virtio region. */
void *virtio_alloc(size_t size, size_t align);

/* ---- discovery ------------------------------------------------------------------------------ */
/*
 * Find the nth (from 0) `virtio_mmio.device=SIZE@BASE:IRQ` token on the command line whose
 * window has the virtio magic, version 2 and DeviceID id; fill d (features offered included).
 * Returns false if there is no such device. Windows with DeviceID 0 (empty slots) are skipped.
 */
bool vdev_find(uint32_t id, unsigned nth, struct vdev *d);
/* Like vdev_find, but fails the test (at the caller's line) when there is none. */
#define VDEV_FIND(id, d)                                                                           \
	do {                                                                                       \
		if (!vdev_find((id), 0, (d)))                                                      \
			guest_fail("%s:%d: no virtio device with ID %u on the command line",       \
				   __FILE__, __LINE__, (unsigned)(id));                            \
	} while (0)

static inline uint32_t vdev_read(const struct vdev *d, unsigned reg)
{
	return mmio_read32(d->base + reg);
}
static inline void vdev_write(const struct vdev *d, unsigned reg, uint32_t v)
{
	mmio_write32(d->base + reg, v);
}
static inline uint32_t vdev_status(const struct vdev *d)
{
	return vdev_read(d, VIRTIO_MMIO_STATUS);
}

/* ---- initialisation (§3.1.1) ---------------------------------------------------------------- */
/*
 * Mask the 8259s (interrupts stay off: the IOAPIC's pins are masked from reset), reset,
 * ACKNOWLEDGE, DRIVER, accept want & offered (want must include VERSION_1, which the
 * device must offer), FEATURES_OK and check the device kept it. Returns the negotiated features
 * (also in d->features). Then set up queues with vq_setup and finish with vdev_driver_ok.
 */
uint64_t vdev_init(struct vdev *d, uint64_t want);
/* Write 0 to Status and wait until it reads back 0 (§4.2.3.1: the reset is complete). */
void vdev_reset(struct vdev *d);
/* Set DRIVER_OK; the device is live. */
void vdev_driver_ok(struct vdev *d);

/* Device configuration space (§4.2.2): one access of that width at offset off. */
uint8_t vdev_config8(const struct vdev *d, unsigned off);
uint32_t vdev_config32(const struct vdev *d, unsigned off);
/* A 64-bit field as two 32-bit reads, retried until ConfigGeneration is stable (§2.5.1). */
uint64_t vdev_config64(const struct vdev *d, unsigned off);

/* ---- queues (§2.7, §4.2.3.2) ---------------------------------------------------------------- */
/* Configure queue index with min(size, QueueNumMax) entries (size a power of two) and mark it
 * ready. Interrupts are suppressed (NO_INTERRUPT). Fails the test if the queue is missing. */
void vq_setup(struct vdev *d, struct vq *q, unsigned index, uint16_t size);

/*
 * Put the n buffers of b on the descriptor table as one chain and make it available (not yet
 * notified). Returns the head (the id the used ring will carry), or -1 if there are not n free
 * descriptors. The buffers must stay untouched until the chain is used.
 */
int vq_add(struct vq *q, const struct vbuf *b, unsigned n);
/*
 * Like vq_add, but the chain is one descriptor with VIRTQ_DESC_F_INDIRECT pointing at table,
 * which receives the n buffers (table must have room for n descriptors, 16-byte aligned).
 */
int vq_add_indirect(struct vq *q, const struct vbuf *b, unsigned n, struct virtq_desc *table);
/* Publish a chain already written to q->desc starting at head (for hand-made, even malformed,
 * chains); nr descriptors are returned to the free list when it is used. */
void vq_publish(struct vq *q, uint16_t head, uint16_t nr);
/* Notify the device that queue q has new chains (a full fence first, §2.7.13.3). */
void vq_kick(struct vq *q);

/* Take one used entry if there is one: its id (head) and written length. */
bool vq_poll(struct vq *q, uint32_t *id, uint32_t *len);
/*
 * Wait up to ms milliseconds for one used entry; on timeout fail the test as file:line. Returns
 * the head; *len (if not NULL) gets the written length.
 */
uint32_t vq_wait_at(struct vq *q, uint32_t *len, unsigned ms, const char *file, int line);
#define VQ_WAIT_MS	5000
#define VQ_WAIT(q, len) vq_wait_at((q), (len), VQ_WAIT_MS, __FILE__, __LINE__)

/* vq_add + vq_kick + VQ_WAIT, checking that the used id is this chain's head. Returns len. */
uint32_t vq_run_at(struct vq *q, const struct vbuf *b, unsigned n, const char *file, int line);
#define VQ_RUN(q, b, n) vq_run_at((q), (b), (n), __FILE__, __LINE__)

#endif

/* vdrv.h — the one virtio guest driver of the unit tests: guest memory in a host buffer, a
 * virtio-mmio transport on a private bus, split rings laid out by hand. Every test that drives a
 * virtio device (or the transport itself) goes through it; buffers are given as offsets into
 * guest memory (gpa - VDRV_MEM_GPA). */
#ifndef KILN_TESTS_UNIT_VDRV_H
#define KILN_TESTS_UNIT_VDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "virtio/virtio_mmio.h"

#define VDRV_BASE	0xd0000000ULL
#define VDRV_MEM_GPA	0x100000ULL
#define VDRV_MEM_LEN	0x40000ULL /* vdrv_init's default; vdrv_init_mem picks another */
#define VDRV_DATA_OFF	0x10000ULL /* buffers live from here; rings below */
#define VDRV_QSIZE	16	   /* entries per queue unless d->qsize says otherwise */
#define VDRV_QSIZE_MAX	256	   /* what fits the 0x4000 bytes of rings per queue */
#define VDRV_MAX_QUEUES 4	   /* queues whose rings fit below VDRV_DATA_OFF */

/* The virtio-mmio register offsets (virtio 1.2 §4.2.2). They mirror the private REG_* enum of
 * src/virtio/virtio_mmio.c, which virtio_mmio.h does not export. */
enum vdrv_reg {
	VDRV_REG_MAGIC = 0x000,
	VDRV_REG_VERSION = 0x004,
	VDRV_REG_DEVICE_ID = 0x008,
	VDRV_REG_VENDOR_ID = 0x00c,
	VDRV_REG_DEVICE_FEATURES = 0x010,
	VDRV_REG_DEVICE_FEATURES_SEL = 0x014,
	VDRV_REG_DRIVER_FEATURES = 0x020,
	VDRV_REG_DRIVER_FEATURES_SEL = 0x024,
	VDRV_REG_QUEUE_SEL = 0x030,
	VDRV_REG_QUEUE_NUM_MAX = 0x034,
	VDRV_REG_QUEUE_NUM = 0x038,
	VDRV_REG_QUEUE_READY = 0x044,
	VDRV_REG_QUEUE_NOTIFY = 0x050,
	VDRV_REG_INTERRUPT_STATUS = 0x060,
	VDRV_REG_INTERRUPT_ACK = 0x064,
	VDRV_REG_STATUS = 0x070,
	VDRV_REG_QUEUE_DESC_LOW = 0x080,
	VDRV_REG_QUEUE_DESC_HIGH = 0x084,
	VDRV_REG_QUEUE_DRIVER_LOW = 0x090,
	VDRV_REG_QUEUE_DRIVER_HIGH = 0x094,
	VDRV_REG_QUEUE_DEVICE_LOW = 0x0a0,
	VDRV_REG_QUEUE_DEVICE_HIGH = 0x0a4,
	VDRV_REG_SHM_LEN_LOW = 0x0b0,
	VDRV_REG_CONFIG_GENERATION = 0x0fc,
	VDRV_REG_CONFIG = 0x100,
};

struct vdrv_buf {
	uint64_t off; /* offset into guest memory (gpa - VDRV_MEM_GPA) */
	uint32_t len;
	bool device_writes;
};

/* The driver's side of one split ring. */
struct vdrv_queue {
	uint16_t size, avail_idx, used_seen, next_desc;
};

struct vdrv {
	struct guest_mem mem;
	struct io_bus bus;
	struct virtio_mmio *t;
	uint8_t *ram;
	uint64_t mem_len;
	uint64_t heap;	/* vdrv_alloc's next offset */
	unsigned qsize; /* entries of the queues vdrv_negotiate sets up (VDRV_QSIZE) */
	int irqs;	/* interrupts the device raised */
	int call_fd;	/* what a vhost-user device's backend signals (queue_call_fd); -1 */
	struct vdrv_queue q[VDRV_MAX_QUEUES];
};

/* --- setup --- */

/* Guest memory (VDRV_MEM_LEN bytes, zeroed) and an empty MMIO bus. */
void vdrv_init(struct vdrv *d);
/* The same with mem_len bytes of guest memory (more than VDRV_DATA_OFF). */
void vdrv_init_mem(struct vdrv *d, uint64_t mem_len);
/* Put vd behind a virtio-mmio window at VDRV_BASE, GSI 5, without KVM (notifications are
 * synchronous); its interrupts count in d->irqs. vd must DMA into d->mem. */
void vdrv_attach(struct vdrv *d, struct virtio_dev *vd);
/* Destroy the transport (d->t) and empty the bus, so another device can be attached. */
void vdrv_detach(struct vdrv *d);
/* Detach (if still attached) and free guest memory and the bus. */
void vdrv_fini(struct vdrv *d);

/* --- registers --- */

/* 32-bit read / write of the register at offset reg (enum vdrv_reg). */
uint32_t vdrv_rd(struct vdrv *d, uint64_t reg);
void vdrv_wr(struct vdrv *d, uint64_t reg, uint32_t v);
/* A width-byte (1, 2, 4) access to device configuration space at off. */
uint32_t vdrv_cfg_rd(struct vdrv *d, uint32_t off, unsigned width);
void vdrv_cfg_wr(struct vdrv *d, uint32_t off, uint32_t v, unsigned width);
/* The Status register. */
uint32_t vdrv_status(struct vdrv *d);
void vdrv_set_status(struct vdrv *d, uint32_t status);

/* --- initialisation (§3.1.1), step by step --- */

/* All 64 bits the device offers (DeviceFeatures with DeviceFeaturesSel 0 and 1). */
uint64_t vdrv_device_features(struct vdrv *d);
/* Write both halves of DriverFeatures (selector 0 then 1). */
void vdrv_write_features(struct vdrv *d, uint64_t features);
/* Reset, ACKNOWLEDGE, DRIVER, write exactly `features`, set FEATURES_OK. Returns the status read
 * back (FEATURES_OK only if the device accepted). */
uint32_t vdrv_set_features(struct vdrv *d, uint64_t features);
/* QueueNumMax of queue q (selects q). */
uint32_t vdrv_queue_max(struct vdrv *d, unsigned q);
/* Select queue q (< VDRV_MAX_QUEUES), give it `size` entries (<= VDRV_QSIZE_MAX) and zeroed rings
 * at VDRV_MEM_GPA + q * 0x4000 (descriptors, +0x1000 available, +0x2000 used), set QueueReady.
 * Forgets the driver's ring state. Returns QueueReady read back. */
uint32_t vdrv_queue_setup(struct vdrv *d, unsigned q, unsigned size);
/* vdrv_set_features(VERSION_1 | features), then queues 0..nq-1 of d->qsize entries, each of
 * which must become ready. Returns the status read. */
uint32_t vdrv_negotiate(struct vdrv *d, unsigned nq, uint64_t features);
/* Set DRIVER_OK (asserting it stuck). */
void vdrv_driver_ok(struct vdrv *d);
/* vdrv_negotiate (asserting FEATURES_OK), then vdrv_driver_ok. */
void vdrv_start(struct vdrv *d, unsigned nq, uint64_t features);

/* --- buffers and rings --- */

/* len zeroed bytes of guest memory from a bump allocator starting at VDRV_DATA_OFF, 16-byte
 * aligned. Returns their offset; never freed. */
uint64_t vdrv_alloc(struct vdrv *d, uint32_t len);
/* Host address of guest memory at offset off. */
void *vdrv_ptr(struct vdrv *d, uint64_t off);
/* Make a chain of the n buffers b (descriptors taken in ring order, NEXT-linked, WRITE where
 * device_writes) available on queue q, without notifying. Returns its head. */
uint16_t vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_buf *b, unsigned n);
/* Make available on queue q a chain of one INDIRECT descriptor whose table (n entries, written
 * here from b, NEXT-linked, WRITE where device_writes) lies at offset table_off (16 * n bytes the
 * caller allocated). The device takes it only with VIRTIO_RING_F_INDIRECT_DESC. Returns its head.
 */
uint16_t vdrv_add_indirect(struct vdrv *d, unsigned q, uint64_t table_off, const struct vdrv_buf *b,
			   unsigned n);
/* Notify queue q (QueueNotify; q need not exist). */
void vdrv_kick(struct vdrv *d, unsigned q);
/* The device's used index of queue q. */
uint16_t vdrv_used_idx(struct vdrv *d, unsigned q);
/* Used element i (taken modulo the queue size) of queue q: chain head and bytes written. */
void vdrv_used_elem(struct vdrv *d, unsigned q, uint16_t i, uint32_t *id, uint32_t *len);
/* The next used element of queue q not yet returned, if any. */
bool vdrv_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len);

/* Dispatch the loop's events: wait up to ms for the first, then until none are pending. */
void vdrv_pump(struct event_loop *l, int ms);

#endif

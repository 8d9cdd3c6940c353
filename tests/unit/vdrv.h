/* vdrv.h — a minimal virtio guest driver for device unit tests: guest memory in a host buffer,
 * a virtio-mmio transport on a private bus, split rings laid out by hand. */
#ifndef KILN_TESTS_UNIT_VDRV_H
#define KILN_TESTS_UNIT_VDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "virtio/virtio_mmio.h"

#define VDRV_BASE     0xd0000000ULL
#define VDRV_MEM_GPA  0x100000ULL
#define VDRV_MEM_LEN  0x40000ULL
#define VDRV_DATA_OFF 0x10000ULL /* buffers live from here; rings below */
#define VDRV_QSIZE    16

struct vdrv_buf {
	uint64_t off; /* offset into guest memory (gpa - VDRV_MEM_GPA) */
	uint32_t len;
	bool device_writes;
};

struct vdrv {
	struct guest_mem mem;
	struct io_bus bus;
	struct virtio_mmio *t;
	uint8_t *ram;
	int irqs;
	uint16_t avail_idx[2], used_seen[2], next_desc[2];
};

/* Guest memory and the MMIO bus. */
void vdrv_init(struct vdrv *d);
/* Put vd behind a virtio-mmio window at VDRV_BASE (no KVM: notifications are synchronous). */
void vdrv_attach(struct vdrv *d, struct virtio_dev *vd);
void vdrv_fini(struct vdrv *d);

uint32_t vdrv_rd(struct vdrv *d, uint64_t off);
void vdrv_wr(struct vdrv *d, uint64_t off, uint32_t v);

/* Reset, negotiate VERSION_1 | features, set up queues 0..nq-1. Returns the status read. */
uint32_t vdrv_negotiate(struct vdrv *d, unsigned nq, uint64_t features);
/* Set DRIVER_OK. */
void vdrv_driver_ok(struct vdrv *d);
/* Both of the above. */
void vdrv_start(struct vdrv *d, unsigned nq, uint64_t features);

/* Make a chain of n buffers available on queue q (no notification). Returns its head. */
uint16_t vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_buf *b, unsigned n);
void vdrv_kick(struct vdrv *d, unsigned q);
/* The next used entry of queue q, if any. */
bool vdrv_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len);
void *vdrv_ptr(struct vdrv *d, uint64_t off);

/* Dispatch the loop's events: wait up to ms for the first, then until none are pending. */
void vdrv_pump(struct event_loop *l, int ms);

#endif

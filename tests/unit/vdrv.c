/* vdrv.c — the test guest driver: rings, chains and notifications through the MMIO bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <cmocka.h>

#include "vdrv.h"

static uint64_t ring_off(unsigned q)
{
	return (uint64_t)q * 0x4000;
}

static void on_irq(void *ctx)
{
	((struct vdrv *)ctx)->irqs++;
}

void vdrv_init(struct vdrv *d)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, VDRV_MEM_LEN);
	assert_non_null(d->ram);
	memset(d->ram, 0, VDRV_MEM_LEN);
	guest_mem_init(&d->mem, -1);
	assert_int_equal(
	    guest_mem_add_host(&d->mem, VDRV_MEM_GPA, VDRV_MEM_LEN, d->ram, GUEST_MEM_RAM), 0);
	io_bus_init(&d->bus, "mmio", 0);
}

void vdrv_attach(struct vdrv *d, struct virtio_dev *vd)
{
	struct virtio_mmio_config cfg = {.base = VDRV_BASE, .gsi = 5, .vm_fd = -1, .mmio = &d->bus};

	assert_int_equal(virtio_mmio_create(vd, &cfg, &d->t), 0);
	vd->raise_irq = on_irq;
	vd->irq_ctx = d;
}

void vdrv_fini(struct vdrv *d)
{
	virtio_mmio_destroy(d->t);
	io_bus_destroy(&d->bus);
	guest_mem_destroy(&d->mem);
	free(d->ram);
}

uint32_t vdrv_rd(struct vdrv *d, uint64_t off)
{
	return (uint32_t)io_bus_read(&d->bus, VDRV_BASE + off, 4);
}

void vdrv_wr(struct vdrv *d, uint64_t off, uint32_t v)
{
	io_bus_write(&d->bus, VDRV_BASE + off, v, 4);
}

static void setup_queue(struct vdrv *d, unsigned q)
{
	uint64_t desc = VDRV_MEM_GPA + ring_off(q);

	memset(d->ram + ring_off(q), 0, 0x4000);
	d->avail_idx[q] = d->used_seen[q] = d->next_desc[q] = 0;
	vdrv_wr(d, 0x30, q);
	vdrv_wr(d, 0x38, VDRV_QSIZE);
	vdrv_wr(d, 0x80, (uint32_t)desc);
	vdrv_wr(d, 0x84, 0);
	vdrv_wr(d, 0x90, (uint32_t)(desc + 0x1000));
	vdrv_wr(d, 0x94, 0);
	vdrv_wr(d, 0xa0, (uint32_t)(desc + 0x2000));
	vdrv_wr(d, 0xa4, 0);
	vdrv_wr(d, 0x44, 1);
	assert_int_equal(vdrv_rd(d, 0x44), 1);
}

uint32_t vdrv_negotiate(struct vdrv *d, unsigned nq, uint64_t features)
{
	uint64_t feat = features | (1ULL << VIRTIO_F_VERSION_1);

	vdrv_wr(d, 0x70, 0);
	vdrv_wr(d, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_wr(d, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_wr(d, 0x24, 0);
	vdrv_wr(d, 0x20, (uint32_t)feat);
	vdrv_wr(d, 0x24, 1);
	vdrv_wr(d, 0x20, (uint32_t)(feat >> 32));
	vdrv_wr(d, 0x70,
		VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < nq; q++)
		setup_queue(d, q);
	return vdrv_rd(d, 0x70);
}

void vdrv_driver_ok(struct vdrv *d)
{
	vdrv_wr(d, 0x70, vdrv_rd(d, 0x70) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vdrv_rd(d, 0x70) & VIRTIO_STATUS_DRIVER_OK);
}

void vdrv_start(struct vdrv *d, unsigned nq, uint64_t features)
{
	assert_true(vdrv_negotiate(d, nq, features) & VIRTIO_STATUS_FEATURES_OK);
	vdrv_driver_ok(d);
}

uint16_t vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_buf *b, unsigned n)
{
	uint8_t *desc = d->ram + ring_off(q);
	uint16_t *avail = (uint16_t *)(d->ram + ring_off(q) + 0x1000);
	uint16_t head = d->next_desc[q];

	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % VDRV_QSIZE);
		uint64_t gpa = VDRV_MEM_GPA + b[i].off;
		uint16_t flags = (uint16_t)((b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		uint16_t next = (uint16_t)((idx + 1) % VDRV_QSIZE);

		memcpy(desc + 16 * idx, &gpa, 8);
		memcpy(desc + 16 * idx + 8, &b[i].len, 4);
		memcpy(desc + 16 * idx + 12, &flags, 2);
		memcpy(desc + 16 * idx + 14, &next, 2);
	}
	d->next_desc[q] = (uint16_t)((head + n) % VDRV_QSIZE);
	avail[2 + d->avail_idx[q] % VDRV_QSIZE] = head;
	d->avail_idx[q]++;
	__atomic_store_n(&avail[1], d->avail_idx[q], __ATOMIC_RELEASE);
	return head;
}

void vdrv_kick(struct vdrv *d, unsigned q)
{
	vdrv_wr(d, 0x50, q);
}

bool vdrv_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	uint8_t *used = d->ram + ring_off(q) + 0x2000;
	uint16_t idx = __atomic_load_n((uint16_t *)(used + 2), __ATOMIC_ACQUIRE);
	unsigned slot = d->used_seen[q] % VDRV_QSIZE;

	if (idx == d->used_seen[q])
		return false;
	memcpy(id, used + 4 + 8 * slot, 4);
	memcpy(len, used + 8 + 8 * slot, 4);
	d->used_seen[q]++;
	return true;
}

void *vdrv_ptr(struct vdrv *d, uint64_t off)
{
	return d->ram + off;
}

void vdrv_pump(struct event_loop *l, int ms)
{
	struct epoll_event evs[16];
	int n;

	for (int wait = ms;; wait = 0) {
		n = epoll_wait(l->epfd, evs, 16, wait);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct event_handler *h = evs[i].data.ptr;

			if (h->fd >= 0)
				h->cb(h->ctx, h->fd, evs[i].events);
		}
	}
}

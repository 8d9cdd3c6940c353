/* vdrv.c — the test guest driver: rings, chains and notifications through the MMIO bus. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <cmocka.h>

#include "vdrv.h"

#define RING_BYTES 0x4000 /* per queue: descriptors, then available at +0x1000, used at +0x2000 */
#define AVAIL_OFF  0x1000
#define USED_OFF   0x2000

static uint64_t ring_off(unsigned q)
{
	return (uint64_t)q * RING_BYTES;
}

static void on_irq(void *ctx, unsigned source)
{
	(void)source;
	((struct vdrv *)ctx)->irqs++;
}

static int call_fd_of(void *ctx, unsigned q)
{
	(void)q;
	return ((struct vdrv *)ctx)->call_fd;
}

void vdrv_init(struct vdrv *d)
{
	vdrv_init_mem(d, VDRV_MEM_LEN);
}

void vdrv_init_mem(struct vdrv *d, uint64_t mem_len)
{
	assert_true(mem_len > VDRV_DATA_OFF && mem_len % 4096 == 0);
	memset(d, 0, sizeof(*d));
	d->mem_len = mem_len;
	d->heap = VDRV_DATA_OFF;
	d->qsize = VDRV_QSIZE;
	d->call_fd = -1;
	d->ram = aligned_alloc(4096, mem_len);
	assert_non_null(d->ram);
	memset(d->ram, 0, mem_len);
	guest_mem_init(&d->mem, -1);
	assert_int_equal(guest_mem_add_host(&d->mem, VDRV_MEM_GPA, mem_len, d->ram, GUEST_MEM_RAM),
			 0);
	io_bus_init(&d->bus, "mmio", 0);
}

void vdrv_attach(struct vdrv *d, struct virtio_dev *vd)
{
	struct virtio_mmio_config cfg = {.base = VDRV_BASE, .gsi = 5, .vm_fd = -1, .mmio = &d->bus};

	assert_int_equal(virtio_mmio_create(vd, &cfg, &d->t), 0);
	vd->raise_irq = on_irq;
	vd->queue_call_fd = call_fd_of;
	vd->irq_ctx = d;
}

void vdrv_detach(struct vdrv *d)
{
	virtio_mmio_destroy(d->t);
	d->t = NULL;
	io_bus_destroy(&d->bus); /* buses are not shrunk: a fresh one frees VDRV_BASE */
	io_bus_init(&d->bus, "mmio", 0);
}

void vdrv_fini(struct vdrv *d)
{
	virtio_mmio_destroy(d->t);
	d->t = NULL;
	io_bus_destroy(&d->bus);
	guest_mem_destroy(&d->mem);
	free(d->ram);
}

uint32_t vdrv_rd(struct vdrv *d, uint64_t reg)
{
	return (uint32_t)io_bus_read(&d->bus, VDRV_BASE + reg, 4);
}

void vdrv_wr(struct vdrv *d, uint64_t reg, uint32_t v)
{
	io_bus_write(&d->bus, VDRV_BASE + reg, v, 4);
}

uint32_t vdrv_cfg_rd(struct vdrv *d, uint32_t off, unsigned width)
{
	return (uint32_t)io_bus_read(&d->bus, VDRV_BASE + VDRV_REG_CONFIG + off, width);
}

void vdrv_cfg_wr(struct vdrv *d, uint32_t off, uint32_t v, unsigned width)
{
	io_bus_write(&d->bus, VDRV_BASE + VDRV_REG_CONFIG + off, v, width);
}

uint32_t vdrv_status(struct vdrv *d)
{
	return vdrv_rd(d, VDRV_REG_STATUS);
}

void vdrv_set_status(struct vdrv *d, uint32_t status)
{
	vdrv_wr(d, VDRV_REG_STATUS, status);
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t v;

	vdrv_wr(d, VDRV_REG_DEVICE_FEATURES_SEL, 0);
	v = vdrv_rd(d, VDRV_REG_DEVICE_FEATURES);
	vdrv_wr(d, VDRV_REG_DEVICE_FEATURES_SEL, 1);
	return v | (uint64_t)vdrv_rd(d, VDRV_REG_DEVICE_FEATURES) << 32;
}

void vdrv_write_features(struct vdrv *d, uint64_t features)
{
	vdrv_wr(d, VDRV_REG_DRIVER_FEATURES_SEL, 0);
	vdrv_wr(d, VDRV_REG_DRIVER_FEATURES, (uint32_t)features);
	vdrv_wr(d, VDRV_REG_DRIVER_FEATURES_SEL, 1);
	vdrv_wr(d, VDRV_REG_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

uint32_t vdrv_set_features(struct vdrv *d, uint64_t features)
{
	vdrv_set_status(d, 0);
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_write_features(d, features);
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			       VIRTIO_STATUS_FEATURES_OK);
	return vdrv_status(d);
}

uint32_t vdrv_queue_max(struct vdrv *d, unsigned q)
{
	vdrv_wr(d, VDRV_REG_QUEUE_SEL, q);
	return vdrv_rd(d, VDRV_REG_QUEUE_NUM_MAX);
}

/* Write a 64-bit guest address to a LOW/HIGH register pair. */
static void wr64(struct vdrv *d, uint64_t low_reg, uint64_t v)
{
	vdrv_wr(d, low_reg, (uint32_t)v);
	vdrv_wr(d, low_reg + 4, (uint32_t)(v >> 32));
}

uint32_t vdrv_queue_setup(struct vdrv *d, unsigned q, unsigned size)
{
	uint64_t desc = VDRV_MEM_GPA + ring_off(q);

	assert_true(q < VDRV_MAX_QUEUES && size <= VDRV_QSIZE_MAX);
	memset(d->ram + ring_off(q), 0, RING_BYTES);
	d->q[q] = (struct vdrv_queue){.size = (uint16_t)size};
	vdrv_wr(d, VDRV_REG_QUEUE_SEL, q);
	vdrv_wr(d, VDRV_REG_QUEUE_NUM, size);
	wr64(d, VDRV_REG_QUEUE_DESC_LOW, desc);
	wr64(d, VDRV_REG_QUEUE_DRIVER_LOW, desc + AVAIL_OFF);
	wr64(d, VDRV_REG_QUEUE_DEVICE_LOW, desc + USED_OFF);
	vdrv_wr(d, VDRV_REG_QUEUE_READY, 1);
	return vdrv_rd(d, VDRV_REG_QUEUE_READY);
}

uint32_t vdrv_negotiate(struct vdrv *d, unsigned nq, uint64_t features)
{
	(void)vdrv_set_features(d, features | (1ULL << VIRTIO_F_VERSION_1));
	for (unsigned q = 0; q < nq; q++)
		assert_int_equal(vdrv_queue_setup(d, q, d->qsize), 1);
	return vdrv_status(d);
}

void vdrv_driver_ok(struct vdrv *d)
{
	vdrv_set_status(d, vdrv_status(d) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vdrv_status(d) & VIRTIO_STATUS_DRIVER_OK);
}

void vdrv_start(struct vdrv *d, unsigned nq, uint64_t features)
{
	assert_true(vdrv_negotiate(d, nq, features) & VIRTIO_STATUS_FEATURES_OK);
	vdrv_driver_ok(d);
}

uint64_t vdrv_alloc(struct vdrv *d, uint32_t len)
{
	uint64_t off = d->heap;

	d->heap = (d->heap + len + 15) & ~15ULL;
	assert_true(d->heap <= d->mem_len);
	memset(d->ram + off, 0, len);
	return off;
}

void *vdrv_ptr(struct vdrv *d, uint64_t off)
{
	return d->ram + off;
}

/* Fill the descriptor at desc. */
static void write_desc(uint8_t *desc, uint64_t gpa, uint32_t len, uint16_t flags, uint16_t next)
{
	memcpy(desc, &gpa, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	memcpy(desc + 14, &next, 2);
}

/* Fill descriptor idx of queue q. */
static void put_desc(struct vdrv *d, unsigned q, uint16_t idx, const struct vdrv_buf *b,
		     uint16_t flags, uint16_t next)
{
	write_desc(d->ram + ring_off(q) + 16 * idx, VDRV_MEM_GPA + b->off, b->len, flags, next);
}

/* Put head on queue q's available ring and publish it. */
static void publish(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t *avail = (uint16_t *)(d->ram + ring_off(q) + AVAIL_OFF);

	avail[2 + vq->avail_idx % vq->size] = head;
	vq->avail_idx++;
	__atomic_store_n(&avail[1], vq->avail_idx, __ATOMIC_RELEASE);
}

uint16_t vdrv_add(struct vdrv *d, unsigned q, const struct vdrv_buf *b, unsigned n)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t head = vq->next_desc;

	assert_true(q < VDRV_MAX_QUEUES && vq->size > 0);
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % vq->size);
		uint16_t flags = (uint16_t)((b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		put_desc(d, q, idx, &b[i], flags, (uint16_t)((idx + 1) % vq->size));
	}
	vq->next_desc = (uint16_t)((head + n) % vq->size);
	publish(d, q, head);
	return head;
}

uint16_t vdrv_add_indirect(struct vdrv *d, unsigned q, uint64_t table_off, const struct vdrv_buf *b,
			   unsigned n)
{
	struct vdrv_queue *vq = &d->q[q];
	uint16_t head = vq->next_desc;
	struct vdrv_buf table = {table_off, 16 * n, false};

	assert_true(q < VDRV_MAX_QUEUES && vq->size > 0 && n > 0);
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((b[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

		write_desc(d->ram + table_off + 16 * i, VDRV_MEM_GPA + b[i].off, b[i].len, flags,
			   (uint16_t)(i + 1));
	}
	put_desc(d, q, head, &table, VIRTQ_DESC_F_INDIRECT, 0);
	vq->next_desc = (uint16_t)((head + 1) % vq->size);
	publish(d, q, head);
	return head;
}

void vdrv_kick(struct vdrv *d, unsigned q)
{
	vdrv_wr(d, VDRV_REG_QUEUE_NOTIFY, q);
}

uint16_t vdrv_used_idx(struct vdrv *d, unsigned q)
{
	return __atomic_load_n((uint16_t *)(d->ram + ring_off(q) + USED_OFF + 2), __ATOMIC_ACQUIRE);
}

void vdrv_used_elem(struct vdrv *d, unsigned q, uint16_t i, uint32_t *id, uint32_t *len)
{
	const uint8_t *e = d->ram + ring_off(q) + USED_OFF + 4 + 8 * (i % d->q[q].size);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

bool vdrv_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	if (vdrv_used_idx(d, q) == d->q[q].used_seen)
		return false;
	vdrv_used_elem(d, q, d->q[q].used_seen, id, len);
	d->q[q].used_seen++;
	return true;
}

void vdrv_pump(struct event_loop *l, int ms)
{
	for (int wait = ms; event_loop_dispatch(l, wait) > 0; wait = 0)
		;
}

/* virtio.c — the kit's polling virtio-mmio driver: discovery, initialisation, split queues. */
#include "virtio.h"

static uint64_t alloc_next = KIT_VIRTIO_GPA;

void *virtio_alloc(size_t size, size_t align)
{
	uint64_t p = (alloc_next + align - 1) & ~(uint64_t)(align - 1);

	if (p + size > KIT_VIRTIO_END)
		guest_fail("virtio_alloc: %lu bytes do not fit below %#x", (unsigned long)size,
			   KIT_VIRTIO_END);
	alloc_next = p + size;
	memset((void *)p, 0, size);
	return (void *)p;
}

/* ---- discovery ------------------------------------------------------------------------------ */

/* Parse an unsigned number (decimal, or hex after 0x) with an optional K/M/G suffix. */
static const char *parse_num(const char *s, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;
	const char *start;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (start = s;; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		v = v * base + d;
	}
	if (s == start)
		return NULL;
	if (*s == 'K' || *s == 'k')
		v <<= 10, s++;
	else if (*s == 'M' || *s == 'm')
		v <<= 20, s++;
	else if (*s == 'G' || *s == 'g')
		v <<= 30, s++;
	*out = v;
	return s;
}

/* Parse "SIZE@BASE:IRQ" (the value of one token); false if malformed. */
static bool parse_token(const char *s, uint64_t *base, uint32_t *irq)
{
	uint64_t size, b, i;

	s = parse_num(s, &size);
	if (!s || *s++ != '@')
		return false;
	s = parse_num(s, &b);
	if (!s || *s++ != ':')
		return false;
	s = parse_num(s, &i);
	if (!s || (*s && *s != ' ') || size < 0x100)
		return false;
	*base = b;
	*irq = (uint32_t)i;
	return true;
}

bool vdev_find(uint32_t id, unsigned nth, struct vdev *d)
{
	static const char key[] = "virtio_mmio.device=";
	const char *s = guest_cmdline();

	while (*s) {
		const char *w = s;
		uint64_t base;
		uint32_t irq;

		while (*s && *s != ' ')
			s++;
		while (*s == ' ')
			s++;
		if (strncmp(w, key, sizeof(key) - 1) != 0 ||
		    !parse_token(w + sizeof(key) - 1, &base, &irq))
			continue;
		if (mmio_read32(base + VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE ||
		    mmio_read32(base + VIRTIO_MMIO_DEVICE_ID) != id)
			continue;
		if (mmio_read32(base + VIRTIO_MMIO_VERSION) != 2) {
			guest_printf("virtio-mmio at %#lx: version %u, not 2: skipped\n", base,
				     mmio_read32(base + VIRTIO_MMIO_VERSION));
			continue;
		}
		if (nth-- > 0)
			continue;
		*d = (struct vdev){.base = base, .irq = irq, .id = id};
		vdev_write(d, VIRTIO_MMIO_DEVICE_FEAT_SEL, 1);
		d->offered = (uint64_t)vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
		vdev_write(d, VIRTIO_MMIO_DEVICE_FEAT_SEL, 0);
		d->offered |= vdev_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
		return true;
	}
	return false;
}

/* ---- initialisation ------------------------------------------------------------------------- */

void vdev_reset(struct vdev *d)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * VQ_WAIT_MS;

	vdev_write(d, VIRTIO_MMIO_STATUS, 0);
	while (vdev_status(d) != 0)
		if (guest_rdtsc() > end)
			guest_fail("virtio %#lx: status %#x after reset", d->base, vdev_status(d));
}

uint64_t vdev_init(struct vdev *d, uint64_t want)
{
	uint64_t f = want & d->offered;

	if (!(d->offered & VIRTIO_BIT(VIRTIO_F_VERSION_1)))
		guest_fail("virtio %#lx: VERSION_1 not offered (features %#lx)", d->base,
			   d->offered);
	/* The driver polls, but devices may interrupt anyway (a config change, NEEDS_RESET): an
	 * unprogrammed 8259 would deliver the line as an exception vector (IRQ 5 -> vector 5). */
	pic_mask_all();
	vdev_reset(d);
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	vdev_write(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 0);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEAT_SEL, 1);
	vdev_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	vdev_write(d, VIRTIO_MMIO_STATUS,
		   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(vdev_status(d) & VIRTIO_STATUS_FEATURES_OK))
		guest_fail("virtio %#lx: device refused features %#lx (status %#x)", d->base, f,
			   vdev_status(d));
	d->features = f;
	return f;
}

void vdev_driver_ok(struct vdev *d)
{
	vdev_write(d, VIRTIO_MMIO_STATUS, vdev_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

uint8_t vdev_config8(const struct vdev *d, unsigned off)
{
	return mmio_read8(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint32_t vdev_config32(const struct vdev *d, unsigned off)
{
	return mmio_read32(d->base + VIRTIO_MMIO_CONFIG + off);
}

uint64_t vdev_config64(const struct vdev *d, unsigned off)
{
	uint32_t gen, lo, hi;

	do {
		gen = vdev_read(d, VIRTIO_MMIO_CONFIG_GENERATION);
		lo = vdev_config32(d, off);
		hi = vdev_config32(d, off + 4);
	} while (gen != vdev_read(d, VIRTIO_MMIO_CONFIG_GENERATION));
	return (uint64_t)hi << 32 | lo;
}

/* ---- queues --------------------------------------------------------------------------------- */

static void write64(const struct vdev *d, unsigned low_reg, uint64_t v)
{
	vdev_write(d, low_reg, (uint32_t)v);
	vdev_write(d, low_reg + 4, (uint32_t)(v >> 32));
}

void vq_setup(struct vdev *d, struct vq *q, unsigned index, uint16_t size)
{
	uint32_t max;

	vdev_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (vdev_read(d, VIRTIO_MMIO_QUEUE_READY) != 0)
		guest_fail("virtio %#lx: queue %u already ready", d->base, index);
	max = vdev_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
	if (max == 0)
		guest_fail("virtio %#lx: queue %u does not exist", d->base, index);
	if (size > max)
		size = (uint16_t)max;
	if (size > VQ_MAX_SIZE)
		size = VQ_MAX_SIZE;
	memset(q, 0, sizeof(*q));
	q->dev = d;
	q->index = index;
	q->size = size;
	q->desc = virtio_alloc(16u * size, 16);
	q->avail = virtio_alloc(6 + 2u * size, 2);
	q->used = virtio_alloc(6 + 8u * size, 4);
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->free_head = 0;
	q->nr_free = size;
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT; /* the driver polls */
	vdev_write(d, VIRTIO_MMIO_QUEUE_NUM, size);
	write64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint64_t)q->desc);
	write64(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint64_t)q->avail);
	write64(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint64_t)q->used);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the rings are in memory before QueueReady */
	vdev_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	if (vdev_read(d, VIRTIO_MMIO_QUEUE_READY) != 1)
		guest_fail("virtio %#lx: queue %u not ready (status %#x)", d->base, index,
			   vdev_status(d));
}

/* Take n descriptors off the free list, fill them from b as a chain; return the head. */
static int fill_chain(struct vq *q, const struct vbuf *b, unsigned n)
{
	uint16_t head = q->free_head, i = head, last = head;

	if (n == 0 || n > q->nr_free)
		return -1;
	for (unsigned k = 0; k < n; k++) {
		struct virtq_desc *dd = &q->desc[i];

		dd->addr = (uint64_t)b[k].addr;
		dd->len = b[k].len;
		dd->flags =
		    (b[k].write ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		last = i;
		i = dd->next; /* the free list's link doubles as the chain's */
	}
	q->desc[last].next = 0;
	q->free_head = i;
	q->nr_free = (uint16_t)(q->nr_free - n);
	q->chain_len[head] = (uint16_t)n;
	return head;
}

void vq_publish(struct vq *q, uint16_t head, uint16_t nr)
{
	q->chain_len[head] = nr;
	q->avail->ring[q->avail_idx % q->size] = head;
	/* The descriptors and the ring entry are visible before the index that publishes them. */
	__atomic_store_n(&q->avail->idx, (uint16_t)(q->avail_idx + 1), __ATOMIC_RELEASE);
	q->avail_idx++;
}

int vq_add(struct vq *q, const struct vbuf *b, unsigned n)
{
	int head = fill_chain(q, b, n);

	if (head >= 0)
		vq_publish(q, (uint16_t)head, (uint16_t)n);
	return head;
}

int vq_add_indirect(struct vq *q, const struct vbuf *b, unsigned n, struct virtq_desc *table)
{
	struct vbuf one = {table, (uint32_t)(16 * n), false};
	int head;

	for (unsigned k = 0; k < n; k++)
		table[k] =
		    (struct virtq_desc){.addr = (uint64_t)b[k].addr,
					.len = b[k].len,
					.flags = (uint16_t)((b[k].write ? VIRTQ_DESC_F_WRITE : 0) |
							    (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					.next = (uint16_t)(k + 1 < n ? k + 1 : 0)};
	head = fill_chain(q, &one, 1);
	if (head < 0)
		return -1;
	q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
	vq_publish(q, (uint16_t)head, 1);
	return head;
}

void vq_kick(struct vq *q)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vdev_write(q->dev, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

bool vq_poll(struct vq *q, uint32_t *id, uint32_t *len)
{
	struct virtq_used_elem e;
	uint16_t n;

	if (__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == q->last_used)
		return false;
	e = ((volatile struct virtq_used_elem *)q->used->ring)[q->last_used % q->size];
	q->last_used++;
	if (e.id >= q->size)
		guest_fail("virtio %#lx queue %u: used id %u out of range", q->dev->base, q->index,
			   e.id);
	/* Return the chain's descriptors to the free list: walk it, link its tail to the list. */
	n = q->chain_len[e.id];
	if (n) {
		uint16_t tail = (uint16_t)e.id;

		for (uint16_t k = 1; k < n; k++)
			tail = q->desc[tail].next;
		q->desc[tail].next = q->free_head;
		q->free_head = (uint16_t)e.id;
		q->nr_free = (uint16_t)(q->nr_free + n);
		q->chain_len[e.id] = 0;
	}
	*id = e.id;
	if (len)
		*len = e.len;
	return true;
}

uint32_t vq_wait_at(struct vq *q, uint32_t *len, unsigned ms, const char *file, int line)
{
	uint64_t end = guest_rdtsc() + guest_tsc_per_ms() * ms;
	uint32_t id, l;

	while (!vq_poll(q, &id, &l)) {
		if (guest_rdtsc() > end)
			guest_fail(
			    "%s:%d: virtio %#lx queue %u: nothing used after %u ms (status %#x)",
			    file, line, q->dev->base, q->index, ms, vdev_status(q->dev));
		guest_pause();
	}
	if (len)
		*len = l;
	return id;
}

uint32_t vq_run_at(struct vq *q, const struct vbuf *b, unsigned n, const char *file, int line)
{
	int head = vq_add(q, b, n);
	uint32_t len, id;

	if (head < 0)
		guest_fail("%s:%d: virtio queue %u: no room for %u descriptors", file, line,
			   q->index, n);
	vq_kick(q);
	id = vq_wait_at(q, &len, VQ_WAIT_MS, file, line);
	if (id != (uint32_t)head)
		guest_fail("%s:%d: used id %u, expected %d", file, line, id, head);
	return len;
}

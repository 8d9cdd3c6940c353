/* testdev.c — scratch registers that echo writes back on reads (little-endian bytes). */
#include <string.h>

#include "devices/testdev.h"

void testdev_init(struct testdev *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

static uint64_t rd(struct testdev *t, uint8_t *mem, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	pthread_mutex_lock(&t->lock);
	memcpy(&v, mem + off, size);
	t->accesses++;
	pthread_mutex_unlock(&t->lock);
	return v;
}

static void wr(struct testdev *t, uint8_t *mem, uint64_t off, uint64_t v, unsigned size)
{
	pthread_mutex_lock(&t->lock);
	memcpy(mem + off, &v, size);
	t->accesses++;
	pthread_mutex_unlock(&t->lock);
}

static uint64_t pio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *t = dev;

	return rd(t, t->pio, off, size);
}

static void pio_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
	struct testdev *t = dev;

	wr(t, t->pio, off, v, size);
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *t = dev;

	return rd(t, t->mmio, off, size);
}

static void mmio_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
	struct testdev *t = dev;

	wr(t, t->mmio, off, v, size);
}

const struct io_ops testdev_pio_ops = {
    .name = "testdev-pio",
    .read = pio_read,
    .write = pio_write,
    .min_size = 1,
    .max_size = 4,
};

const struct io_ops testdev_mmio_ops = {
    .name = "testdev-mmio",
    .read = mmio_read,
    .write = mmio_write,
    .min_size = 1,
    .max_size = 8,
};

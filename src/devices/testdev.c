/* testdev.c — scratch registers that echo writes back on reads (little-endian bytes). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util/log.h"

#include "devices/testdev.h"

void testdev_init(struct testdev *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
}

/* Whether [off, off + size) lies inside a window of len bytes (size is at most 8). */
static bool in_window(size_t len, uint64_t off, unsigned size)
{
	return size <= sizeof(uint64_t) && off <= len && size <= len - off;
}

/* Read size bytes at off of the window mem[len]; all ones if that leaves the window. */
static uint64_t rd(struct testdev *t, const uint8_t *mem, size_t len, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	if (!in_window(len, off, size))
		return UINT64_MAX;
	pthread_mutex_lock(&t->lock);
	memcpy(&v, mem + off, size);
	t->accesses++;
	pthread_mutex_unlock(&t->lock);
	return v;
}

/* Write the low size bytes of v at off of the window mem[len]; nothing if that leaves it. */
static void wr(struct testdev *t, uint8_t *mem, size_t len, uint64_t off, uint64_t v, unsigned size)
{
	if (!in_window(len, off, size))
		return;
	pthread_mutex_lock(&t->lock);
	memcpy(mem + off, &v, size);
	t->accesses++;
	pthread_mutex_unlock(&t->lock);
}

static uint64_t pio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *t = dev;

	return rd(t, t->pio, sizeof(t->pio), off, size);
}

static void pio_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
	struct testdev *t = dev;

	wr(t, t->pio, sizeof(t->pio), off, v, size);
}

static uint64_t mmio_read(void *dev, uint64_t off, unsigned size)
{
	struct testdev *t = dev;

	return rd(t, t->mmio, sizeof(t->mmio), off, size);
}

static void mmio_write(void *dev, uint64_t off, uint64_t v, unsigned size)
{
	struct testdev *t = dev;

	wr(t, t->mmio, sizeof(t->mmio), off, v, size);
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

void testdev_save(struct testdev *t, struct state_buf *b)
{
	pthread_mutex_lock(&t->lock);
	state_put_bytes(b, t->pio, sizeof(t->pio));
	state_put_bytes(b, t->mmio, sizeof(t->mmio));
	pthread_mutex_unlock(&t->lock);
}

int testdev_load(struct testdev *t, struct state_buf *b, uint16_t version)
{
	uint8_t pio[sizeof(t->pio)], mmio[sizeof(t->mmio)];

	state_get_bytes(b, pio, sizeof(pio));
	state_get_bytes(b, mmio, sizeof(mmio));
	if (version != TESTDEV_STATE_VERSION || state_section_done(b)) {
		state_refuse(b, "testdev: unknown version or section length wrong");
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	memcpy(t->pio, pio, sizeof(t->pio));
	memcpy(t->mmio, mmio, sizeof(t->mmio));
	pthread_mutex_unlock(&t->lock);
	return 0;
}

void testdev_reset(struct testdev *t)
{
	pthread_mutex_lock(&t->lock);
	memset(t->pio, 0, sizeof(t->pio));
	memset(t->mmio, 0, sizeof(t->mmio));
	pthread_mutex_unlock(&t->lock);
}

void testdev_destroy(struct testdev *t)
{
	pthread_mutex_destroy(&t->lock);
}

/* --- the board entry --- */

static int entry_save(void *obj, struct state_buf *b)
{
	testdev_save(obj, b);
	return 0;
}

static int entry_load(void *obj, struct state_buf *b, uint16_t version)
{
	return testdev_load(obj, b, version);
}

static void entry_reset(void *obj)
{
	testdev_reset(obj);
}

static void entry_destroy(void *obj)
{
	testdev_destroy(obj);
}

const struct device_ops testdev_device_ops = {
    .kind = "testdev",
    .save = entry_save,
    .load = entry_load,
    .reset = entry_reset,
    .destroy = entry_destroy,
};

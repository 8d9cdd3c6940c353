/* fuzz_virtio.c — the virtio device fuzzers' snapshot round trip (fuzz_virtio.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_virtio.h"

/* Save the transport ("t") and the device ("d") sections into w: 0 or -errno. */
static int save_both(struct virtio_dev *vd, void *dev, fuzz_dev_save_fn save, struct state_buf *w)
{
	int ret;

	pthread_mutex_lock(&vd->lock);
	ret = state_begin_section(w, "t", 1);
	virtio_dev_save(vd, w);
	ret = ret ? ret : state_end_section(w);
	pthread_mutex_unlock(&vd->lock);
	ret = ret ? ret : state_begin_section(w, "d", 1);
	ret = ret ? ret : save(dev, w);
	return ret ? ret : state_end_section(w);
}

void fuzz_virtio_round_trip(struct virtio_dev *vd, void *dev, fuzz_dev_save_fn save,
			    fuzz_dev_load_fn load, uint16_t version)
{
	struct state_buf w = {0}, r;
	uint16_t v;
	int ret = save_both(vd, dev, save, &w);

	if (ret == 0 && state_open(&r, w.data, w.len) == 0) {
		pthread_mutex_lock(&vd->lock);
		virtio_dev_reset(vd);
		ret = state_section(&r, "t", &v) || virtio_dev_load(vd, &r, "virtio.0");
		pthread_mutex_unlock(&vd->lock);
		if (ret == 0 && state_section(&r, "d", &v) == 0 && load(dev, &r, version) == 0) {
			pthread_mutex_lock(&vd->lock);
			virtio_dev_restored(vd);
			pthread_mutex_unlock(&vd->lock);
		}
	}
	state_buf_free(&w);
}

uint8_t *fuzz_region(struct guest_mem *mem, uint64_t gpa, size_t len, unsigned flags)
{
	uint8_t *p = aligned_alloc(4096, len);

	if (!p || guest_mem_add_host(mem, gpa, len, p, flags) < 0)
		abort();
	memset(p, 0, len);
	return p;
}

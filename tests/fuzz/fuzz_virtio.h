/* fuzz_virtio.h — what the virtio device fuzzers share: a snapshot round trip of a device. */
#ifndef KILN_FUZZ_VIRTIO_H
#define KILN_FUZZ_VIRTIO_H

#include <stdint.h>

#include "core/guest_mem.h"
#include "state/state.h"
#include "virtio/virtio_dev.h"

/* A device's own state section: save (0 or -errno) and load at `version` (0 or -errno). */
typedef int (*fuzz_dev_save_fn)(void *dev, struct state_buf *b);
typedef int (*fuzz_dev_load_fn)(void *dev, struct state_buf *b, uint16_t version);

/*
 * What a snapshot and restore do to a device, in place: save vd's transport state and the
 * device's (save), reset the transport, load both back (load at `version`) and, if the device
 * took its section, let it take up work again (virtio_dev_restored). A refused save or load
 * leaves the device as the reset left it. Takes vd->lock where the transport calls need it.
 */
void fuzz_virtio_round_trip(struct virtio_dev *vd, void *dev, fuzz_dev_save_fn save,
			    fuzz_dev_load_fn load, uint16_t version);

/* Back [gpa, gpa + len) of mem with zeroed, page-aligned host memory of `flags` (GUEST_MEM_RAM,
 * GUEST_MEM_READONLY): the fuzzers' guest memory, made once. Aborts on failure (setup). Returns
 * the host address. */
uint8_t *fuzz_region(struct guest_mem *mem, uint64_t gpa, size_t len, unsigned flags);

#endif

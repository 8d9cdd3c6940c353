/* devices.h — the virtio devices a board offers. */
#ifndef KILN_VIRTIO_DEVICES_H
#define KILN_VIRTIO_DEVICES_H

#include "util/compiler.h"

struct vm;

/*
 * Create every virtio device vm->cfg asks for and attach each to the board (board_add_virtio),
 * kind by kind in the order of the registration table in devices.c (disks first, so a root disk
 * is /dev/vda; then the network interfaces, the console, the entropy device). 0, -EINVAL for a
 * configuration error (logged by the device), or another -errno (logged here). Main thread, during
 * board_create.
 */
int virtio_devices_add(struct vm *vm) MUST_CHECK;

#endif

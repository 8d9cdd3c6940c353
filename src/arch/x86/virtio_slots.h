/* virtio_slots.h — the board's virtio-mmio slots: each device gets the next slot's window and
 * GSI, a transport, an ACPI description and a kernel command-line token. */
#ifndef KILN_ARCH_X86_VIRTIO_SLOTS_H
#define KILN_ARCH_X86_VIRTIO_SLOTS_H

#include <stddef.h>

#include "arch/x86/acpi.h"
#include "arch/x86/layout.h"
#include "util/compiler.h"
#include "virtio/virtio_mmio.h"

struct vm;

/* A device plugged into a slot, and how to free it once its transport is gone. */
struct virtio_slot {
	struct virtio_dev *vd;
	struct virtio_mmio *transport;
	void (*destroy)(void *dev);
	void *dev;
};

struct virtio_slots {
	struct virtio_slot slot[LAYOUT_VIRTIO_SLOTS];
	struct acpi_virtio_dev acpi[LAYOUT_VIRTIO_SLOTS]; /* what the DSDT describes */
	unsigned nr;
};

/*
 * Put vd in the next free slot: create its virtio-mmio transport on vm's MMIO bus with
 * ioeventfds on vm's loop and an irqfd on the slot's GSI. On success the slots own the device:
 * destroy(dev) is called by virtio_slots_destroy. Returns 0, -ENOSPC (all slots used), or the
 * transport's -errno (the device is then not owned: the caller frees it).
 */
int virtio_slots_add(struct virtio_slots *s, struct vm *vm, struct virtio_dev *vd,
		     void (*destroy)(void *dev), void *dev) MUST_CHECK;

/*
 * Write `cmdline` (may be NULL) followed by one "virtio_mmio.device=..." token per device into
 * out. Returns 0 or -ENOSPC if out (len bytes) is too small.
 */
int virtio_slots_cmdline(const struct virtio_slots *s, const char *cmdline, char *out,
			 size_t len) MUST_CHECK;

/* Tear down every transport, then every device. */
void virtio_slots_destroy(struct virtio_slots *s);

#endif

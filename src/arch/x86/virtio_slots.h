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

/* The slots in use: their transports (owned by vm->devices, like the devices behind them). */
struct virtio_slots {
	struct virtio_mmio *transport[LAYOUT_VIRTIO_SLOTS];
	struct acpi_virtio_dev acpi[LAYOUT_VIRTIO_SLOTS]; /* what the DSDT describes */
	unsigned nr;
};

/*
 * Put vd in the next free slot: create its virtio-mmio transport on vm's MMIO bus with
 * ioeventfds on vm's loop and an irqfd on the slot's GSI, and register in vm->devices the
 * transport (section "virtio.N") and then the device (virtio_device_ops, section
 * "virtio.N.<state_name>"), both under counter name `name`. On success the device list owns both.
 * Returns 0, -ENOSPC (all slots used), or -errno (nothing registered: the caller still owns the
 * device).
 */
int virtio_slots_add(struct virtio_slots *s, struct vm *vm, struct virtio_dev *vd,
		     const char *name) MUST_CHECK;

/*
 * Write `cmdline` (may be NULL) followed by one "virtio_mmio.device=..." token per device into
 * out. Returns 0 or -ENOSPC if out (len bytes) is too small.
 */
int virtio_slots_cmdline(const struct virtio_slots *s, const char *cmdline, char *out,
			 size_t len) MUST_CHECK;

#endif

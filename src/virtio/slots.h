/* slots.h — the board's virtio-mmio slots: each device gets the next slot's register window and
 * interrupt, a transport, and an entry the board's firmware description (x86 ACPI, arm64 device
 * tree) and kernel command line are written from. The board gives the layout; the rest is the
 * same on every architecture. */
#ifndef KILN_VIRTIO_SLOTS_H
#define KILN_VIRTIO_SLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"
#include "virtio/virtio_mmio.h"

struct vm;

#define VIRTIO_SLOTS_MAX   32	    /* room in struct virtio_slots; a board may offer fewer */
#define VIRTIO_SLOT_WINDOW 0x200ULL /* the register window inside a slot */

/* One slot in use: its register window and interrupt (x86: IOAPIC pin; arm64: SPI number), both
 * edge-triggered, active high. */
struct virtio_slot {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
};

/* The board's slots: the layout it set (virtio_slots_init) and the slots in use, whose
 * transports vm->devices owns like the devices behind them. */
struct virtio_slots {
	uint64_t base, stride; /* slot n's window starts at base + n * stride */
	const uint32_t *gsis;  /* slot n's interrupt */
	unsigned max;	       /* slots the board offers (at most VIRTIO_SLOTS_MAX) */
	struct virtio_mmio *transport[VIRTIO_SLOTS_MAX];
	struct virtio_slot slot[VIRTIO_SLOTS_MAX];
	unsigned nr;
};

/* Set the layout: `max` slots (clamped to VIRTIO_SLOTS_MAX) from `base`, `stride` apart, with
 * interrupts gsis[0..max) (kept by pointer). No slot in use. */
void virtio_slots_init(struct virtio_slots *s, uint64_t base, uint64_t stride, const uint32_t *gsis,
		       unsigned max);

/*
 * Put vd in the next free slot: create its virtio-mmio transport on vm's MMIO bus with
 * ioeventfds on vm's loop and an irqfd on the slot's interrupt, and register in vm->devices the
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

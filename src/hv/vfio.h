/* vfio.h — the host side of PCI passthrough: one VFIO container per VM (the type 1 IOMMU that
 * maps all guest RAM for DMA at IOVA = guest-physical), the IOMMU groups its devices belong to
 * (each added to KVM's VFIO device, so KVM knows DMA may be non-coherent), and the device file
 * descriptors with their regions and interrupts. Thin, named wrappers around the VFIO ioctls
 * (linux/vfio.h): no Debian library wraps them for a VMM. Every function returns 0 or -errno and
 * logs nothing: the caller names the device in its one-line error. */
#ifndef KILN_HV_VFIO_H
#define KILN_HV_VFIO_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/vfio.h>

#include "util/compiler.h"

#define VFIO_MAX_GROUPS 8

struct vfio_group {
	int id; /* /dev/vfio/<id> */
	int fd;
};

struct vfio_container {
	int fd;		/* /dev/vfio/vfio; -1 when not open */
	int kvm_dev_fd; /* KVM_DEV_TYPE_VFIO; -1 until the first group */
	int vm_fd;
	bool iommu_set; /* VFIO_SET_IOMMU done (after the first group joined) */
	unsigned nr_groups;
	struct vfio_group groups[VFIO_MAX_GROUPS];
};

/* One region of a device (VFIO_DEVICE_GET_REGION_INFO) and where it may be mmapped. */
#define VFIO_MAX_AREAS 4
struct vfio_region {
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint64_t size, offset;
	unsigned nr_areas; /* mmappable [start, start + len) pieces, region-relative */
	uint64_t area_start[VFIO_MAX_AREAS], area_len[VFIO_MAX_AREAS];
};

struct vfio_device {
	int fd;
	char name[16];					   /* "DDDD:BB:DD.F" */
	uint32_t flags;					   /* VFIO_DEVICE_FLAGS_* */
	struct vfio_region bar[VFIO_PCI_ROM_REGION_INDEX]; /* BAR 0-5 */
	struct vfio_region config;
	uint32_t irq_count[VFIO_PCI_NUM_IRQS]; /* vectors per VFIO_PCI_*_IRQ_INDEX, 0: none */
	const char *failed; /* vfio_device_open's failing request, for the message */
};

/* Open /dev/vfio/vfio (path overridable with KILN_VFIO_DEV for tests), check the API version and
 * that a type 1 v2 IOMMU is available. Nothing is mapped yet. 0, -ENOENT (no VFIO), -ENOTSUP. */
int vfio_container_open(struct vfio_container *c, int vm_fd) MUST_CHECK;

/* Close every device's group, the KVM VFIO device and the container (mappings go with it). */
void vfio_container_close(struct vfio_container *c);

/* The IOMMU group of the PCI device at sysfs directory `sysfs` (its iommu_group link), in *id.
 * 0, -ENOENT (no such device, or no IOMMU group: the host has no IOMMU) or -EINVAL. */
int vfio_group_of(const char *sysfs, int *id) MUST_CHECK;

/* Join group `id` to the container (once: a second device of the group shares it), setting the
 * IOMMU type after the first and adding the group to KVM's VFIO device. -EBUSY: the group is not
 * viable (a device of it is bound to a host driver); -EPERM: the IOMMU refused (no interrupt
 * remapping); -ENOSPC: too many groups. *fd: the group's. */
int vfio_group_join(struct vfio_container *c, int id, int *fd) MUST_CHECK;

/* Map [iova, iova + size) to host memory `host` for the devices' DMA, readable and writable
 * (page-aligned; the pages are pinned). Unmap removes that range again. */
int vfio_dma_map(struct vfio_container *c, uint64_t iova, uint64_t size, void *host) MUST_CHECK;
int vfio_dma_unmap(struct vfio_container *c, uint64_t iova, uint64_t size) MUST_CHECK;

/* Open device `name` ("0000:00:03.0") of group fd, read its info, its BAR and configuration
 * regions (with their mmappable areas) and its interrupt counts. A PCI device only (-ENOTSUP
 * otherwise). The device is reset when it supports it. */
int vfio_device_open(int group_fd, const char *name, struct vfio_device *d) MUST_CHECK;
void vfio_device_close(struct vfio_device *d);

/* Reset the device (VFIO_DEVICE_RESET). -ENOTSUP when it cannot be reset. */
int vfio_device_reset(const struct vfio_device *d) MUST_CHECK;

/* Read or write len bytes at off of a region (offset from the region's info). 0, -EIO (short) or
 * -errno. */
int vfio_region_read(const struct vfio_device *d, const struct vfio_region *r, uint64_t off,
		     void *buf, unsigned len) MUST_CHECK;
int vfio_region_write(const struct vfio_device *d, const struct vfio_region *r, uint64_t off,
		      const void *buf, unsigned len) MUST_CHECK;

/* VFIO_DEVICE_SET_IRQS with ACTION_TRIGGER: vectors [start, start + count) of irq index `index`
 * signal eventfds fds[] (-1: that vector signals nothing). count 0 disables the index. */
int vfio_irqs_set(const struct vfio_device *d, unsigned index, unsigned start, unsigned count,
		  const int *fds) MUST_CHECK;

/* INTx: an eventfd that unmasks the line when signalled (KVM's resample fd), or -1 for none. */
int vfio_intx_unmask_fd(const struct vfio_device *d, int fd) MUST_CHECK;

#endif

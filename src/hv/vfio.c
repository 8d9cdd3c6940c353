/* vfio.c — VFIO container, groups and devices (see vfio.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "hv/vfio.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

int vfio_container_open(struct vfio_container *c, int vm_fd)
{
	const char *path = getenv("KILN_VFIO_DEV");
	int ret;

	memset(c, 0, sizeof(*c));
	c->kvm_dev_fd = -1;
	c->vm_fd = vm_fd;
	c->fd = open(path && *path ? path : "/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = xioctl(c->fd, VFIO_GET_API_VERSION, NULL);
	if (ret >= 0 && ret != VFIO_API_VERSION)
		ret = -ENOTSUP;
	if (ret >= 0 &&
	    xioctl(c->fd, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU) <= 0)
		ret = -ENOTSUP;
	if (ret < 0) {
		close(c->fd);
		c->fd = -1;
		return ret;
	}
	return 0;
}

void vfio_container_close(struct vfio_container *c)
{
	for (unsigned i = 0; i < c->nr_groups; i++)
		close(c->groups[i].fd);
	c->nr_groups = 0;
	if (c->kvm_dev_fd >= 0)
		close(c->kvm_dev_fd);
	if (c->fd >= 0)
		close(c->fd);
	c->kvm_dev_fd = c->fd = -1;
}

int vfio_group_of(const char *sysfs, int *id)
{
	char link[PATH_MAX], target[PATH_MAX];
	const char *slash;
	ssize_t n;
	char *end;
	long v;

	if (snprintf(link, sizeof(link), "%s/iommu_group", sysfs) >= (int)sizeof(link))
		return -EINVAL;
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	slash = strrchr(target, '/');
	errno = 0;
	v = strtol(slash ? slash + 1 : target, &end, 10);
	if (errno || *end || v < 0 || v > INT_MAX)
		return -EINVAL;
	*id = (int)v;
	return 0;
}

/* Tell KVM about group fd (KVM_DEV_TYPE_VFIO, created with the first group). */
static int kvm_add_group(struct vfio_container *c, int fd)
{
	struct kvm_create_device cd = {.type = KVM_DEV_TYPE_VFIO};
	int32_t gfd = fd;
	struct kvm_device_attr a = {.group = KVM_DEV_VFIO_GROUP,
				    .attr = KVM_DEV_VFIO_GROUP_ADD,
				    .addr = (uint64_t)(uintptr_t)&gfd};
	int ret;

	if (c->vm_fd < 0)
		return 0;
	if (c->kvm_dev_fd < 0) {
		ret = xioctl(c->vm_fd, KVM_CREATE_DEVICE, &cd);
		if (ret < 0)
			return ret;
		c->kvm_dev_fd = (int)cd.fd;
	}
	return xioctl(c->kvm_dev_fd, KVM_SET_DEVICE_ATTR, &a);
}

/* Open /dev/vfio/<id>, check it is viable and put it in the container. */
static int group_open(struct vfio_container *c, int id, int *out)
{
	struct vfio_group_status st = {.argsz = sizeof(st)};
	char path[32];
	int fd, ret;

	snprintf(path, sizeof(path), "/dev/vfio/%d", id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = xioctl(fd, VFIO_GROUP_GET_STATUS, &st);
	if (ret == 0 && !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		ret = -EBUSY;
	if (ret == 0)
		ret = xioctl(fd, VFIO_GROUP_SET_CONTAINER, &c->fd);
	if (ret == 0 && !c->iommu_set) {
		ret = xioctl(c->fd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
		c->iommu_set = ret == 0;
	}
	if (ret == 0)
		ret = kvm_add_group(c, fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int vfio_group_join(struct vfio_container *c, int id, int *fd)
{
	int ret;

	for (unsigned i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].id == id) {
			*fd = c->groups[i].fd;
			return 0;
		}
	}
	if (c->nr_groups == VFIO_MAX_GROUPS)
		return -ENOSPC;
	ret = group_open(c, id, fd);
	if (ret == 0)
		c->groups[c->nr_groups++] = (struct vfio_group){.id = id, .fd = *fd};
	return ret;
}

int vfio_dma_map(struct vfio_container *c, uint64_t iova, uint64_t size, void *host)
{
	struct vfio_iommu_type1_dma_map m = {.argsz = sizeof(m),
					     .flags =
						 VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
					     .vaddr = (uint64_t)(uintptr_t)host,
					     .iova = iova,
					     .size = size};

	int ret = xioctl(c->fd, VFIO_IOMMU_MAP_DMA, &m);

	return ret < 0 ? ret : 0;
}

int vfio_dma_unmap(struct vfio_container *c, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {.argsz = sizeof(u), .iova = iova, .size = size};

	int ret = xioctl(c->fd, VFIO_IOMMU_UNMAP_DMA, &u);

	return ret < 0 ? ret : 0;
}

/* The sparse-mmap capability of a region's info (in buf, info->argsz bytes), if any, into r's
 * areas; otherwise the whole region when it may be mmapped. */
static void region_areas(const struct vfio_region_info *info, const uint8_t *buf,
			 struct vfio_region *r)
{
	uint32_t next = (info->flags & VFIO_REGION_INFO_FLAG_CAPS) ? info->cap_offset : 0;

	r->nr_areas = 0;
	if (!(info->flags & VFIO_REGION_INFO_FLAG_MMAP))
		return;
	for (unsigned hops = 0; next && hops < 16; hops++) {
		const struct vfio_info_cap_header *h;

		if (next < sizeof(*info) || next > info->argsz - sizeof(*h))
			break;
		h = (const void *)(buf + next);
		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
		    next <= info->argsz - sizeof(struct vfio_region_info_cap_sparse_mmap)) {
			const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;
			uint32_t n = s->nr_areas;

			if ((info->argsz - next - sizeof(*s)) / sizeof(s->areas[0]) < n)
				break;
			for (uint32_t i = 0; i < n && r->nr_areas < VFIO_MAX_AREAS; i++) {
				r->area_start[r->nr_areas] = s->areas[i].offset;
				r->area_len[r->nr_areas++] = s->areas[i].size;
			}
			return;
		}
		next = h->next;
	}
	r->area_start[0] = 0;
	r->area_len[0] = r->size;
	r->nr_areas = 1;
}

static int region_get(struct vfio_device *d, unsigned index, struct vfio_region *r)
{
	uint8_t buf[1024] __attribute__((aligned(8)));
	struct vfio_region_info *info = (void *)buf;
	int ret;

	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(buf);
	info->index = index;
	ret = xioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, info);
	if (ret < 0) {
		d->failed = "VFIO_DEVICE_GET_REGION_INFO";
		return ret;
	}
	if (info->argsz > sizeof(buf)) /* more capabilities than we read: no mmap areas */
		info->flags &= ~VFIO_REGION_INFO_FLAG_CAPS;
	*r = (struct vfio_region){.flags = info->flags, .size = info->size, .offset = info->offset};
	if (info->argsz > sizeof(buf))
		info->argsz = sizeof(buf);
	region_areas(info, buf, r);
	return 0;
}

static int device_info(struct vfio_device *d)
{
	struct vfio_device_info info = {.argsz = sizeof(info)};
	int ret = xioctl(d->fd, VFIO_DEVICE_GET_INFO, &info);

	d->failed = "VFIO_DEVICE_GET_INFO";
	if (ret < 0)
		return ret;
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) ||
	    info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return -ENOTSUP;
	d->flags = info.flags;
	for (unsigned i = 0; i < VFIO_PCI_ROM_REGION_INDEX && ret == 0; i++)
		ret = region_get(d, VFIO_PCI_BAR0_REGION_INDEX + i, &d->bar[i]);
	if (ret == 0)
		ret = region_get(d, VFIO_PCI_CONFIG_REGION_INDEX, &d->config);
	/* INTx, MSI and MSI-X (the error and request indices are not kiln's: vfio-pci answers
	 * EINVAL for the error index of a conventional PCI device); one it refuses has no vectors
	 */
	for (unsigned i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX && i < info.num_irqs && ret == 0; i++) {
		struct vfio_irq_info irq = {.argsz = sizeof(irq), .index = i};

		if (xioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0)
			d->irq_count[i] = irq.count;
	}
	return ret < 0 ? ret : 0;
}

int vfio_device_open(int group_fd, const char *name, struct vfio_device *d)
{
	int ret;

	memset(d, 0, sizeof(*d));
	if (strlen(name) >= sizeof(d->name))
		return -EINVAL;
	strcpy(d->name, name);
	d->failed = "VFIO_GROUP_GET_DEVICE_FD";
	d->fd = xioctl(group_fd, VFIO_GROUP_GET_DEVICE_FD, (void *)name);
	if (d->fd < 0)
		return d->fd;
	ret = device_info(d);
	if (ret == 0 && (d->flags & VFIO_DEVICE_FLAGS_RESET)) {
		d->failed = "VFIO_DEVICE_RESET";
		ret = vfio_device_reset(d);
	}
	if (ret == 0)
		d->failed = NULL;
	if (ret < 0) {
		close(d->fd);
		d->fd = -1;
	}
	return ret;
}

void vfio_device_close(struct vfio_device *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

int vfio_device_reset(const struct vfio_device *d)
{
	int ret;

	if (!(d->flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	ret = xioctl(d->fd, VFIO_DEVICE_RESET, NULL);
	return ret < 0 ? ret : 0;
}

static int region_span_ok(const struct vfio_region *r, uint64_t off, unsigned len)
{
	return off <= r->size && r->size - off >= len;
}

int vfio_region_read(const struct vfio_device *d, const struct vfio_region *r, uint64_t off,
		     void *buf, unsigned len)
{
	ssize_t n;

	if (!region_span_ok(r, off, len) || !(r->flags & VFIO_REGION_INFO_FLAG_READ))
		return -EINVAL;
	n = pread(d->fd, buf, len, (off_t)(r->offset + off));
	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

int vfio_region_write(const struct vfio_device *d, const struct vfio_region *r, uint64_t off,
		      const void *buf, unsigned len)
{
	ssize_t n;

	if (!region_span_ok(r, off, len) || !(r->flags & VFIO_REGION_INFO_FLAG_WRITE))
		return -EINVAL;
	n = pwrite(d->fd, buf, len, (off_t)(r->offset + off));
	return n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
}

int vfio_irqs_set(const struct vfio_device *d, unsigned index, unsigned start, unsigned count,
		  const int *fds)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + 64 * sizeof(int32_t)] __attribute__((aligned(8)));
	struct vfio_irq_set *s = (void *)buf;
	int32_t *data = (int32_t *)(void *)s->data;

	if (count > 64)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	s->argsz = (uint32_t)(sizeof(*s) + count * sizeof(int32_t));
	s->flags = (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE) |
		   VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = index;
	s->start = start;
	s->count = count;
	for (unsigned i = 0; i < count; i++)
		data[i] = fds[i];
	int ret = xioctl(d->fd, VFIO_DEVICE_SET_IRQS, s);

	return ret < 0 ? ret : 0;
}

int vfio_intx_unmask_fd(const struct vfio_device *d, int fd)
{
	uint8_t buf[sizeof(struct vfio_irq_set) + sizeof(int32_t)] __attribute__((aligned(8)));
	struct vfio_irq_set *s = (void *)buf;
	int32_t v = fd;

	memset(buf, 0, sizeof(buf));
	s->argsz = sizeof(buf);
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK;
	s->index = VFIO_PCI_INTX_IRQ_INDEX;
	s->start = 0;
	s->count = 1;
	memcpy(s->data, &v, sizeof(v));
	int ret = xioctl(d->fd, VFIO_DEVICE_SET_IRQS, s);

	return ret < 0 ? ret : 0;
}

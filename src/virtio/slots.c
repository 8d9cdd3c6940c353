/* slots.c — assign virtio devices to the board's virtio-mmio slots and interrupts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/vm.h"
#include "virtio/slots.h"

void virtio_slots_init(struct virtio_slots *s, uint64_t base, uint64_t stride, const uint32_t *gsis,
		       unsigned max)
{
	*s = (struct virtio_slots){.base = base,
				   .stride = stride,
				   .gsis = gsis,
				   .max = max < VIRTIO_SLOTS_MAX ? max : VIRTIO_SLOTS_MAX};
}

/* Register the transport of slot n, then its device; both or neither. */
static int join(struct vm *vm, unsigned n, struct virtio_mmio *t, struct virtio_dev *vd,
		const char *name)
{
	char section[STATE_NAME_MAX];
	int ret = device_list_reserve(&vm->devices, 2);

	snprintf(section, sizeof(section), "virtio.%u", n);
	ret = ret ? ret
		  : device_list_add_ops(&vm->devices, &virtio_mmio_device_ops, t, name, section,
					VIRTIO_MMIO_STATE_VERSION, VIRTIO_MMIO_STATE_VERSION);
	if (ret < 0)
		return ret;
	if (vd->ops->state_name)
		snprintf(section, sizeof(section), "virtio.%u.%s", n, vd->ops->state_name);
	ret = device_list_add_ops(&vm->devices, &virtio_device_ops, vd, name,
				  vd->ops->state_name ? section : NULL, vd->ops->state_version,
				  vd->ops->state_min_version);
	if (ret < 0) /* cannot happen after the reservation, but never leave half a pair */
		vm->devices.nr--;
	return ret;
}

int virtio_slots_add(struct virtio_slots *s, struct vm *vm, struct virtio_dev *vd, const char *name)
{
	char section[STATE_NAME_MAX];
	struct virtio_mmio_config cfg = {
	    .base = s->base + s->nr * s->stride,
	    .gsi = s->nr < s->max ? s->gsis[s->nr] : 0,
	    .vm_fd = vm->fd,
	    .mmio = &vm->mmio,
	    .loop = vm->loop,
	    .name = section,
	};
	struct virtio_mmio *t;
	int ret;

	if (s->nr >= s->max)
		return -ENOSPC;
	snprintf(section, sizeof(section), "virtio.%u", s->nr);
	ret = virtio_mmio_create(vd, &cfg, &t);
	if (ret < 0)
		return ret;
	ret = join(vm, s->nr, t, vd, name);
	if (ret < 0) {
		virtio_mmio_destroy(t);
		return ret;
	}
	s->transport[s->nr] = t;
	s->slot[s->nr] =
	    (struct virtio_slot){.base = cfg.base, .size = VIRTIO_SLOT_WINDOW, .gsi = cfg.gsi};
	s->nr++;
	return 0;
}

int virtio_slots_cmdline(const struct virtio_slots *s, const char *cmdline, char *out, size_t len)
{
	size_t used;

	if (len == 0 || (size_t)snprintf(out, len, "%s", cmdline ? cmdline : "") >= len)
		return -ENOSPC;
	used = strlen(out);
	for (unsigned i = 0; i < s->nr; i++) {
		char token[96];

		if (virtio_mmio_cmdline(s->transport[i], token, sizeof(token)) < 0)
			return -ENOSPC;
		if ((size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", token) >=
		    len - used)
			return -ENOSPC;
		used = strlen(out);
	}
	return 0;
}

/* virtio_slots.c — assign virtio devices to the board's fixed MMIO slots and GSIs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/virtio_slots.h"
#include "core/vm.h"

static const uint8_t slot_gsi[LAYOUT_VIRTIO_SLOTS] = LAYOUT_VIRTIO_GSIS;

int virtio_slots_add(struct virtio_slots *s, struct vm *vm, struct virtio_dev *vd,
		     void (*destroy)(void *dev), void *dev)
{
	struct virtio_mmio_config cfg = {
	    .base = LAYOUT_VIRTIO_MMIO_GPA + s->nr * LAYOUT_VIRTIO_SLOT_SIZE,
	    .gsi = s->nr < LAYOUT_VIRTIO_SLOTS ? slot_gsi[s->nr] : 0,
	    .vm_fd = vm->fd,
	    .mmio = &vm->mmio,
	    .loop = vm->loop,
	};
	struct virtio_slot *slot = &s->slot[s->nr];
	int ret;

	if (s->nr == LAYOUT_VIRTIO_SLOTS)
		return -ENOSPC;
	ret = virtio_mmio_create(vd, &cfg, &slot->transport);
	if (ret < 0)
		return ret;
	slot->vd = vd;
	slot->destroy = destroy;
	slot->dev = dev;
	s->acpi[s->nr] = (struct acpi_virtio_dev){
	    .base = cfg.base, .size = LAYOUT_VIRTIO_MMIO_SIZE, .gsi = cfg.gsi};
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

		if (virtio_mmio_cmdline(s->slot[i].transport, token, sizeof(token)) < 0)
			return -ENOSPC;
		if ((size_t)snprintf(out + used, len - used, "%s%s", used ? " " : "", token) >=
		    len - used)
			return -ENOSPC;
		used = strlen(out);
	}
	return 0;
}

void virtio_slots_destroy(struct virtio_slots *s)
{
	for (unsigned i = 0; i < s->nr; i++)
		virtio_mmio_destroy(s->slot[i].transport);
	for (unsigned i = 0; i < s->nr; i++)
		if (s->slot[i].destroy)
			s->slot[i].destroy(s->slot[i].dev);
	s->nr = 0;
}

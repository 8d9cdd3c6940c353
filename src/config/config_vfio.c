/* config_vfio.c — the PCI side of the configuration: passthrough devices (`kiln run --vfio
 * PATH`, the JSON document's kiln_vfio and PUT /kiln/vfio/{id}: the path is only checked for its
 * shape here; whether it names a device bound to vfio-pci is found when the VM is built) and the
 * virtio devices' own transports (`--virtio-transport NAME=T`, kiln_virtio_transport_of). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static bool path_ok(const char *path)
{
	size_t n = strlen(path);

	return n > 1 && n < CONFIG_VFIO_PATH_MAX && path[0] == '/';
}

int config_vfio_put(struct vm_config *c, const char *id, const char *path)
{
	int found = -1;

	if (!config_iface_id_ok(id) || strlen(id) > CONFIG_IFACE_ID_MAX || !path_ok(path))
		return -EINVAL;
	for (unsigned i = 0; i < c->nr_vfio; i++) {
		if (strcmp(c->vfio[i].id, id) == 0)
			found = (int)i;
		else if (strcmp(c->vfio[i].path, path) == 0)
			return -EEXIST;
	}
	if (found < 0 && c->nr_vfio == CONFIG_MAX_VFIO)
		return -ENOSPC;
	if (found < 0)
		found = (int)c->nr_vfio++;
	snprintf(c->vfio[found].id, sizeof(c->vfio[found].id), "%s", id);
	snprintf(c->vfio[found].path, sizeof(c->vfio[found].path), "%s", path);
	return 0;
}

int config_parse_vfio(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	char id[16];
	int ret;

	snprintf(id, sizeof(id), "vfio%u", c->nr_vfio);
	ret = config_vfio_put(c, id, v);
	if (ret == -EEXIST)
		return config_fail(err, errlen, "--vfio %s: given twice", v);
	if (ret == -ENOSPC)
		return config_fail(err, errlen, "--vfio: at most %d devices", CONFIG_MAX_VFIO);
	if (ret < 0)
		return config_fail(err, errlen,
				   "--vfio: '%s' is not an absolute path of at most %d bytes (the "
				   "device's /sys/bus/pci/devices/DDDD:BB:DD.F)",
				   v, CONFIG_VFIO_PATH_MAX - 1);
	return 0;
}

const char *config_check_vfio(const struct vm_config *c)
{
	if (c->nr_vfio && c->balloon.enabled)
		return "a passthrough device (--vfio) and a balloon cannot go together: the IOMMU "
		       "pins all guest RAM for the device's DMA, so the balloon could not take any "
		       "back";
	return NULL;
}

/* prefix followed by 1-2 digits, nothing else. */
static bool indexed(const char *name, const char *prefix)
{
	size_t n = strlen(prefix), d = strlen(name);

	if (strncmp(name, prefix, n) != 0 || d <= n || d > n + 2)
		return false;
	for (const char *p = name + n; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

bool config_virtio_name_ok(const char *name)
{
	static const char *const fixed[] = {"entropy", "balloon", "vsock", "virtio_console", NULL};

	for (const char *const *f = fixed; *f; f++)
		if (strcmp(name, *f) == 0)
			return true;
	return indexed(name, "block") || indexed(name, "net") || indexed(name, "fs");
}

int config_transport_of_put(struct vm_config *c, const char *name, enum virtio_transport t)
{
	unsigned i;

	if (!config_virtio_name_ok(name) ||
	    (t != VIRTIO_TRANSPORT_MMIO && t != VIRTIO_TRANSPORT_PCI))
		return -EINVAL;
	for (i = 0; i < c->nr_transport_of && strcmp(c->transport_of[i].name, name) != 0; i++)
		;
	if (i == CONFIG_MAX_TRANSPORT_OF)
		return -ENOSPC;
	if (i == c->nr_transport_of)
		c->nr_transport_of++;
	snprintf(c->transport_of[i].name, sizeof(c->transport_of[i].name), "%s", name);
	c->transport_of[i].transport = t;
	return 0;
}

enum virtio_transport config_virtio_transport_of(const struct vm_config *c, const char *name)
{
	for (unsigned i = 0; i < c->nr_transport_of; i++)
		if (strcmp(c->transport_of[i].name, name) == 0)
			return c->transport_of[i].transport;
	return c->virtio_transport;
}

bool config_virtio_pci_used(const struct vm_config *c)
{
	if (c->virtio_transport == VIRTIO_TRANSPORT_PCI)
		return true;
	for (unsigned i = 0; i < c->nr_transport_of; i++)
		if (c->transport_of[i].transport == VIRTIO_TRANSPORT_PCI)
			return true;
	return false;
}

/* config_vfio.c — passthrough devices in the configuration: `kiln run --vfio PATH`, the JSON
 * document's kiln_vfio and PUT /kiln/vfio/{id} all come here. The path is only checked for its
 * shape here; whether it names a device bound to vfio-pci is found when the VM is built. */
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

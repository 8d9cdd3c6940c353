/* config_vsock.c — the vsock device's configuration: kiln run's --vsock and the checks the JSON
 * converter shares. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

const char *config_check_vsock(const struct vsock_config *v)
{
	static char why[64];

	if (v->guest_cid < 3) {
		snprintf(why, sizeof(why), "guest_cid %u is below 3 (0-2 are reserved)",
			 v->guest_cid);
		return why;
	}
	if (!v->uds_path[0])
		return "uds_path is empty";
	if (strlen(v->uds_path) > CONFIG_UDS_PATH_MAX)
		return "uds_path is longer than 107 bytes (a Unix socket path)";
	return NULL;
}

/* One KEY=VALUE of --vsock into obj (a struct vsock_config). */
static int vsock_opt(void *obj, const struct config_kv *kv, char *err, size_t errlen)
{
	struct vsock_config *v = obj;
	uint64_t cid;

	if (strcmp(kv->key, "cid") == 0) {
		if (config_parse_u64(kv->val, &cid) < 0 || cid < 3 || cid > UINT32_MAX)
			return config_fail(err, errlen,
					   "--vsock: cid '%s' is not a number from 3 to %u",
					   kv->val, UINT32_MAX);
		v->guest_cid = (uint32_t)cid;
	} else if (strcmp(kv->key, "uds") == 0) {
		if (kv->vlen > CONFIG_UDS_PATH_MAX)
			return config_fail(
			    err, errlen,
			    "--vsock: uds path is longer than 107 bytes (a Unix socket path)");
		memcpy(v->uds_path, kv->val, kv->vlen + 1);
	} else {
		return config_fail(err, errlen,
				   "--vsock: '%s': the options are cid= and uds=", kv->key);
	}
	return 0;
}

int config_parse_vsock(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct vsock_config vs = {.set = true};
	int ret;

	if (c->vsock.set)
		return config_fail(err, errlen, "--vsock: given twice (one vsock device per VM)");
	ret = config_each_kv("--vsock", v, vsock_opt, &vs, err, errlen);
	if (ret < 0)
		return ret;
	if (!vs.guest_cid)
		return config_fail(err, errlen, "--vsock: '%s' names no cid=N", v);
	if (!vs.uds_path[0])
		return config_fail(err, errlen, "--vsock: '%s' names no uds=PATH", v);
	c->vsock = vs;
	return 0;
}

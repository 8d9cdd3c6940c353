/* config_vsock.c — the vsock device's configuration: kiln run's --vsock and the checks the JSON
 * converter shares. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) PRINTF(3, 4);

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

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

/* One KEY=VALUE of --vsock (len bytes at opt) into v. */
static int vsock_opt(struct vsock_config *v, const char *opt, size_t len, char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', len);
	size_t klen = eq ? (size_t)(eq - opt) : len, vlen = eq ? len - klen - 1 : 0;
	char val[CONFIG_UDS_PATH_MAX + 2];
	uint64_t cid;

	if (!eq || vlen == 0)
		return fail(err, errlen, "--vsock: '%.*s' is not KEY=VALUE", (int)len, opt);
	if (klen == 3 && strncmp(opt, "cid", 3) == 0) {
		if (vlen >= sizeof(val) ||
		    (memcpy(val, eq + 1, vlen), val[vlen] = 0, config_parse_u64(val, &cid) < 0) ||
		    cid < 3 || cid > UINT32_MAX)
			return fail(err, errlen, "--vsock: cid '%.*s' is not a number from 3 to %u",
				    (int)vlen, eq + 1, UINT32_MAX);
		v->guest_cid = (uint32_t)cid;
	} else if (klen == 3 && strncmp(opt, "uds", 3) == 0) {
		if (vlen > CONFIG_UDS_PATH_MAX)
			return fail(
			    err, errlen,
			    "--vsock: uds path is longer than 107 bytes (a Unix socket path)");
		memcpy(v->uds_path, eq + 1, vlen);
		v->uds_path[vlen] = 0;
	} else {
		return fail(err, errlen,
			    "--vsock: '%.*s': the options are cid= and uds=", (int)klen, opt);
	}
	return 0;
}

int config_parse_vsock(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct vsock_config vs = {.set = true};
	const char *p = v;

	if (c->vsock.set)
		return fail(err, errlen, "--vsock: given twice (one vsock device per VM)");
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int ret = vsock_opt(&vs, p, len, err, errlen);

		if (ret < 0)
			return ret;
		p += len + (end ? 1 : 0);
	}
	if (!vs.guest_cid)
		return fail(err, errlen, "--vsock: '%s' names no cid=N", v);
	if (!vs.uds_path[0])
		return fail(err, errlen, "--vsock: '%s' names no uds=PATH", v);
	c->vsock = vs;
	return 0;
}

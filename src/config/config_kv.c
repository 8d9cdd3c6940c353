/* config_kv.c — what the device flags of `kiln run` share: a comma-separated KEY=VALUE value
 * (--net, --vsock, --balloon, --fs) split into items, and the one-line error they return. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

int config_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The item of len bytes at item into kv: 0, or -EINVAL if it is not KEY=VALUE that fits. */
static int split_item(const char *item, size_t len, struct config_kv *kv)
{
	const char *eq = memchr(item, '=', len);
	size_t klen = eq ? (size_t)(eq - item) : len;

	if (!eq || klen == 0 || klen >= sizeof(kv->key))
		return -EINVAL;
	kv->vlen = len - klen - 1;
	if (kv->vlen == 0 || kv->vlen >= sizeof(kv->val))
		return -EINVAL;
	memcpy(kv->key, item, klen);
	kv->key[klen] = 0;
	memcpy(kv->val, eq + 1, kv->vlen);
	kv->val[kv->vlen] = 0;
	return 0;
}

int config_each_kv(const char *flag, const char *v, config_kv_fn fn, void *obj, char *err,
		   size_t errlen)
{
	struct config_kv kv;
	const char *p = v;
	int ret;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (split_item(p, len, &kv) < 0)
			return config_fail(err, errlen, "%s: '%.*s' is not KEY=VALUE", flag,
					   (int)len, p);
		ret = fn(obj, &kv, err, errlen);
		if (ret < 0)
			return ret;
		p += len + (end ? 1 : 0);
	}
	return 0;
}

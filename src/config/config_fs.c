/* config_fs.c — virtio-fs devices in the configuration: tags, the one-backend-per-device rule
 * (a running backend's socket, or a directory kiln serves with its own virtiofsd) and
 * `kiln run --fs`. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

bool config_fs_tag_ok(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > CONFIG_FS_TAG_MAX)
		return false;
	for (const char *p = tag; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == ',')
			return false;
	return true;
}

int config_fs_find(const struct vm_config *c, const char *tag)
{
	for (unsigned i = 0; i < c->nr_fs; i++)
		if (strcmp(c->fs[i].tag, tag) == 0)
			return (int)i;
	return -1;
}

int config_fs_put(struct vm_config *c, const struct fs_config *f)
{
	int old;

	if (!config_fs_tag_ok(f->tag) || !f->socket[0] == !f->dir[0])
		return -EINVAL;
	old = config_fs_find(c, f->tag);
	if (old >= 0) {
		c->fs[old] = *f;
		return 0;
	}
	if (c->nr_fs == CONFIG_MAX_FS)
		return -ENOSPC;
	c->fs[c->nr_fs++] = *f;
	return 0;
}

/* ---- kiln run --fs tag=NAME,socket=PATH | tag=NAME,dir=PATH ---- */

static PRINTF(3, 4) int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Copy value v (vlen bytes) into dst (size bytes) for key `key`, once. */
static int fs_value(char *dst, size_t size, const char *key, const char *v, size_t vlen, char *err,
		    size_t errlen)
{
	if (dst[0])
		return fail(err, errlen, "--fs: %s= given twice", key);
	if (vlen == 0 || vlen >= size)
		return fail(err, errlen, "--fs: %s= must be 1-%zu bytes", key, size - 1);
	memcpy(dst, v, vlen);
	dst[vlen] = 0;
	return 0;
}

/* One KEY=VALUE of --fs (olen bytes at opt) into f. */
static int fs_opt(struct fs_config *f, const char *opt, size_t olen, char *err, size_t errlen)
{
	const char *eq = memchr(opt, '=', olen);
	size_t klen = eq ? (size_t)(eq - opt) : olen, vlen = eq ? olen - klen - 1 : 0;

	if (!eq)
		return fail(err, errlen, "--fs: '%.*s' is not KEY=VALUE", (int)olen, opt);
	if (klen == 3 && strncmp(opt, "tag", 3) == 0)
		return fs_value(f->tag, sizeof(f->tag), "tag", eq + 1, vlen, err, errlen);
	if (klen == 6 && strncmp(opt, "socket", 6) == 0)
		return fs_value(f->socket, sizeof(f->socket), "socket", eq + 1, vlen, err, errlen);
	if (klen == 3 && strncmp(opt, "dir", 3) == 0)
		return fs_value(f->dir, sizeof(f->dir), "dir", eq + 1, vlen, err, errlen);
	return fail(err, errlen, "--fs: '%.*s': the options are tag=, socket= and dir=", (int)klen,
		    opt);
}

int config_parse_fs(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct fs_config f = {{0}};
	const char *p = v;
	int ret;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		ret = fs_opt(&f, p, len, err, errlen);
		if (ret < 0)
			return ret;
		p += len + (end ? 1 : 0);
	}
	if (!config_fs_tag_ok(f.tag))
		return fail(err, errlen,
			    "--fs: tag '%s' is not 1-%d printable characters without ' ' or ','",
			    f.tag, CONFIG_FS_TAG_MAX);
	if (!f.socket[0] == !f.dir[0])
		return fail(err, errlen, "--fs: give exactly one of socket=PATH and dir=PATH");
	if (config_fs_find(c, f.tag) >= 0)
		return fail(err, errlen, "--fs: tag '%s' is used twice", f.tag);
	if (config_fs_put(c, &f) < 0)
		return fail(err, errlen, "--fs: at most %d devices", CONFIG_MAX_FS);
	return 0;
}

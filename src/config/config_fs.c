/* config_fs.c — virtio-fs devices in the configuration: tags, the one-backend-per-device rule
 * (a running backend's socket, or a directory kiln serves with its own virtiofsd) and
 * `kiln run --fs`. */
#include <errno.h>
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

/* Copy value v (vlen bytes) into dst (size bytes) for key `key`, once. */
static int fs_value(char *dst, size_t size, const char *key, const char *v, size_t vlen, char *err,
		    size_t errlen)
{
	if (dst[0])
		return config_fail(err, errlen, "--fs: %s= given twice", key);
	if (vlen == 0 || vlen >= size)
		return config_fail(err, errlen, "--fs: %s= must be 1-%zu bytes", key, size - 1);
	memcpy(dst, v, vlen);
	dst[vlen] = 0;
	return 0;
}

/* One KEY=VALUE of --fs into obj (a struct fs_config). */
static int fs_opt(void *obj, const struct config_kv *kv, char *err, size_t errlen)
{
	struct fs_config *f = obj;

	if (strcmp(kv->key, "tag") == 0)
		return fs_value(f->tag, sizeof(f->tag), "tag", kv->val, kv->vlen, err, errlen);
	if (strcmp(kv->key, "socket") == 0)
		return fs_value(f->socket, sizeof(f->socket), "socket", kv->val, kv->vlen, err,
				errlen);
	if (strcmp(kv->key, "dir") == 0)
		return fs_value(f->dir, sizeof(f->dir), "dir", kv->val, kv->vlen, err, errlen);
	return config_fail(err, errlen,
			   "--fs: '%s': the options are tag=, socket= and dir=", kv->key);
}

int config_parse_fs(struct vm_config *c, const char *v, char *err, size_t errlen)
{
	struct fs_config f = {{0}};
	int ret = config_each_kv("--fs", v, fs_opt, &f, err, errlen);

	if (ret < 0)
		return ret;
	if (!config_fs_tag_ok(f.tag))
		return config_fail(
		    err, errlen,
		    "--fs: tag '%s' is not 1-%d printable characters without ' ' or ','", f.tag,
		    CONFIG_FS_TAG_MAX);
	if (!f.socket[0] == !f.dir[0])
		return config_fail(err, errlen,
				   "--fs: give exactly one of socket=PATH and dir=PATH");
	if (config_fs_find(c, f.tag) >= 0)
		return config_fail(err, errlen, "--fs: tag '%s' is used twice", f.tag);
	if (config_fs_put(c, &f) < 0)
		return config_fail(err, errlen, "--fs: at most %d devices", CONFIG_MAX_FS);
	return 0;
}

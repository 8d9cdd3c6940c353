/* mmds.c — the MMDS data store. jansson holds the document; the merge patch (RFC 7396) is written
 * here because jansson's json_object_update_recursive neither removes keys on null nor replaces
 * non-object targets, which Firecracker's PATCH /mmds does. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmds/mmds.h"

#define MMDS_FILE_MAX (16u << 20) /* --metadata files larger than this are refused unread */

void mmds_init(struct mmds *m, size_t limit)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->limit = limit;
	mmds_tokens_init(&m->tokens, NULL);
}

void mmds_destroy(struct mmds *m)
{
	json_decref(m->data);
	m->data = NULL;
	pthread_mutex_destroy(&m->lock);
}

void mmds_lock(struct mmds *m)
{
	pthread_mutex_lock(&m->lock);
}

void mmds_unlock(struct mmds *m)
{
	pthread_mutex_unlock(&m->lock);
}

size_t mmds_json_size(const json_t *value)
{
	/* json_dumpb with no buffer returns the length it would write. */
	return json_dumpb(value, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

int mmds_put(struct mmds *m, json_t *value)
{
	json_t *old;

	m->created = true;
	if (mmds_json_size(value) > m->limit)
		return -EFBIG;
	json_incref(value);
	mmds_lock(m);
	old = m->data;
	m->data = value;
	mmds_unlock(m);
	json_decref(old);
	return 0;
}

/* RFC 7396 MergePatch(target, patch): the new value, or NULL on ENOMEM. target is consumed. */
static json_t *merge(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
		if (!target)
			return NULL;
	}
	json_object_foreach((json_t *)patch, key, v)
	{
		json_t *cur, *next;

		if (json_is_null(v)) {
			json_object_del(target, key);
			continue;
		}
		cur = json_object_get(target, key);
		next = merge(cur ? json_incref(cur) : NULL, v);
		if (!next || json_object_set_new(target, key, next) < 0) {
			json_decref(target);
			return NULL;
		}
	}
	return target;
}

/* Only the main thread writes the store, so m->data read here without the lock is the current
 * document; the lock orders the swap against readers on other threads. */
int mmds_patch(struct mmds *m, const json_t *patch)
{
	json_t *next, *old = m->data;

	if (!old)
		return -ENODATA;
	next = merge(json_deep_copy(old), patch);
	if (!next)
		return -ENOMEM;
	if (mmds_json_size(next) > m->limit) {
		json_decref(next);
		return -EFBIG;
	}
	mmds_lock(m);
	m->data = next;
	mmds_unlock(m);
	json_decref(old);
	return 0;
}

json_t *mmds_get(struct mmds *m)
{
	json_t *v;

	mmds_lock(m);
	v = m->data && !json_is_null(m->data) ? json_incref(m->data) : NULL;
	mmds_unlock(m);
	return v ? v : json_object();
}

/* Open path for reading without blocking (a FIFO must not stall the event loop) and check that it
 * is a regular file of at most MMDS_FILE_MAX bytes. The descriptor, or -errno with err set. */
static int open_regular(const char *path, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int ret = 0;

	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open '%.512s': %s", path, strerror(-ret));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "'%.512s': %s", path, strerror(-ret));
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "'%.512s' is not a regular file", path);
	} else if ((unsigned long long)st.st_size > MMDS_FILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errlen, "'%.512s' is %lld bytes, more than %u", path,
			 (long long)st.st_size, MMDS_FILE_MAX);
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int mmds_load_file(struct mmds *m, const char *path, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *doc;
	int fd = open_regular(path, err, errlen), ret;

	if (fd < 0)
		return fd;
	doc = json_loadfd(fd, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	close(fd);
	if (!doc) {
		snprintf(err, errlen, "'%.512s' is not valid JSON: line %d, column %d: %s", path,
			 jerr.line, jerr.column, jerr.text);
		return -EINVAL;
	}
	ret = mmds_put(m, doc);
	if (ret == -EFBIG)
		snprintf(err, errlen,
			 "'%.512s' holds %zu bytes of JSON, over the MMDS limit of %zu", path,
			 mmds_json_size(doc), m->limit);
	json_decref(doc);
	return ret;
}

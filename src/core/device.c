/* device.c — the board's device list: counters, state sections, drain, reset and teardown walks. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/device.h"
#include "util/log.h"

void device_report_counters(const struct device_counter *table, unsigned n, const void *stats,
			    const char *dev, device_stat_fn fn, void *ctx)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)stats + table[i].offset, sizeof(v));
		fn(ctx, dev, table[i].name, v);
	}
}

static bool entry_valid(const struct device *d)
{
	if (!d->ops || strnlen(d->name, sizeof(d->name)) == sizeof(d->name) ||
	    strnlen(d->section, sizeof(d->section)) == sizeof(d->section))
		return false;
	if (!d->section[0])
		return true;
	return d->ops->save && d->ops->load && d->min_version >= 1 && d->min_version <= d->version;
}

int device_list_reserve(struct device_list *l, unsigned n)
{
	unsigned cap = l->cap ? l->cap : 16;
	struct device *v;

	while (cap < l->nr + n)
		cap *= 2;
	if (cap == l->cap)
		return 0;
	v = realloc(l->dev, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->dev = v;
	l->cap = cap;
	return 0;
}

int device_list_add(struct device_list *l, const struct device *d)
{
	int ret = entry_valid(d) ? device_list_reserve(l, 1) : -EINVAL;

	if (ret == 0)
		l->dev[l->nr++] = *d;
	return ret;
}

int device_list_add_ops(struct device_list *l, const struct device_ops *ops, void *obj,
			const char *name, const char *section, uint16_t version,
			uint16_t min_version)
{
	struct device d = {.ops = ops, .obj = obj, .version = version, .min_version = min_version};

	if ((size_t)snprintf(d.name, sizeof(d.name), "%s", name) >= sizeof(d.name) ||
	    (size_t)snprintf(d.section, sizeof(d.section), "%s", section ? section : "") >=
		sizeof(d.section))
		return -EINVAL;
	return device_list_add(l, &d);
}

void *device_list_find(const struct device_list *l, const char *name, const struct device_ops *ops)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops == ops && strcmp(l->dev[i].name, name) == 0)
			return l->dev[i].obj;
	return NULL;
}

void device_list_stats(const struct device_list *l, device_stat_fn fn, void *ctx)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops->stats)
			l->dev[i].ops->stats(l->dev[i].obj, l->dev[i].name, fn, ctx);
}

void device_list_quiesce(const struct device_list *l, bool on)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops->quiesce)
			l->dev[i].ops->quiesce(l->dev[i].obj, on);
}

int device_list_drain(const struct device_list *l, int timeout_ms)
{
	int first = 0;

	for (unsigned i = 0; i < l->nr; i++) {
		int ret =
		    l->dev[i].ops->drain ? l->dev[i].ops->drain(l->dev[i].obj, timeout_ms) : 0;

		if (ret < 0 && first == 0)
			first = ret;
	}
	return first;
}

static int save_one(const struct device *d, struct state_buf *b)
{
	int ret = state_begin_section(b, d->section, d->version);

	ret = ret ? ret : d->ops->save(d->obj, b);
	return ret ? ret : state_end_section(b); /* on error the stream is abandoned */
}

int device_list_save(const struct device_list *l, struct state_buf *b)
{
	int ret = 0;

	for (unsigned i = 0; i < l->nr && ret == 0; i++)
		if (l->dev[i].section[0])
			ret = save_one(&l->dev[i], b);
	return ret;
}

static int load_one(const struct device *d, struct state_buf *b)
{
	uint16_t v;

	if (state_section(b, d->section, &v) < 0) {
		state_refuse(b, "section '%s' is missing (saved from another machine?)",
			     d->section);
		return -EINVAL;
	}
	if (v < d->min_version || v > d->version) {
		state_refuse(b, "section '%s' has version %u; this kiln reads %u to %u", d->section,
			     v, d->min_version, d->version);
		return -EINVAL;
	}
	return d->ops->load(d->obj, b, v);
}

int device_list_load(const struct device_list *l, struct state_buf *b)
{
	int ret = 0;

	for (unsigned i = 0; i < l->nr && ret == 0; i++)
		if (l->dev[i].section[0])
			ret = load_one(&l->dev[i], b);
	return ret;
}

void device_list_restored(const struct device_list *l)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops->restored)
			l->dev[i].ops->restored(l->dev[i].obj);
}

void device_list_reset(const struct device_list *l)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops->reset)
			l->dev[i].ops->reset(l->dev[i].obj);
}

void device_list_destroy(struct device_list *l)
{
	for (unsigned i = 0; i < l->nr; i++)
		if (l->dev[i].ops->destroy)
			l->dev[i].ops->destroy(l->dev[i].obj);
	free(l->dev);
	memset(l, 0, sizeof(*l));
}

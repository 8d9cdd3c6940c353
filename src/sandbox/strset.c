/* strset.c — string set with linear probing; the table doubles at half load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/strset.h"

#define FIRST_CAP 64

void strset_init(struct strset *s, size_t max)
{
	memset(s, 0, sizeof(*s));
	s->max = max;
}

void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i].key);
	free(s->slot);
	s->slot = NULL;
	s->cap = s->nr = 0;
}

/* FNV-1a. */
static size_t hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *k; k++)
		h = (h ^ (uint8_t)*k) * 0x100000001b3ULL;
	return (size_t)h;
}

/* The slot holding key, or the empty slot where it would go. The table is never full. */
static struct strset_slot *find(const struct strset *s, const char *key)
{
	size_t i = hash(key) & (s->cap - 1);

	while (s->slot[i].key && strcmp(s->slot[i].key, key) != 0)
		i = (i + 1) & (s->cap - 1);
	return &s->slot[i];
}

int strset_get(const struct strset *s, const char *key)
{
	const struct strset_slot *sl;

	if (!s->cap)
		return -1;
	sl = find(s, key);
	return sl->key ? sl->tag : -1;
}

static int grow(struct strset *s)
{
	struct strset old = *s;

	s->cap = old.cap ? old.cap * 2 : FIRST_CAP;
	s->slot = calloc(s->cap, sizeof(*s->slot));
	if (!s->slot) {
		*s = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++)
		if (old.slot[i].key)
			*find(s, old.slot[i].key) = old.slot[i];
	free(old.slot);
	return 0;
}

int strset_put(struct strset *s, const char *key, uint8_t tag)
{
	struct strset_slot *sl;

	if (s->cap && (sl = find(s, key))->key) {
		sl->tag = tag;
		return 0;
	}
	if (s->nr == s->max)
		return -E2BIG;
	if ((s->nr + 1) * 2 > s->cap && grow(s) < 0)
		return -ENOMEM;
	sl = find(s, key);
	sl->key = strdup(key);
	if (!sl->key)
		return -ENOMEM;
	sl->tag = tag;
	s->nr++;
	return 0;
}

/* strset.h — a set of strings, each with a one-byte tag (an open-addressing hash table). */
#ifndef KILN_SANDBOX_STRSET_H
#define KILN_SANDBOX_STRSET_H

#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

struct strset_slot {
	char *key; /* NULL: empty */
	uint8_t tag;
};

struct strset {
	struct strset_slot *slot;
	size_t cap; /* a power of two, or 0 before the first insertion */
	size_t nr;
	size_t max; /* at most this many strings (-E2BIG beyond) */
};

/* An empty set that will hold at most max strings. */
void strset_init(struct strset *s, size_t max);

/* Free every string and the table. */
void strset_free(struct strset *s);

/* The tag of key, or -1 if key is not in the set. */
int strset_get(const struct strset *s, const char *key);

/* Add key (copied) with tag, or change the tag of a present key. 0, -ENOMEM or -E2BIG. */
int strset_put(struct strset *s, const char *key, uint8_t tag) MUST_CHECK;

#endif

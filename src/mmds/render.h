/* render.h — the store's values as MMDS's guests read them: the value a JSON pointer names, the
 * IMDS text format, and JSON text byte for byte as Firecracker writes it (serde_json: compact,
 * object keys in byte order, floats in their shortest round-trip form). */
#ifndef KILN_MMDS_RENDER_H
#define KILN_MMDS_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "util/compiler.h"

/* A growing byte buffer. Zero-initialise; after a failed growth it keeps what it had and oom is
 * set (later appends do nothing). Free p with free(). */
struct mmds_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* Append n bytes of s to b. */
void mmds_buf_add(struct mmds_buf *b, const void *s, size_t n);

/* Append the NUL-terminated s to b. */
void mmds_buf_str(struct mmds_buf *b, const char *s);

/* Append printf output to b. */
void mmds_buf_printf(struct mmds_buf *b, const char *fmt, ...) PRINTF(2, 3);

/* The value of doc named by the JSON pointer ptr (len bytes; RFC 6901 as serde_json reads it: ""
 * is doc itself, else '/'-separated tokens with ~1 for '/' and ~0 for '~', array indices in
 * decimal without sign or leading zero). NULL when it names nothing; borrowed from doc. */
const json_t *mmds_pointer(const json_t *doc, const char *ptr, size_t len);

/* Append v to b as compact JSON in serde_json's form. 0 or -ENOMEM. */
int mmds_render_json(const json_t *v, struct mmds_buf *b) MUST_CHECK;

/* Append v in the IMDS format: an object's keys in byte order, one per line (no final newline),
 * with '/' after a key whose value is an object; a string as its bytes. 0, -ENOTSUP for any
 * other type or -ENOMEM. */
int mmds_render_imds(const json_t *v, struct mmds_buf *b) MUST_CHECK;

#endif

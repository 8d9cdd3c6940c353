/* state.c — the sectioned state stream: a growable writer and a checked reader over untrusted
 * bytes (see state.h for the encoding). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "util/err.h"

#define SEC_HDR_FIXED 6 /* u16 version + u32 length after the name's NUL */

/* --- writing --- */

static bool reserve(struct state_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->overflow)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->overflow = true;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->overflow = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

static void put_le(struct state_buf *b, uint64_t v, unsigned n)
{
	if (!reserve(b, n))
		return;
	for (unsigned i = 0; i < n; i++)
		b->data[b->len++] = (uint8_t)(v >> (8 * i));
}

void state_put_u8(struct state_buf *b, uint8_t v)
{
	put_le(b, v, 1);
}

void state_put_u16(struct state_buf *b, uint16_t v)
{
	put_le(b, v, 2);
}

void state_put_u32(struct state_buf *b, uint32_t v)
{
	put_le(b, v, 4);
}

void state_put_u64(struct state_buf *b, uint64_t v)
{
	put_le(b, v, 8);
}

void state_put_bytes(struct state_buf *b, const void *p, size_t len)
{
	if (len == 0 || !reserve(b, len))
		return;
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

void state_put_blob(struct state_buf *b, const void *p, uint32_t len)
{
	state_put_u32(b, len);
	state_put_bytes(b, p, len);
}

/* A section name: 1..STATE_NAME_MAX-1 printable ASCII characters. */
static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len >= STATE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return false;
	return true;
}

int state_begin_section(struct state_buf *b, const char *name, uint16_t version)
{
	size_t n = strnlen(name, STATE_NAME_MAX);

	if (b->in_section || (b->cap == 0 && b->data) || !name_ok(name, n))
		return -EINVAL;
	state_put_bytes(b, name, n + 1);
	state_put_u16(b, version);
	b->sec_start = b->len;
	state_put_u32(b, 0); /* patched by state_end_section */
	b->in_section = true;
	return b->overflow ? -ENOMEM : 0;
}

int state_end_section(struct state_buf *b)
{
	size_t payload;

	if (!b->in_section)
		return -EINVAL;
	b->in_section = false;
	if (b->overflow)
		return -ENOMEM;
	payload = b->len - b->sec_start - 4;
	if (payload > STATE_SECTION_MAX) {
		b->overflow = true;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 4; i++)
		b->data[b->sec_start + i] = (uint8_t)(payload >> (8 * i));
	return 0;
}

/* --- reading --- */

static uint64_t get_le_at(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Parse the section header at *off: name, version, payload range. 0 or -EINVAL. */
static int parse_header(const uint8_t *d, size_t len, size_t off, const char **name,
			uint16_t *version, size_t *start, size_t *end)
{
	size_t left = len - off, n;
	const uint8_t *nul = memchr(d + off, 0, left < STATE_NAME_MAX ? left : STATE_NAME_MAX);
	uint32_t plen;

	if (!nul)
		return -EINVAL; /* unterminated or too long */
	n = (size_t)(nul - (d + off));
	if (!name_ok((const char *)d + off, n) || left - n - 1 < SEC_HDR_FIXED)
		return -EINVAL;
	*name = (const char *)d + off;
	*version = (uint16_t)get_le_at(d + off + n + 1, 2);
	plen = (uint32_t)get_le_at(d + off + n + 3, 4);
	*start = off + n + 1 + SEC_HDR_FIXED;
	if (plen > STATE_SECTION_MAX || plen > len - *start)
		return -EINVAL;
	*end = *start + plen;
	return 0;
}

/* Find section `name`; 0 with its header fields, -ENOENT. The framing was checked. */
static int find(const struct state_buf *b, const char *name, uint16_t *version, size_t *start,
		size_t *end)
{
	size_t off = 0;

	while (off < b->len) {
		const char *n;

		if (parse_header(b->data, b->len, off, &n, version, start, end) < 0)
			return -ENOENT;
		if (strcmp(n, name) == 0)
			return 0;
		off = *end;
	}
	return -ENOENT;
}

int state_open(struct state_buf *b, const uint8_t *data, size_t len)
{
	size_t off = 0;
	unsigned count = 0;

	memset(b, 0, sizeof(*b));
	if (!data && len)
		return -EINVAL;
	while (off < len) {
		const char *name;
		uint16_t ver, v2;
		size_t start, end, s2, e2;

		if (++count > STATE_SECTIONS_MAX ||
		    parse_header(data, len, off, &name, &ver, &start, &end) < 0)
			goto fail;
		/* Duplicates: the first section of this name must be this one. */
		b->data = (uint8_t *)data;
		b->len = off;
		if (find(b, name, &v2, &s2, &e2) == 0)
			goto fail;
		off = end;
	}
	b->data = (uint8_t *)data;
	b->len = len;
	return 0;
fail:
	memset(b, 0, sizeof(*b));
	return -EINVAL;
}

int state_section(struct state_buf *b, const char *name, uint16_t *version)
{
	size_t start, end;
	uint16_t v;

	b->in_section = false;
	b->pos = b->sec_start = b->sec_end = 0;
	if (find(b, name, &v, &start, &end) < 0)
		return -ENOENT;
	b->sec_start = b->pos = start;
	b->sec_end = end;
	b->overflow = false;
	b->in_section = true;
	*version = v;
	return 0;
}

bool state_has_section(const struct state_buf *b, const char *name)
{
	size_t start, end;
	uint16_t v;

	return find(b, name, &v, &start, &end) == 0;
}

size_t state_remaining(const struct state_buf *b)
{
	return b->in_section ? b->sec_end - b->pos : 0;
}

/* Take n bytes of the selected section, or NULL (overflow latched). */
static const uint8_t *take(struct state_buf *b, size_t n)
{
	const uint8_t *p;

	if (b->overflow || !b->in_section || n > b->sec_end - b->pos) {
		b->overflow = true;
		return NULL;
	}
	p = b->data + b->pos;
	b->pos += n;
	return p;
}

static uint64_t get_le(struct state_buf *b, unsigned n)
{
	const uint8_t *p = take(b, n);

	return p ? get_le_at(p, n) : 0;
}

uint8_t state_get_u8(struct state_buf *b)
{
	return (uint8_t)get_le(b, 1);
}

uint16_t state_get_u16(struct state_buf *b)
{
	return (uint16_t)get_le(b, 2);
}

uint32_t state_get_u32(struct state_buf *b)
{
	return (uint32_t)get_le(b, 4);
}

uint64_t state_get_u64(struct state_buf *b)
{
	return get_le(b, 8);
}

void state_get_bytes(struct state_buf *b, void *p, size_t len)
{
	const uint8_t *src = take(b, len);

	if (src)
		memcpy(p, src, len);
	else if (len)
		memset(p, 0, len);
}

int state_get_blob(struct state_buf *b, void *p, uint32_t len)
{
	if (state_get_u32(b) != len) {
		b->overflow = true;
		memset(p, 0, len);
		return -EINVAL;
	}
	state_get_bytes(b, p, len);
	return b->overflow ? -EINVAL : 0;
}

int state_section_done(const struct state_buf *b)
{
	return b->in_section && !b->overflow && b->pos == b->sec_end ? 0 : -EINVAL;
}

void state_buf_free(struct state_buf *b)
{
	if (b->cap)
		free(b->data);
	memset(b, 0, sizeof(*b));
}

int state_refuse(struct state_buf *b, const char *fmt, ...)
{
	char msg[KILN_ERR_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(b->err, -EINVAL, "snapshot: %s", msg);
}

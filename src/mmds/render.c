/* render.c — MMDS values as guests read them. The JSON writer is kiln's own rather than
 * json_dumps because the text must be Firecracker's byte for byte: json_dumps writes 12.12 as
 * 12.119999999999999 (17 significant digits) and control characters as \u001F, where serde_json
 * writes 12.12 and \u001f; keys are sorted as serde_json's BTreeMap sorts them. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/render.h"

#define MMDS_BUF_MIN 256

static bool buf_reserve(struct mmds_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : MMDS_BUF_MIN;
	char *p;

	if (b->oom)
		return false;
	if (n <= b->cap - b->len)
		return true;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2)
			goto oom;
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p)
		goto oom;
	b->p = p;
	b->cap = cap;
	return true;
oom:
	b->oom = true;
	return false;
}

void mmds_buf_add(struct mmds_buf *b, const void *s, size_t n)
{
	if (!n || !buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

void mmds_buf_str(struct mmds_buf *b, const char *s)
{
	mmds_buf_add(b, s, strlen(s));
}

void mmds_buf_printf(struct mmds_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || !buf_reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ---- JSON pointer ---- */

/* Decode one reference token (~1 → '/', ~0 → '~', any other '~' kept) into out (len bytes at
 * most); its length. */
static size_t unescape(const char *tok, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '~' && i + 1 < len && (tok[i + 1] == '0' || tok[i + 1] == '1')) {
			out[o++] = tok[i + 1] == '1' ? '/' : '~';
			i++;
		} else {
			out[o++] = tok[i];
		}
	}
	return o;
}

/* tok as an array index (serde_json: digits only, no '+', no leading zero), or -1. */
static long long array_index(const char *tok, size_t len)
{
	long long v = 0;

	if (!len || len > 18 || (tok[0] == '0' && len != 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return -1;
		v = v * 10 + (tok[i] - '0');
	}
	return v;
}

/* The child of v named by the decoded token key, or NULL. */
static const json_t *child(const json_t *v, const char *key, size_t len)
{
	long long i;

	if (json_is_object(v))
		return json_object_getn(v, key, len);
	if (!json_is_array(v))
		return NULL;
	i = array_index(key, len);
	if (i < 0 || (size_t)i >= json_array_size(v))
		return NULL;
	return json_array_get(v, (size_t)i);
}

const json_t *mmds_pointer(const json_t *doc, const char *ptr, size_t len)
{
	char *key;
	size_t pos = 1;

	if (!len)
		return doc;
	if (ptr[0] != '/')
		return NULL;
	key = malloc(len);
	if (!key)
		return NULL;
	while (doc) {
		const char *end = memchr(ptr + pos, '/', len - pos);
		size_t tlen = end ? (size_t)(end - ptr) - pos : len - pos;

		doc = child(doc, key, unescape(ptr + pos, tlen, key));
		if (!end)
			break;
		pos += tlen + 1;
	}
	free(key);
	return doc;
}

/* ---- object keys in byte order ---- */

struct entry {
	const char *key;
	size_t len;
	const json_t *value;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* obj's entries sorted by key (malloc'd, *n of them), or NULL with *n = 0 when empty or OOM
 * (*oom set). */
static struct entry *sorted_entries(const json_t *obj, size_t *n, bool *oom)
{
	size_t count = json_object_size(obj), i = 0;
	struct entry *e;

	*n = 0;
	*oom = false;
	if (!count)
		return NULL;
	e = calloc(count, sizeof(*e));
	if (!e) {
		*oom = true;
		return NULL;
	}
	for (void *it = json_object_iter((json_t *)obj); it && i < count;
	     it = json_object_iter_next((json_t *)obj, it), i++) {
		e[i].key = json_object_iter_key(it);
		e[i].len = json_object_iter_key_len(it);
		e[i].value = json_object_iter_value(it);
	}
	qsort(e, i, sizeof(*e), entry_cmp);
	*n = i;
	return e;
}

/* ---- JSON as serde_json writes it ---- */

static void json_text_string(struct mmds_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t run = 0; /* bytes before i still to copy */

	mmds_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7] = {'\\', 0};
		size_t elen = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		mmds_buf_add(b, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			elen = 6;
		}
		mmds_buf_add(b, esc, elen);
	}
	mmds_buf_add(b, s + run, n - run);
	mmds_buf_add(b, "\"", 1);
}

/* The fewest significant digits that read back as |v| (v finite, not 0): the digits in d (no dot,
 * no trailing zero, NUL-terminated) and *exp10 such that |v| = d[0].d[1..] × 10^(*exp10). Returns
 * the digit count. */
static int shortest_digits(double v, char d[20], int *exp10)
{
	char s[40];
	int n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof(s), "%.*e", prec - 1, fabs(v));
		if (strtod(s, NULL) == fabs(v))
			break;
	}
	for (const char *p = s; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			d[n++] = *p;
	while (n > 1 && d[n - 1] == '0')
		n--;
	d[n] = '\0';
	*exp10 = atoi(strchr(s, 'e') + 1);
	return n;
}

/* v as ryu (serde_json's float writer) formats it into out (at least 32 bytes). */
static void format_real(double v, char *out)
{
	char d[20];
	int len, e, kk;
	char *o = out;

	if (v == 0) {
		strcpy(out, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	if (v < 0)
		*o++ = '-';
	len = shortest_digits(v, d, &e);
	kk = e + 1; /* 10^(kk-1) <= |v| < 10^kk */
	if (len <= kk && kk <= 16)
		sprintf(o, "%s%.*s.0", d, kk - len, "0000000000000000");
	else if (0 < kk && kk <= 16)
		sprintf(o, "%.*s.%s", kk, d, d + kk);
	else if (-5 < kk && kk <= 0)
		sprintf(o, "0.%.*s%s", -kk, "00000", d);
	else if (len == 1)
		sprintf(o, "%se%d", d, kk - 1);
	else
		sprintf(o, "%c.%se%d", d[0], d + 1, kk - 1);
}

static int json_value(const json_t *v, struct mmds_buf *b);

static int json_object_text(const json_t *v, struct mmds_buf *b)
{
	size_t n;
	bool oom;
	struct entry *e = sorted_entries(v, &n, &oom);
	int ret = oom ? -ENOMEM : 0;

	mmds_buf_add(b, "{", 1);
	for (size_t i = 0; i < n && !ret; i++) {
		if (i)
			mmds_buf_add(b, ",", 1);
		json_text_string(b, e[i].key, e[i].len);
		mmds_buf_add(b, ":", 1);
		ret = json_value(e[i].value, b);
	}
	mmds_buf_add(b, "}", 1);
	free(e);
	return ret;
}

static int json_array_text(const json_t *v, struct mmds_buf *b)
{
	int ret = 0;

	mmds_buf_add(b, "[", 1);
	for (size_t i = 0; i < json_array_size(v) && !ret; i++) {
		if (i)
			mmds_buf_add(b, ",", 1);
		ret = json_value(json_array_get(v, i), b);
	}
	mmds_buf_add(b, "]", 1);
	return ret;
}

static int json_value(const json_t *v, struct mmds_buf *b)
{
	char num[40];

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_text(v, b);
	case JSON_ARRAY:
		return json_array_text(v, b);
	case JSON_STRING:
		json_text_string(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		mmds_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_real(json_real_value(v), num);
		mmds_buf_str(b, num);
		break;
	case JSON_TRUE:
		mmds_buf_str(b, "true");
		break;
	case JSON_FALSE:
		mmds_buf_str(b, "false");
		break;
	default:
		mmds_buf_str(b, "null");
	}
	return 0;
}

int mmds_render_json(const json_t *v, struct mmds_buf *b)
{
	int ret = json_value(v, b);

	return ret ? ret : b->oom ? -ENOMEM : 0;
}

/* ---- IMDS ---- */

static int imds_object(const json_t *v, struct mmds_buf *b)
{
	size_t n;
	bool oom;
	struct entry *e = sorted_entries(v, &n, &oom);

	for (size_t i = 0; i < n; i++) {
		if (i)
			mmds_buf_add(b, "\n", 1);
		mmds_buf_add(b, e[i].key, e[i].len);
		if (json_is_object(e[i].value))
			mmds_buf_add(b, "/", 1);
	}
	free(e);
	return oom || b->oom ? -ENOMEM : 0;
}

int mmds_render_imds(const json_t *v, struct mmds_buf *b)
{
	if (json_is_object(v))
		return imds_object(v, b);
	if (!json_is_string(v))
		return -ENOTSUP;
	mmds_buf_add(b, json_string_value(v), json_string_length(v));
	return b->oom ? -ENOMEM : 0;
}

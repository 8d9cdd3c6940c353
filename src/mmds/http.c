/* http.c — MMDS's HTTP: parse one request, answer it from the store.
 *
 * Hand-written: the bytes come from kiln's own TCP (src/mmds/ns.c), not a socket, so no server
 * library fits, and what guests see must be Firecracker's, whose answers come from its own parser
 * (micro_http) with its own rules: a request line of at least 14 bytes, methods GET, PUT, PATCH
 * and DELETE only, HTTP/1.0 and 1.1 only, headers as UTF-8, Accept read only when it is exactly
 * text/plain or application/json, a nonzero Content-Length refused (the body is never framed),
 * status lines without a reason phrase, parse errors answered as HTTP/1.1 with the parser's
 * default Content-Type (application/json). Those rules and texts are reproduced here. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mmds/http.h"
#include "mmds/render.h"

#define REQUEST_LINE_MIN 14 /* micro_http: "GET" SP "HTTP/1.0" CRLF */
#define TOKEN_PATH	 "/latest/api/token"

struct span {
	const char *p;
	size_t len;
};

enum method { M_GET, M_PUT, M_PATCH, M_DELETE };

struct request {
	enum method method;
	struct span uri;
	bool http11;
	bool accept_json;
	uint32_t content_length;
	bool has_token, has_ttl, has_xff;
	struct span token, ttl_key, ttl, xff_key; /* names as sent, values trimmed */
};

struct reply {
	int status;
	bool http11;
	const char *type; /* Content-Type */
	bool allow;	  /* Allow: GET, PUT */
	bool ttl_header;  /* echo ttl_key: ttl (a token PUT) */
	struct span ttl_key;
	uint32_t ttl;
	struct mmds_buf body;
};

/* ---- bytes ---- */

/* Index of the first n-byte seq in p (len bytes), or SIZE_MAX. */
static size_t find(const char *p, size_t len, const char *seq, size_t n)
{
	for (size_t i = 0; len >= n && i <= len - n; i++)
		if (!memcmp(p + i, seq, n))
			return i;
	return SIZE_MAX;
}

static bool span_is(struct span s, const char *lit)
{
	return s.len == strlen(lit) && !memcmp(s.p, lit, s.len);
}

static bool span_ieq(struct span s, const char *lit)
{
	if (s.len != strlen(lit))
		return false;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lit[i])
			return false;
	}
	return true;
}

/* ---- UTF-8 ---- */

/* Decode the character at s (len > 0 bytes) strictly (no overlong form, surrogate or value past
 * U+10FFFF): its byte count, or 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t v, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, v = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, v = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, v = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static bool utf8_valid(const char *p, size_t len)
{
	const unsigned char *s = (const unsigned char *)p;
	uint32_t cp;

	for (size_t i = 0, n; i < len; i += n) {
		n = utf8_next(s + i, len - i, &cp);
		if (!n)
			return false;
	}
	return true;
}

/* Unicode White_Space, which Rust's str::trim removes. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* s (valid UTF-8) without leading and trailing white space. */
static struct span trim(struct span s)
{
	const unsigned char *u = (const unsigned char *)s.p;
	uint32_t cp;
	size_t n;

	while (s.len && (n = utf8_next(u, s.len, &cp)) && is_space(cp)) {
		u += n;
		s.len -= n;
	}
	while (s.len) {
		size_t j = s.len - 1;

		while (j && (u[j] & 0xc0) == 0x80)
			j--;
		if (!utf8_next(u + j, s.len - j, &cp) || !is_space(cp))
			break;
		s.len = j;
	}
	s.p = (const char *)u;
	return s;
}

/* s as Rust's u32 parse reads it (an optional '+', then decimal digits only), or -1. */
static int64_t parse_u32(struct span s)
{
	int64_t v = 0;
	size_t i = s.len && s.p[0] == '+';

	if (i == s.len)
		return -1;
	for (; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (s.p[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	return v;
}

/* ---- parse errors (micro_http's): HTTP/1.1, its default Content-Type ---- */

static int fail(struct reply *r, int status, const char *msg)
{
	r->status = status;
	r->http11 = true;
	r->type = "application/json";
	mmds_buf_str(&r->body, msg);
	return status;
}

/* HttpHeaderError::InvalidValue, as micro_http words it. */
static void invalid_value(struct mmds_buf *b, struct span key, struct span value)
{
	mmds_buf_str(b, "Invalid value. Key:");
	mmds_buf_add(b, key.p, key.len);
	mmds_buf_str(b, "; Value:");
	mmds_buf_add(b, value.p, value.len);
}

static int fail_value(struct reply *r, struct span key, struct span value)
{
	fail(r, 400, "");
	invalid_value(&r->body, key, value);
	return 400;
}

/* ---- request line ---- */

static int parse_method(struct span m, struct request *rq, struct reply *r)
{
	if (span_is(m, "GET"))
		rq->method = M_GET;
	else if (span_is(m, "PUT"))
		rq->method = M_PUT;
	else if (span_is(m, "PATCH"))
		rq->method = M_PATCH;
	else if (span_is(m, "DELETE"))
		rq->method = M_DELETE;
	else
		return fail(r, 501, "Unsupported HTTP method.");
	return 0;
}

static int parse_request_line(const char *line, size_t len, struct request *rq, struct reply *r)
{
	size_t sp1 = find(line, len, " ", 1), sp2;
	struct span version;
	int ret;

	if (sp1 == SIZE_MAX)
		return fail(r, 400, "Invalid request.");
	sp2 = find(line + sp1 + 1, len - sp1 - 1, " ", 1);
	if (sp2 == SIZE_MAX)
		return fail(r, 400, "Invalid request.");
	rq->uri = (struct span){line + sp1 + 1, sp2};
	version = (struct span){line + sp1 + sp2 + 2, len - sp1 - sp2 - 2};
	ret = parse_method((struct span){line, sp1}, rq, r);
	if (ret)
		return ret;
	if (!rq->uri.len)
		return fail(r, 400, "Empty URI not allowed.");
	if (!utf8_valid(rq->uri.p, rq->uri.len))
		return fail(r, 400, "Cannot parse URI as UTF-8.");
	if (!span_is(version, "HTTP/1.0") && !span_is(version, "HTTP/1.1"))
		return fail(r, 501, "Unsupported HTTP version.");
	rq->http11 = span_is(version, "HTTP/1.1");
	return 0;
}

/* ---- headers ---- */

static int content_length(struct span name, struct span value, struct request *rq, struct reply *r)
{
	int64_t v = parse_u32(trim(value));

	if (v < 0)
		return fail_value(r, name, value);
	rq->content_length = (uint32_t)v;
	return 0;
}

/* micro_http refuses an empty Accept-Encoding and one that excludes identity. */
static int accept_encoding(struct span value, struct reply *r)
{
	struct span v = trim(value);
	bool identity = find(v.p, v.len, "identity", 8) != SIZE_MAX;
	size_t pos = 0;

	if (!v.len)
		return fail(r, 400, "Invalid request.");
	for (;;) {
		size_t comma = find(v.p + pos, v.len - pos, ",", 1);
		struct span item = {v.p + pos, comma == SIZE_MAX ? v.len - pos : comma};
		struct span t = trim(item);

		if (span_is(t, "identity;q=0") || (span_is(t, "*;q=0") && !identity))
			return fail_value(r, (struct span){"Accept-Encoding", 15}, item);
		if (comma == SIZE_MAX)
			return 0;
		pos += comma + 1;
	}
}

static void accept_header(struct span value, struct request *rq)
{
	struct span v = trim(value);

	if (span_is(v, "text/plain"))
		rq->accept_json = false;
	else if (span_is(v, "application/json"))
		rq->accept_json = true;
	/* anything else is ignored, as micro_http ignores it: the last valid one counts */
}

/* A header micro_http does not know: MMDS looks at four. The last one of a name counts. */
static void custom(struct span key, struct span value, struct request *rq)
{
	if (span_ieq(key, "x-metadata-token") || span_ieq(key, "x-aws-ec2-metadata-token")) {
		rq->has_token = true;
		rq->token = value;
	} else if (span_ieq(key, "x-metadata-token-ttl-seconds") ||
		   span_ieq(key, "x-aws-ec2-metadata-token-ttl-seconds")) {
		rq->has_ttl = true;
		rq->ttl_key = key;
		rq->ttl = value;
	} else if (span_ieq(key, "x-forwarded-for")) {
		rq->has_xff = true;
		rq->xff_key = key;
	}
}

static int header_line(const char *line, size_t len, struct request *rq, struct reply *r)
{
	size_t colon = find(line, len, ":", 1);
	struct span name, value, key;

	if (colon == SIZE_MAX) {
		fail(r, 400, "Header is incorrectly formatted. Key: ");
		mmds_buf_add(&r->body, line, len);
		return 400;
	}
	name = (struct span){line, colon};
	value = (struct span){line + colon + 1, len - colon - 1};
	key = trim(name);
	if (span_ieq(key, "content-length"))
		return content_length(name, value, rq, r);
	if (span_ieq(key, "accept-encoding"))
		return accept_encoding(value, r);
	if (span_ieq(key, "accept"))
		accept_header(value, rq);
	else if (!span_ieq(key, "content-type") && !span_ieq(key, "transfer-encoding") &&
		 !span_ieq(key, "expect") && !span_ieq(key, "server"))
		custom(key, trim(value), rq);
	return 0;
}

/* The header lines (CR LF separated, up to the first empty one) in s, len bytes. */
static int parse_headers(const char *s, size_t len, struct request *rq, struct reply *r)
{
	size_t pos = 0;

	if (!utf8_valid(s, len))
		return fail(r, 400, "Invalid request.");
	for (;;) {
		size_t crlf = find(s + pos, len - pos, "\r\n", 2);
		size_t n = crlf == SIZE_MAX ? len - pos : crlf;
		int ret;

		if (!n)
			return 0;
		ret = header_line(s + pos, n, rq, r);
		if (ret || crlf == SIZE_MAX)
			return ret;
		pos += n + 2;
	}
}

/* Parse req into rq: 0, or the status of the error answer put in r. */
static int parse(const char *s, size_t len, struct request *rq, struct reply *r)
{
	size_t line = find(s, len, "\r\n", 2), end;
	int ret;

	memset(rq, 0, sizeof(*rq));
	if (line == SIZE_MAX || line < REQUEST_LINE_MIN)
		return fail(r, 400, "Invalid request.");
	ret = parse_request_line(s, line, rq, r);
	if (ret)
		return ret;
	end = find(s + line, len - line, "\r\n\r\n", 4);
	if (end == SIZE_MAX)
		return fail(r, 400, "Invalid request.");
	if (end) {
		ret = parse_headers(s + line + 2, end - 2, rq, r);
		if (ret)
			return ret;
	}
	/* A body is never framed with the request (mmds_http_request_end), so micro_http finds it
	 * shorter than announced: any nonzero Content-Length is an invalid request. */
	if (rq->content_length)
		return fail(r, 400, "Invalid request.");
	return 0;
}

/* ---- answers ---- */

static void answer(struct reply *r, int status, const char *msg)
{
	r->status = status;
	r->type = "text/plain";
	mmds_buf_str(&r->body, msg);
}

static void not_found(struct reply *r, struct span path)
{
	answer(r, 404, "Resource not found: ");
	mmds_buf_add(&r->body, path.p, path.len);
	mmds_buf_add(&r->body, ".", 1);
}

/* The absolute path of uri as micro_http takes it: after "http://host" or as is when it starts
 * with '/'; empty otherwise. */
static struct span abs_path(struct span uri)
{
	const char *slash;

	if (uri.len >= 7 && !memcmp(uri.p, "http://", 7)) {
		slash = memchr(uri.p + 7, '/', uri.len - 7);
		return slash ? (struct span){slash, uri.len - (size_t)(slash - uri.p)}
			     : (struct span){uri.p, 0};
	}
	return uri.p[0] == '/' ? uri : (struct span){uri.p, 0};
}

/* path with every run of '/' made one (Firecracker's sanitize_uri), in out (path.len bytes). */
static struct span sanitize(struct span path, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < path.len; i++)
		if (path.p[i] != '/' || !n || out[n - 1] != '/')
			out[n++] = path.p[i];
	return (struct span){out, n};
}

static void render(const struct mmds_http *h, const struct request *rq, const json_t *v,
		   struct reply *r)
{
	int ret;

	r->type = rq->accept_json ? "application/json" : "text/plain";
	if (rq->accept_json && !h->imds_compat)
		ret = mmds_render_json(v, &r->body);
	else
		ret = mmds_render_imds(v, &r->body);
	if (ret == -ENOTSUP)
		answer(r, 501, "Cannot retrieve value. The value has an unsupported type.");
	else
		r->status = 200;
}

/* GET path from the store: the JSON pointer the sanitized path is, less one trailing '/'. */
static void lookup(const struct mmds_http *h, const struct request *rq, struct span path,
		   char *scratch, struct reply *r)
{
	struct span p = sanitize(path, scratch);
	const json_t *doc = h->store->data ? h->store->data : json_null(); /* unset: null */
	const json_t *v;

	if (p.len && p.p[p.len - 1] == '/')
		p.len--;
	v = mmds_pointer(doc, p.p, p.len);
	if (v)
		render(h, rq, v, r);
	else
		not_found(r, path);
}

static void get(const struct mmds_http *h, const struct request *rq, struct span path,
		uint64_t now_ms, char *scratch, struct reply *r, struct mmds_http_response *out)
{
	if (!rq->has_token)
		out->no_token = true;
	else if (!mmds_token_valid(h->tokens, rq->token.p, rq->token.len, now_ms))
		out->invalid_token = true;
	if (h->version == MMDS_V2 && out->no_token)
		answer(
		    r, 401,
		    "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` "
		    "header to specify the session token.");
	else if (h->version == MMDS_V2 && out->invalid_token)
		answer(r, 401, "MMDS token not valid.");
	else
		lookup(h, rq, path, scratch, r);
}

static void issue(const struct mmds_http *h, const struct request *rq, uint64_t now_ms,
		  struct reply *r)
{
	int64_t ttl = parse_u32(rq->ttl);
	char token[MMDS_TOKEN_LEN + 1];
	int ret;

	if (ttl < 0) {
		answer(r, 400, "Invalid header. Reason: ");
		invalid_value(&r->body, rq->ttl_key, rq->ttl);
		return;
	}
	ret = mmds_token_new(h->tokens, (uint32_t)ttl, now_ms, token);
	if (ret == -EINVAL) {
		answer(r, 400, "");
		mmds_buf_printf(
		    &r->body,
		    "Invalid time to live value provided for token: %u. Please provide a "
		    "value between %u and %u.",
		    (unsigned)ttl, MMDS_TOKEN_TTL_MIN, MMDS_TOKEN_TTL_MAX);
	} else if (ret < 0) {
		answer(r, 400, "Failed to generate token."); /* no random bytes to be had */
	} else {
		answer(r, 200, token);
		r->ttl_header = true;
		r->ttl_key = rq->ttl_key;
		r->ttl = (uint32_t)ttl;
	}
}

static void put(const struct mmds_http *h, const struct request *rq, struct span path,
		uint64_t now_ms, char *scratch, struct reply *r)
{
	if (rq->has_xff) {
		answer(r, 400, "Invalid header. Reason: Unsupported header name. Key: ");
		mmds_buf_add(&r->body, rq->xff_key.p, rq->xff_key.len);
	} else if (!span_is(sanitize(path, scratch), TOKEN_PATH)) {
		not_found(r, path);
	} else if (!rq->has_ttl) {
		answer(r, 400,
		       "Token time to live value not found. Use `X-metadata-token-ttl-seconds` or "
		       "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's "
		       "lifetime.");
	} else {
		issue(h, rq, now_ms, r);
	}
}

/* Answer a parsed request (Firecracker's convert_to_response). scratch: uri.len bytes. */
static void respond(const struct mmds_http *h, const struct request *rq, uint64_t now_ms,
		    char *scratch, struct reply *r, struct mmds_http_response *out)
{
	struct span path = abs_path(rq->uri);

	r->http11 = rq->http11;
	if (!path.len) {
		answer(r, 400, "Invalid URI.");
	} else if (rq->method == M_GET) {
		get(h, rq, path, now_ms, scratch, r, out);
	} else if (rq->method == M_PUT) {
		put(h, rq, path, now_ms, scratch, r);
	} else {
		answer(r, 405, "Not allowed HTTP method.");
		r->allow = true;
	}
}

/* ---- the response's bytes ---- */

static int emit(struct reply *r, struct mmds_http_response *out)
{
	struct mmds_buf b = {0};

	mmds_buf_printf(&b,
			"HTTP/1.%c %d \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n",
			r->http11 ? '1' : '0', r->status);
	if (r->allow)
		mmds_buf_str(&b, "Allow: GET, PUT\r\n");
	if (r->ttl_header) {
		mmds_buf_add(&b, r->ttl_key.p, r->ttl_key.len);
		mmds_buf_printf(&b, ": %u\r\n", r->ttl);
	}
	mmds_buf_printf(&b, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n", r->type,
			r->body.len);
	mmds_buf_add(&b, r->body.p, r->body.len);
	mmds_buf_add(&b, "", 1); /* a NUL after the response, for readers of text */
	if (b.oom || r->body.oom) {
		free(b.p);
		return -ENOMEM;
	}
	out->data = b.p;
	out->len = b.len - 1;
	out->status = r->status;
	return 0;
}

size_t mmds_http_request_end(const void *buf, size_t len)
{
	const char *b = buf;

	if (len <= 2) /* Firecracker's endpoint looks only at more than 2 bytes */
		return 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (i + 3 <= len && b[i + 1] == '\r' && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int mmds_http_answer(const struct mmds_http *h, const void *req, size_t len, uint64_t now_ms,
		     struct mmds_http_response *out)
{
	struct reply r = {0};
	struct request rq;
	char *scratch = malloc(len ? len : 1);
	int ret;

	memset(out, 0, sizeof(*out));
	if (!scratch)
		return -ENOMEM;
	if (!parse(req, len, &rq, &r))
		respond(h, &rq, now_ms, scratch, &r, out);
	ret = emit(&r, out);
	free(r.body.p);
	free(scratch);
	if (ret) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	return 0;
}

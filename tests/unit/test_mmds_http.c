/* test_mmds_http.c — MMDS's HTTP answers without the network: request framing, Firecracker's
 * status codes, headers and texts (its mod.rs, data_store.rs and micro_http tests are the
 * reference), paths and JSON pointers, the IMDS and JSON formats, Accept and imds_compat, V1 and
 * V2 tokens with TTL bounds and expiry on a controlled clock, and the token table's eviction. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mmds/http.h"
#include "mmds/render.h"
#include "mmds/token.h"

/* Firecracker's test document (mmds/mod.rs populate_mmds). */
static const char *const DOC = "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"age\":43,"
			       "\"phones\":{\"home\":{\"RO\":\"+401234567\",\"UK\":\"+441234567\"},"
			       "\"mobile\":\"+442345678\"}}";
static const char *const DOC_JSON =
    "{\"age\":43,\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"phones\":{\"home\":{\"RO\":"
    "\"+401234567\",\"UK\":\"+441234567\"},\"mobile\":\"+442345678\"}}";

#define GET_JSON "GET /%s HTTP/1.1\r\nAccept: application/json\r\n\r\n"
#define TTL_BOUNDS                                                                                 \
	"Invalid time to live value provided for token: %s. Please provide a value between 1 and " \
	"21600."

struct fix {
	struct mmds store;
	struct mmds_tokens tokens;
	struct mmds_http h;
	struct mmds_http_response r;
};

static uint64_t rand_state;
static bool rand_fail;

/* Deterministic bytes, never repeating in these tests. */
static ssize_t fake_random(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	if (rand_fail) {
		errno = EAGAIN;
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		uint64_t x = ++rand_state * 0x9e3779b97f4a7c15ull; /* splitmix64's step */

		x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
		((uint8_t *)buf)[i] = (uint8_t)((x ^ (x >> 27)) >> 56);
	}
	return (ssize_t)len;
}

static void put_doc(struct fix *f, const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	assert_int_equal(mmds_put(&f->store, v), 0);
	json_decref(v);
}

static int setup(void **st)
{
	struct fix *f = calloc(1, sizeof(*f));

	mmds_init(&f->store, MMDS_DEFAULT_LIMIT);
	put_doc(f, DOC);
	mmds_tokens_init(&f->tokens, fake_random);
	f->h = (struct mmds_http){&f->store, MMDS_V1, false, &f->tokens};
	rand_fail = false;
	*st = f;
	return 0;
}

static int teardown(void **st)
{
	struct fix *f = *st;

	free(f->r.data);
	mmds_destroy(&f->store);
	free(f);
	return 0;
}

/* Answer req (a C string) at now_ms; the response stays in f->r. */
static const struct mmds_http_response *ask_at(struct fix *f, const char *req, uint64_t now_ms)
{
	free(f->r.data);
	assert_int_equal(mmds_http_answer(&f->h, req, strlen(req), now_ms, &f->r), 0);
	assert_non_null(f->r.data);
	return &f->r;
}

static const struct mmds_http_response *ask(struct fix *f, const char *req)
{
	return ask_at(f, req, 1000);
}

/* The value of header name in r (a static copy), or NULL. */
static const char *header(const struct mmds_http_response *r, const char *name)
{
	static char val[256];
	size_t n = strlen(name);
	const char *end = strstr(r->data, "\r\n\r\n");

	for (const char *p = strstr(r->data, "\r\n") + 2; p && p < end; p = strstr(p, "\r\n") + 2) {
		if (!strncmp(p, name, n) && p[n] == ':') {
			const char *e = strstr(p, "\r\n");

			snprintf(val, sizeof(val), "%.*s", (int)(e - p - n - 2), p + n + 2);
			return val;
		}
	}
	return NULL;
}

static const char *body(const struct mmds_http_response *r)
{
	return strstr(r->data, "\r\n\r\n") + 4;
}

/* r has status line "HTTP/1.<minor> <status> ", Content-Type type, and body want. */
static void expect(const struct mmds_http_response *r, int minor, int status, const char *type,
		   const char *want)
{
	char line[32], len[24];

	snprintf(line, sizeof(line), "HTTP/1.%d %d \r\n", minor, status);
	if (strncmp(r->data, line, strlen(line)))
		fail_msg("status line of: %.*s", (int)r->len, r->data);
	assert_int_equal(r->status, status);
	assert_string_equal(header(r, "Content-Type"), type);
	snprintf(len, sizeof(len), "%zu", strlen(want));
	assert_string_equal(header(r, "Content-Length"), len);
	assert_int_equal(r->len, (size_t)(body(r) - r->data) + strlen(want));
	if (memcmp(body(r), want, strlen(want)))
		fail_msg("body %.*s, want %s", (int)strlen(want), body(r), want);
}

static void test_request_end(void **st)
{
	(void)st;
	assert_int_equal(mmds_http_request_end("GET / HTTP/1.1\r\n\r\n", 18), 18);
	assert_int_equal(mmds_http_request_end("GET / HTTP/1.1\r\n\r\nGET", 21), 18);
	assert_int_equal(mmds_http_request_end("GET / HTTP/1.1\r\nA: b\r\n", 22), 0);
	assert_int_equal(mmds_http_request_end("GET / HTTP/1.1\r\n\r", 17), 0);
	assert_int_equal(mmds_http_request_end("ab\n\nc", 5), 4);
	assert_int_equal(mmds_http_request_end("a\n\r\nx", 5), 4);
	assert_int_equal(mmds_http_request_end("\n\n", 2),
			 0); /* Firecracker waits for a 3rd byte */
	assert_int_equal(mmds_http_request_end("\n\nx", 3), 2);
	assert_int_equal(mmds_http_request_end("", 0), 0);
}

/* The whole response, byte for byte, as Firecracker writes it. */
static void test_exact_bytes(void **st)
{
	struct fix *f = *st;
	const char *want = "HTTP/1.0 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
			   "Content-Type: text/plain\r\nContent-Length: 17\r\n\r\n"
			   "age\nname/\nphones/";

	ask(f, "GET http://169.254.169.254/ HTTP/1.0\r\n\r\n");
	assert_int_equal(f->r.len, strlen(want));
	assert_memory_equal(f->r.data, want, strlen(want));
	assert_true(f->r.no_token);
	assert_false(f->r.invalid_token);
}

static void test_accept(void **st)
{
	struct fix *f = *st;
	const char *plain[] = {"",
			       "Accept:\r\n",
			       "Accept: */*\r\n",
			       "Accept: text/plain\r\n",
			       "Accept: application/json; charset=utf-8\r\n",
			       "Accept: application/json\r\nAccept: text/plain\r\n"};
	char req[256];

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\n%s\r\n", plain[i]);
		expect(ask(f, req), 1, 200, "text/plain", "age\nname/\nphones/");
	}
	expect(ask(f, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"), 1, 200,
	       "application/json", DOC_JSON);
	expect(ask(f, "GET / HTTP/1.1\r\naccept:   application/json  \r\n\r\n"), 1, 200,
	       "application/json", DOC_JSON);
	expect(ask(f, "GET / HTTP/1.1\r\nAccept: text/plain\r\nAccept: application/json\r\n\r\n"),
	       1, 200, "application/json", DOC_JSON);
}

static void test_paths(void **st)
{
	struct fix *f = *st;

	expect(ask(f, "GET /name/first HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "John");
	expect(ask(f, "GET //name///first HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "John");
	expect(ask(f, "GET /name/first/ HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "John");
	expect(ask(f, "GET /name// HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "first\nsecond");
	expect(ask(f, "GET http://169.254.169.254/phones HTTP/1.1\r\n\r\n"), 1, 200, "text/plain",
	       "home/\nmobile");
	expect(ask(f, "GET http://x:80//phones/home/RO HTTP/1.1\r\n\r\n"), 1, 200, "text/plain",
	       "+401234567");
	expect(ask(f, "GET /invalid HTTP/1.0\r\n\r\n"), 0, 404, "text/plain",
	       "Resource not found: /invalid.");
	expect(ask(f, "GET //invalid// HTTP/1.0\r\n\r\n"), 0, 404, "text/plain",
	       "Resource not found: //invalid//.");
	expect(ask(f, "GET /name/first/x HTTP/1.0\r\n\r\n"), 0, 404, "text/plain",
	       "Resource not found: /name/first/x.");
	expect(ask(f, "GET /name?x=1 HTTP/1.0\r\n\r\n"), 0, 404, "text/plain",
	       "Resource not found: /name?x=1.");
	/* Pointer escapes and array indices. */
	put_doc(f, "{\"a/b\":\"slash\",\"c~d\":\"tilde\",\"arr\":[\"x\",\"y\"],\"\":\"empty\"}");
	expect(ask(f, "GET /a~1b HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "slash");
	expect(ask(f, "GET /c~0d HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "tilde");
	expect(ask(f, "GET /arr/1 HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "y");
	expect(ask(f, "GET /arr/0/ HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "x");
	assert_int_equal(ask(f, "GET /arr/01 HTTP/1.1\r\n\r\n")->status, 404);
	assert_int_equal(ask(f, "GET /arr/+1 HTTP/1.1\r\n\r\n")->status, 404);
	assert_int_equal(ask(f, "GET /arr/2 HTTP/1.1\r\n\r\n")->status, 404);
	assert_int_equal(ask(f, "GET /arr/99999999999999999999999 HTTP/1.1\r\n\r\n")->status, 404);
	expect(ask(f, "GET /\"\" HTTP/1.1\r\n\r\n"), 1, 404, "text/plain",
	       "Resource not found: /\"\".");
	expect(ask(f, "GET /arr HTTP/1.1\r\nAccept: application/json\r\n\r\n"), 1, 200,
	       "application/json", "[\"x\",\"y\"]");
}

/* data_store.rs test_get_value: which types each format can show. */
static void test_formats(void **st)
{
	struct fix *f = *st;
	const char *unsupported = "Cannot retrieve value. The value has an unsupported type.";
	struct {
		const char *path, *as_json; /* as_imds: 501 unless a string */
	} cases[] = {
	    {"age", "43"},	 {"phones", "[\"+401234567\",\"+441234567\"]"},
	    {"member", "false"}, {"shares_percentage", "12.12"},
	    {"balance", "-24"},	 {"nothing", "null"},
	};
	char req[128];

	put_doc(f, "{\"name\":{\"first\":\"John\",\"second\":\"Doe\"},\"age\":43,\"phones\":"
		   "[\"+401234567\",\"+441234567\"],\"member\":false,\"shares_percentage\":12.12,"
		   "\"balance\":-24,\"nothing\":null,"
		   "\"json_string\":\"{\\n  \\\"hello\\\": \\\"world\\\"\\n}\"}");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), GET_JSON, cases[i].path);
		expect(ask(f, req), 1, 200, "application/json", cases[i].as_json);
		snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\n\r\n", cases[i].path);
		expect(ask(f, req), 1, 501, "text/plain", unsupported);
	}
	expect(ask(f, "GET /json_string HTTP/1.1\r\n\r\n"), 1, 200, "text/plain",
	       "{\n  \"hello\": \"world\"\n}");
	snprintf(req, sizeof(req), GET_JSON, "json_string");
	expect(ask(f, req), 1, 200, "application/json",
	       "\"{\\n  \\\"hello\\\": \\\"world\\\"\\n}\"");
	snprintf(req, sizeof(req), GET_JSON, "phones/0");
	expect(ask(f, req), 1, 200, "application/json", "\"+401234567\"");
	/* imds_compat: always IMDS, whatever Accept says (the Content-Type still follows it). */
	f->h.imds_compat = true;
	snprintf(req, sizeof(req), GET_JSON, "name");
	expect(ask(f, req), 1, 200, "application/json", "first\nsecond");
	snprintf(req, sizeof(req), GET_JSON, "age");
	expect(ask(f, req), 1, 501, "text/plain", unsupported);
	snprintf(req, sizeof(req), GET_JSON, "phones/0");
	expect(ask(f, req), 1, 200, "application/json", "+401234567");
}

/* An uninitialised store is Firecracker's null: "null" as JSON, unsupported as IMDS. */
static void test_empty_store(void **st)
{
	struct fix *f = *st;

	mmds_destroy(&f->store);
	expect(ask(f, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"), 1, 200,
	       "application/json", "null");
	expect(ask(f, "GET / HTTP/1.1\r\n\r\n"), 1, 501, "text/plain",
	       "Cannot retrieve value. The value has an unsupported type.");
	assert_int_equal(ask(f, "GET /x HTTP/1.1\r\n\r\n")->status, 404);
	put_doc(f, "{}");
	expect(ask(f, "GET / HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "");
	expect(ask(f, "GET / HTTP/1.1\r\nAccept: application/json\r\n\r\n"), 1, 200,
	       "application/json", "{}");
}

/* serde_json's text: shortest floats in ryu's layout, lowercase \u escapes, raw UTF-8. */
static void test_json_text(void **st)
{
	struct fix *f = *st;
	const char *req = "GET /v HTTP/1.1\r\nAccept: application/json\r\n\r\n";
	struct {
		const char *in, *out;
	} cases[] = {
	    {"0.1", "0.1"},
	    {"100.0", "100.0"},
	    {"1e2", "100.0"},
	    {"-0.0", "-0.0"},
	    {"0.0", "0.0"},
	    {"1e15", "1000000000000000.0"},
	    {"1e16", "1e16"},
	    {"1.5e300", "1.5e300"},
	    {"123456.789", "123456.789"},
	    {"0.0001", "0.0001"},
	    {"0.00001", "0.00001"},
	    {"0.000001", "1e-6"},
	    {"1.5e-7", "1.5e-7"},
	    {"5e-324", "5e-324"},
	    {"1.7976931348623157e308", "1.7976931348623157e308"},
	    {"9007199254740993", "9007199254740993"},
	    {"-9223372036854775808", "-9223372036854775808"},
	    {"\"a\\u001fb\\u0000\\u007f\\/\\u00e9\\b\\f\\t\\r\"",
	     "\"a\\u001fb\\u0000\x7f/\xc3\xa9\\b\\f\\t\\r\""},
	    {"{\"b\":1,\"a\":{\"z\":[],\"y\":{}},\"B\":true,\"ab\":null}",
	     "{\"B\":true,\"a\":{\"y\":{},\"z\":[]},\"ab\":null,\"b\":1}"},
	};
	char doc[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *v;

		snprintf(doc, sizeof(doc), "{\"v\":%s}", cases[i].in);
		v = json_loads(doc, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(v);
		assert_int_equal(mmds_put(&f->store, v), 0);
		json_decref(v);
		ask(f, req);
		assert_int_equal(f->r.status, 200);
		if (f->r.len - (size_t)(body(&f->r) - f->r.data) != strlen(cases[i].out) ||
		    memcmp(body(&f->r), cases[i].out, strlen(cases[i].out)))
			fail_msg("%s: got %s, want %s", cases[i].in, body(&f->r), cases[i].out);
	}
	put_doc(f, "{\"b/\":{},\"a\":\"x\"}");
	expect(ask(f, "GET / HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "a\nb//");
}

/* Errors of the request itself: micro_http's texts, HTTP/1.1 and application/json. */
static void test_bad_requests(void **st)
{
	struct fix *f = *st;
	const char *json = "application/json";

	expect(ask(f, "GET / HTTP/1.0\n\n"), 1, 400, json, "Invalid request.");
	expect(ask(f, "GET / HTTP/1\r\n\r\n"), 1, 400, json, "Invalid request.");
	expect(ask(f, "GET_/_HTTP/1.0\r\n\r\n"), 1, 400, json, "Invalid request.");
	expect(ask(f, "GET / HTTP/1.0\r\nA: b\n\n"), 1, 400, json, "Invalid request.");
	expect(ask(f, "POST / HTTP/1.0\r\n\r\n"), 1, 501, json, "Unsupported HTTP method.");
	expect(ask(f, "get / HTTP/1.0\r\n\r\n"), 1, 501, json, "Unsupported HTTP method.");
	expect(ask(f, "GET / HTTP/2.0\r\n\r\n"), 1, 501, json, "Unsupported HTTP version.");
	expect(ask(f, "GET /  HTTP/1.0\r\n\r\n"), 1, 501, json, "Unsupported HTTP version.");
	expect(ask(f, "GET  HTTP/1.0x\r\n\r\n"), 1, 400, json, "Empty URI not allowed.");
	expect(ask(f, "GET /\xff HTTP/1.0\r\n\r\n"), 1, 400, json, "Cannot parse URI as UTF-8.");
	expect(ask(f, "GET / HTTP/1.0\r\nA: \xc0\xaf\r\n\r\n"), 1, 400, json, "Invalid request.");
	expect(ask(f, "GET / HTTP/1.0\r\nfoo\r\n\r\n"), 1, 400, json,
	       "Header is incorrectly formatted. Key: foo");
	expect(ask(f, "GET / HTTP/1.0\r\nContent-Length: abc\r\n\r\n"), 1, 400, json,
	       "Invalid value. Key:Content-Length; Value: abc");
	expect(ask(f, "GET / HTTP/1.0\r\nContent-Length: 5\r\n\r\n"), 1, 400, json,
	       "Invalid request.");
	expect(ask(f, "PUT /latest/api/token HTTP/1.0\r\nContent-Length: 9\r\n\r\nsome body"), 1,
	       400, json, "Invalid request.");
	expect(ask(f, "GET / HTTP/1.0\r\nContent-Length: 0\r\n\r\n"), 0, 200, "text/plain",
	       "age\nname/\nphones/");
	expect(ask(f, "GET / HTTP/1.0\r\nAccept-Encoding: identity;q=0\r\n\r\n"), 1, 400, json,
	       "Invalid value. Key:Accept-Encoding; Value:identity;q=0");
	expect(ask(f, "GET / HTTP/1.0\r\nAccept-Encoding: gzip, *;q=0\r\n\r\n"), 1, 400, json,
	       "Invalid value. Key:Accept-Encoding; Value: *;q=0");
	expect(ask(f, "GET / HTTP/1.0\r\nAccept-Encoding:  \r\n\r\n"), 1, 400, json,
	       "Invalid request.");
	assert_int_equal(
	    ask(f, "GET / HTTP/1.0\r\nAccept-Encoding: identity, *;q=0\r\n\r\n")->status, 200);
	assert_int_equal(ask(f, "GET / HTTP/1.0\r\nContent-Type: x\r\nExpect: y\r\n\r\n")->status,
			 200);
	/* Parsed, then refused by MMDS: the request's version and text/plain. */
	expect(ask(f, "GET http:// HTTP/1.0\r\n\r\n"), 0, 400, "text/plain", "Invalid URI.");
	expect(ask(f, "GET home HTTP/1.0\r\n\r\n"), 0, 400, "text/plain", "Invalid URI.");
	expect(ask(f, "GET http://169.254.169.254 HTTP/1.1\r\n\r\n"), 1, 400, "text/plain",
	       "Invalid URI.");
}

static void test_methods(void **st)
{
	struct fix *f = *st;
	const char *methods[] = {"PATCH", "DELETE"};
	char req[64];

	for (int i = 0; i < 2; i++) {
		snprintf(req, sizeof(req), "%s http://169.254.169.255/ HTTP/1.0\r\n\r\n",
			 methods[i]);
		expect(ask(f, req), 0, 405, "text/plain", "Not allowed HTTP method.");
		assert_string_equal(header(&f->r, "Allow"), "GET, PUT");
	}
}

/* Issue a token at now_ms with header name hdr; returns it (static). */
static const char *token_at(struct fix *f, const char *hdr, const char *ttl, uint64_t now_ms)
{
	static char tok[MMDS_TOKEN_LEN + 1];
	char req[256];

	snprintf(req, sizeof(req), "PUT /latest/api/token HTTP/1.1\r\n%s: %s\r\n\r\n", hdr, ttl);
	ask_at(f, req, now_ms);
	assert_int_equal(f->r.status, 200);
	assert_string_equal(header(&f->r, "Content-Type"), "text/plain");
	assert_string_equal(header(&f->r, hdr), ttl);
	assert_int_equal(strlen(body(&f->r)), MMDS_TOKEN_LEN);
	memcpy(tok, body(&f->r), MMDS_TOKEN_LEN + 1);
	return tok;
}

static const struct mmds_http_response *get_with(struct fix *f, const char *hdr, const char *tok,
						 uint64_t now_ms)
{
	char req[256];

	snprintf(req, sizeof(req), "GET /name/first HTTP/1.1\r\n%s: %s\r\n\r\n", hdr, tok);
	return ask_at(f, req, now_ms);
}

static void test_v2(void **st)
{
	struct fix *f = *st;
	const char *tok, *tok2;

	f->h.version = MMDS_V2;
	expect(ask(f, "GET /name/first HTTP/1.1\r\n\r\n"), 1, 401, "text/plain",
	       "No MMDS token provided. Use `X-metadata-token` or `X-aws-ec2-metadata-token` "
	       "header to specify the session token.");
	assert_true(f->r.no_token);
	expect(get_with(f, "X-metadata-token", "INVALID_TOKEN", 1000), 1, 401, "text/plain",
	       "MMDS token not valid.");
	assert_true(f->r.invalid_token);
	assert_false(f->r.no_token);
	tok = token_at(f, "X-metadata-token-ttl-seconds", "60", 1000);
	for (size_t i = 0; i < MMDS_TOKEN_LEN; i++)
		assert_non_null(strchr(
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", tok[i]));
	expect(get_with(f, "X-metadata-token", tok, 1000), 1, 200, "text/plain", "John");
	assert_false(f->r.no_token || f->r.invalid_token);
	expect(get_with(f, "x-aws-ec2-METADATA-token", tok, 60999), 1, 200, "text/plain", "John");
	expect(get_with(f, "X-metadata-token", tok, 61000), 1, 401, "text/plain",
	       "MMDS token not valid."); /* expired: 60 s after issue */
	/* A token's neighbour bytes do not pass, nor a prefix. */
	char bad[MMDS_TOKEN_LEN + 2];
	memcpy(bad, tok, MMDS_TOKEN_LEN + 1);
	bad[MMDS_TOKEN_LEN - 1] ^= 1;
	assert_int_equal(get_with(f, "X-metadata-token", bad, 1000)->status, 401);
	bad[MMDS_TOKEN_LEN - 1] = '\0';
	assert_int_equal(get_with(f, "X-metadata-token", bad, 1000)->status, 401);
	tok2 = token_at(f, "x-aws-ec2-metadata-token-ttl-seconds", "21600", 5000);
	assert_int_equal(get_with(f, "X-aws-ec2-metadata-token", tok2, 5000 + 21600000 - 1)->status,
			 200);
	assert_int_equal(get_with(f, "X-aws-ec2-metadata-token", tok2, 5000 + 21600000)->status,
			 401);
	/* The PUT is answered the same in V1 and V2; a GET of the token path is just a path. */
	assert_int_equal(ask(f, "GET /latest/api/token HTTP/1.1\r\n\r\n")->status, 401);
}

static void test_v1(void **st)
{
	struct fix *f = *st;
	const char *tok;

	expect(ask(f, "GET /name/first HTTP/1.1\r\n\r\n"), 1, 200, "text/plain", "John");
	assert_true(f->r.no_token);
	expect(get_with(f, "X-metadata-token", "INVALID_TOKEN", 1000), 1, 200, "text/plain",
	       "John");
	assert_true(f->r.invalid_token);
	assert_false(f->r.no_token);
	tok = token_at(f, "X-metadata-token-ttl-seconds", "1", 1000);
	expect(get_with(f, "X-metadata-token", tok, 1999), 1, 200, "text/plain", "John");
	assert_false(f->r.no_token || f->r.invalid_token);
	expect(get_with(f, "X-metadata-token", tok, 2000), 1, 200, "text/plain", "John");
	assert_true(f->r.invalid_token);
}

static void test_ttl(void **st)
{
	struct fix *f = *st;
	const char *put = "PUT /latest/api/token HTTP/1.0\r\n";
	char req[256];
	char want[160];

	for (int v2 = 0; v2 < 2; v2++) {
		f->h.version = v2 ? MMDS_V2 : MMDS_V1;
		token_at(f, "X-metadata-token-ttl-seconds", "1", 0);
		token_at(f, "X-metadata-token-ttl-seconds", "21600", 0);
		ask(f,
		    "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: +60\r\n\r\n");
		assert_string_equal(header(&f->r, "X-metadata-token-ttl-seconds"), "60");
		const char *outside[] = {"0", "21601", "4294967295"};
		for (int i = 0; i < 3; i++) {
			snprintf(req, sizeof(req), "%sX-metadata-token-ttl-seconds: %s\r\n\r\n",
				 put, outside[i]);
			snprintf(want, sizeof(want), TTL_BOUNDS, outside[i]);
			expect(ask(f, req), 0, 400, "text/plain", want);
		}
		snprintf(req, sizeof(req),
			 "%sX-metadata-token-ttl-seconds: application/json\r\n\r\n", put);
		expect(ask(f, req), 0, 400, "text/plain",
		       "Invalid header. Reason: Invalid value. Key:X-metadata-token-ttl-seconds; "
		       "Value:application/json");
		snprintf(req, sizeof(req), "%sx-metadata-token-ttl-seconds: 4294967296\r\n\r\n",
			 put);
		expect(ask(f, req), 0, 400, "text/plain",
		       "Invalid header. Reason: Invalid value. Key:x-metadata-token-ttl-seconds; "
		       "Value:4294967296");
		snprintf(req, sizeof(req), "%s\r\n", put);
		expect(ask(f, req), 0, 400, "text/plain",
		       "Token time to live value not found. Use `X-metadata-token-ttl-seconds` or "
		       "`X-aws-ec2-metadata-token-ttl-seconds` header to specify the token's "
		       "lifetime.");
	}
	/* A TTL header on a GET is ignored. */
	f->h.version = MMDS_V1;
	expect(ask(f, "GET /name/first HTTP/1.0\r\nX-metadata-token-ttl-seconds: x\r\n\r\n"), 0,
	       200, "text/plain", "John");
}

static void test_put_errors(void **st)
{
	struct fix *f = *st;
	const char *names[] = {"X-Forwarded-For", "x-forwarded-for", "X-fOrWaRdEd-FoR"};
	char req[256], want[128];

	for (int i = 0; i < 3; i++) {
		snprintf(
		    req, sizeof(req),
		    "PUT http://169.254.169.254/latest/api/token HTTP/1.0\r\n%s: 203.0.113.195\r\n"
		    "X-metadata-token-ttl-seconds: 60\r\n\r\n",
		    names[i]);
		snprintf(want, sizeof(want),
			 "Invalid header. Reason: Unsupported header name. Key: %s", names[i]);
		expect(ask(f, req), 0, 400, "text/plain", want);
	}
	expect(ask(f, "PUT http://169.254.169.254 HTTP/1.0\r\nX-Forwarded-For: foo\r\n\r\n"), 0,
	       400, "text/plain", "Invalid URI.");
	expect(ask(f, "PUT /token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n"), 0, 404,
	       "text/plain", "Resource not found: /token.");
	expect(ask(f, "PUT /latest/api/toke HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n"),
	       0, 404, "text/plain", "Resource not found: /latest/api/toke.");
	assert_int_equal(
	    ask(f, "PUT /latest/api/token/ HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n")
		->status,
	    404);
	assert_int_equal(
	    ask(f, "PUT //latest//api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n")
		->status,
	    200);
	rand_fail = true;
	expect(ask(f, "PUT /latest/api/token HTTP/1.0\r\nX-metadata-token-ttl-seconds: 60\r\n\r\n"),
	       0, 400, "text/plain", "Failed to generate token.");
}

static void test_token_table(void **st)
{
	struct fix *f = *st;
	char first[MMDS_TOKEN_LEN + 1], tok[MMDS_TOKEN_LEN + 1], last[MMDS_TOKEN_LEN + 1];

	(void)st;
	assert_int_equal(mmds_token_new(&f->tokens, 0, 0, tok), -EINVAL);
	assert_int_equal(mmds_token_new(&f->tokens, MMDS_TOKEN_TTL_MAX + 1, 0, tok), -EINVAL);
	assert_int_equal(mmds_token_new(&f->tokens, 10, 0, first), 0);
	/* Expired tokens are reclaimed before any live one is evicted. */
	for (int i = 0; i < MMDS_TOKENS_MAX * 2; i++)
		assert_int_equal(mmds_token_new(&f->tokens, 1, 20000 + (uint64_t)i * 1000, tok), 0);
	assert_int_equal(f->tokens.evicted, 0);
	/* A full table of live tokens: the oldest goes. */
	assert_int_equal(mmds_token_new(&f->tokens, 100, 1000000, first), 0);
	for (int i = 0; i < MMDS_TOKENS_MAX - 1; i++)
		assert_int_equal(mmds_token_new(&f->tokens, 100, 1000000, tok), 0);
	assert_true(mmds_token_valid(&f->tokens, first, MMDS_TOKEN_LEN, 1000000));
	assert_int_equal(mmds_token_new(&f->tokens, 100, 1000000, last), 0);
	assert_int_equal(f->tokens.evicted, 1);
	assert_false(mmds_token_valid(&f->tokens, first, MMDS_TOKEN_LEN, 1000000));
	assert_true(mmds_token_valid(&f->tokens, last, MMDS_TOKEN_LEN, 1000000));
	assert_true(mmds_token_valid(&f->tokens, tok, MMDS_TOKEN_LEN, 1000000));
	assert_false(mmds_token_valid(&f->tokens, tok, MMDS_TOKEN_LEN - 1, 1000000));
	/* Free slots never match, not even an all-zero token. */
	memset(tok, 0, sizeof(tok));
	mmds_tokens_init(&f->tokens, fake_random);
	assert_false(mmds_token_valid(&f->tokens, tok, MMDS_TOKEN_LEN, 0));
}

/* Arbitrary bytes are answered, never crash (the fuzzer does more). */
static void test_any_bytes(void **st)
{
	struct fix *f = *st;
	char req[64];

	for (int i = 0; i < 4000; i++) {
		for (size_t k = 0; k < sizeof(req); k++)
			req[k] = "GET /\r\n:\xff HTTP/1.1Accept"[(i * 7 + k * 13 + k * k) % 23];
		assert_int_equal(mmds_http_answer(&f->h, req, (size_t)i % sizeof(req), 0, &f->r),
				 0);
		assert_true(f->r.status >= 200);
		free(f->r.data);
		f->r.data = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_end),
	    cmocka_unit_test_setup_teardown(test_exact_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_empty_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ttl, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_any_bytes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* fuzz_api.c — libFuzzer target: api_dispatch with arbitrary methods, paths and bodies.
 *
 * Input: a selector byte (the VM state the fake process reports and, in its high bits, whether
 * to pick a known method/path or take them from the input), then method, path and body
 * separated by NUL bytes. Each input is replayed against one long-lived api (so metrics and
 * logger state carry over between requests within an input) and a fresh configuration. Checks:
 * the status is 200, 204, 400 or 500; 204 has no body; other answers are JSON objects; errors
 * carry a string fault_message. Logger and metrics may only open /dev/null.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/log.h"

#include "fuzz_api_vm.h"

static const char *const methods[] = {"GET", "PUT", "PATCH", "POST", "DELETE"};
static const char *const paths[] = {
    "/",	"/version", "/boot-source", "/machine-config",	"/drives/rootfs",
    "/actions", "/vm",	    "/vm/config",   "/logger",		"/metrics",
    "/entropy", "/serial",  "/balloon",	    "/snapshot/create", "/drives/",
    "/mmds",	"/mmds",    "/mmds/config",
};

/* Split the next NUL-terminated field off [*p, end). */
static const char *field(const uint8_t **p, const uint8_t *end, char *buf, size_t cap)
{
	size_t n = 0;

	while (*p < end && **p && n + 1 < cap)
		buf[n++] = (char)*(*p)++;
	if (*p < end)
		(*p)++;
	buf[n] = 0;
	return buf;
}

/* Keep logger/metrics files from being created: only /dev/null may be opened. The body is
 * parsed as api_dispatch parses it, so both see the same values. */
static bool body_safe(const uint8_t *b, size_t n)
{
	static const char *const keys[] = {"log_path", "metrics_path"};
	json_t *j = json_loadb((const char *)b, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
	bool ok = true;

	for (int i = 0; i < 2 && json_is_object(j); i++) {
		const char *v = json_string_value(json_object_get(j, keys[i]));

		if (v && strcmp(v, "/dev/null") != 0)
			ok = false;
	}
	json_decref(j);
	return ok;
}

/* GET /mmds answers whatever JSON value was put; every other answer is an object. */
static void check(const struct api_response *r, bool any_value)
{
	json_t *j;

	assert(r->status == 200 || r->status == 204 || r->status == 400 || r->status == 413 ||
	       r->status == 500);
	if (r->status == 204) {
		assert(!r->body);
		return;
	}
	assert(r->body && strlen(r->body) == r->len);
	j = json_loads(r->body, JSON_DECODE_ANY, NULL);
	assert(j && (any_value || json_is_object(j)));
	if (r->status >= 400)
		assert(json_is_string(json_object_get(j, "fault_message")));
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	char mbuf[16], pbuf[256];
	const char *method, *path;
	struct vm_config cfg;
	struct api_response r;
	struct mmds m;
	struct api a;

	if (size < 1)
		return 0;
	log_set_level(LOG_OFF);
	fuzz_api_vm_pick(data[0]);
	method = field(&p, end, mbuf, sizeof(mbuf));
	path = field(&p, end, pbuf, sizeof(pbuf));
	if (data[0] & 0x10)
		method = methods[(data[0] >> 2) % 5];
	if (data[0] & 0x80)
		path = paths[(data[0] + size) % (sizeof(paths) / sizeof(paths[0]))];
	if (!body_safe(p, (size_t)(end - p)))
		return 0;
	config_defaults(&cfg);
	api_init(&a, &cfg, &fuzz_api_vm_ops, NULL);
	mmds_init(&m, 4096);
	a.mmds = &m;
	api_dispatch(&a, method, path, (const char *)p, (size_t)(end - p), &r);
	check(&r, strcmp(path, "/mmds") == 0);
	api_response_free(&r);
	/* The same request again: state carried over (metrics configured once, a patch merged into
	 * what the put stored, ...) */
	api_dispatch(&a, method, path, (const char *)p, (size_t)(end - p), &r);
	check(&r, strcmp(path, "/mmds") == 0);
	api_response_free(&r);
	api_destroy(&a);
	mmds_destroy(&m);
	log_set_output(-1, 0, 0);
	return 0;
}

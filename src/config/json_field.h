/* json_field.h — typed, checked reads of one JSON object's fields with one-line errors naming the
 * resource and the field: the one validation layer for JSON input, used by the per-resource
 * converters in config_json.c (config files and the API's configuration bodies) and by the API's
 * own handlers (src/api/api.c: actions, vm, logger, metrics, snapshots, migrate).
 *
 * The rules, the same for every input path:
 * - null is absent (as Firecracker's serde treats null for an optional field): an optional field
 *   given as null keeps its default; a required field given as null is missing.
 * - Messages are one line, "<resource>: field '<name>': <problem>", where <resource> is the
 *   object's path ("machine-config", "drives[0]", "snapshot/load.mem_backend"):
 *     "<resource>: unknown field '<name>'"
 *     "<resource>: field '<name>' is missing (required)"
 *     "<resource>: field '<name>': expected <type>, got <type>"
 *     "<resource>: field '<name>': <n> is outside <min>..<max>"
 *     "<resource>: field '<name>': \"<value>\" is not one of \"A\", \"B\""
 * It lives in src/config because the API already depends on the configuration (its bodies become
 * struct vm_config through config_json.c) and it reuses config's string and number parsers. */
#ifndef KILN_CONFIG_JSON_FIELD_H
#define KILN_CONFIG_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/compiler.h"

/* The object being read, and where its errors go. `name` prefixes every message
 * ("machine-config", "drives[0]", "machine-config.kiln_topology"). */
struct jres {
	const char *name;
	const json_t *obj;
	char *err;
	size_t errlen;
};

#define JF_REQUIRED 1u /* absent or null: "field 'x' is missing (required)" */
#define JF_NONEMPTY 2u /* strings: "" is an error */

/* Replace control characters (from echoed field names and values) in a message by '?', so it
 * stays one line. */
void json_msg_oneline(char *msg);

/* Write "<name>: <message>" to r->err; returns -EINVAL. */
int jres_fail(const struct jres *r, const char *fmt, ...) PRINTF(2, 3);

/* "a string", "an integer", ... for messages. */
const char *json_type_name(const json_t *v);

/* r->obj must be an object whose keys are all in `fields` (NULL-terminated). 0 or -EINVAL. */
int jres_check_fields(const struct jres *r, const char *const *fields) MUST_CHECK;

/*
 * Each reader below returns 1 when the field is present (and valid, *out set), 0 when it is
 * absent or null (*out untouched; an error instead with JF_REQUIRED), -EINVAL on a wrong type or
 * value (message written).
 */
int jf_string(const struct jres *r, const char *field, unsigned flags, char *out,
	      size_t size) MUST_CHECK;
/* A string without a copy: *out points into r->obj (valid while the JSON value lives). */
int jf_string_ref(const struct jres *r, const char *field, unsigned flags,
		  const char **out) MUST_CHECK;
/* An object (read its fields with a struct jres of its own, named "<resource>.<field>"). */
int jf_object(const struct jres *r, const char *field, unsigned flags,
	      const json_t **out) MUST_CHECK;
int jf_bool(const struct jres *r, const char *field, unsigned flags, bool *out) MUST_CHECK;
/* An integer in min..max. */
int jf_uint(const struct jres *r, const char *field, unsigned flags, uint64_t min, uint64_t max,
	    uint64_t *out) MUST_CHECK;
/* A guest address: a non-negative integer, or a string in decimal or 0x-hex. */
int jf_addr(const struct jres *r, const char *field, unsigned flags, uint64_t *out) MUST_CHECK;
/* A string among `names` (NULL-terminated); *out is its index. */
int jf_enum(const struct jres *r, const char *field, unsigned flags, const char *const *names,
	    unsigned *out) MUST_CHECK;
/* Fields kiln accepts only as null or absent (rate limiters, vhost-user sockets): 0 or -EINVAL
 * "field 'x': <why> (only null is accepted)". */
int jf_null_only(const struct jres *r, const char *field, const char *why) MUST_CHECK;

#endif

/* json_field.c — checked reads of JSON object fields for the configuration converters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "config/json_field.h"

void json_msg_oneline(char *msg)
{
	for (; *msg; msg++)
		if ((unsigned char)*msg < 0x20 || *msg == 0x7f)
			*msg = '?';
}

int jres_fail(const struct jres *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "%s: %s", r->name, msg);
	return -EINVAL;
}

const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

int jres_check_fields(const struct jres *r, const char *const *fields)
{
	const char *key;
	json_t *v;

	if (!json_is_object(r->obj))
		return jres_fail(r, "expected an object, got %s", json_type_name(r->obj));
	json_object_foreach((json_t *)r->obj, key, v)
	{
		unsigned i = 0;

		while (fields[i] && strcmp(fields[i], key) != 0)
			i++;
		if (!fields[i])
			return jres_fail(r, "unknown field '%s'", key);
	}
	return 0;
}

/* The field's value if present and of `want` type: 1; absent/null: 0; else -EINVAL. */
static int field_get(const struct jres *r, const char *field, unsigned flags, const char *want,
		     int (*is)(const json_t *), const json_t **out)
{
	const json_t *v = json_object_get(r->obj, field);

	if (!v || json_is_null(v)) {
		if (flags & JF_REQUIRED)
			return jres_fail(r, "field '%s' is missing (required)", field);
		return 0;
	}
	if (!is(v))
		return jres_fail(r, "field '%s': expected %s, got %s", field, want,
				 json_type_name(v));
	*out = v;
	return 1;
}

static int is_string(const json_t *v)
{
	return json_is_string(v);
}

static int is_bool(const json_t *v)
{
	return json_is_boolean(v);
}

static int is_integer(const json_t *v)
{
	return json_is_integer(v);
}

static int is_addr(const json_t *v)
{
	return json_is_integer(v) || json_is_string(v);
}

static int is_object(const json_t *v)
{
	return json_is_object(v);
}

int jf_string_ref(const struct jres *r, const char *field, unsigned flags, const char **out)
{
	const json_t *v = NULL;
	int ret = field_get(r, field, flags, "a string", is_string, &v);

	if (ret <= 0)
		return ret;
	if ((flags & JF_NONEMPTY) && json_string_length(v) == 0)
		return jres_fail(r, "field '%s': must not be empty", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return jres_fail(r, "field '%s': contains a NUL character", field);
	*out = json_string_value(v);
	return 1;
}

int jf_string(const struct jres *r, const char *field, unsigned flags, char *out, size_t size)
{
	const char *s = NULL;
	int ret = jf_string_ref(r, field, flags, &s);

	if (ret <= 0)
		return ret;
	if (config_copy_str(out, size, s) < 0)
		return jres_fail(r, "field '%s': longer than %zu bytes", field, size - 1);
	return 1;
}

int jf_object(const struct jres *r, const char *field, unsigned flags, const json_t **out)
{
	return field_get(r, field, flags, "an object", is_object, out);
}

int jf_bool(const struct jres *r, const char *field, unsigned flags, bool *out)
{
	const json_t *v = NULL;
	int ret = field_get(r, field, flags, "a boolean", is_bool, &v);

	if (ret > 0)
		*out = json_is_true(v);
	return ret;
}

int jf_uint(const struct jres *r, const char *field, unsigned flags, uint64_t min, uint64_t max,
	    uint64_t *out)
{
	const json_t *v = NULL;
	int ret = field_get(r, field, flags, "an integer", is_integer, &v);
	json_int_t n;

	if (ret <= 0)
		return ret;
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return jres_fail(r, "field '%s': %lld is outside %llu..%llu", field, (long long)n,
				 (unsigned long long)min, (unsigned long long)max);
	*out = (uint64_t)n;
	return 1;
}

int jf_addr(const struct jres *r, const char *field, unsigned flags, uint64_t *out)
{
	const json_t *v = NULL;
	int ret = field_get(r, field, flags, "an integer or a string", is_addr, &v);

	if (ret <= 0)
		return ret;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 1;
	}
	if (json_is_string(v) && config_parse_u64(json_string_value(v), out) == 0)
		return 1;
	return jres_fail(r,
			 "field '%s': not an address (a non-negative integer, or a string in "
			 "decimal or 0x-hex)",
			 field);
}

int jf_enum(const struct jres *r, const char *field, unsigned flags, const char *const *names,
	    unsigned *out)
{
	const json_t *v = NULL;
	int ret = field_get(r, field, flags, "a string", is_string, &v);
	char list[256] = "";

	if (ret <= 0)
		return ret;
	for (unsigned i = 0; names[i]; i++) {
		if (strcmp(names[i], json_string_value(v)) == 0) {
			*out = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"",
			 i ? ", " : "", names[i]);
	}
	return jres_fail(r, "field '%s': \"%.64s\" is not one of %s", field, json_string_value(v),
			 list);
}

int jf_null_only(const struct jres *r, const char *field, const char *why)
{
	const json_t *v = json_object_get(r->obj, field);

	if (v && !json_is_null(v))
		return jres_fail(r, "field '%s': %s (only null is accepted)", field, why);
	return 0;
}

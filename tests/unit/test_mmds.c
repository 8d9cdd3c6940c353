/* test_mmds.c — the MMDS data store: put/get, the merge patch (RFC 7396's own examples), the size
 * limit measured on compact JSON at its exact boundary, and --metadata files (good, not JSON,
 * over the limit, a directory, a FIFO that must not block, missing). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mmds/mmds.h"

static json_t *J(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	assert_non_null(v);
	return v;
}

/* m's document equals the JSON text want. */
static void assert_doc(struct mmds *m, const char *want)
{
	json_t *got = mmds_get(m), *w = J(want);

	if (!json_equal(got, w)) {
		char *s = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);

		fail_msg("document %s, want %s", s, want);
	}
	json_decref(got);
	json_decref(w);
}

static void test_empty_until_put(void **st)
{
	struct mmds m;
	json_t *p = J("{\"a\":1}");

	(void)st;
	mmds_init(&m, MMDS_DEFAULT_LIMIT);
	assert_doc(&m, "{}");
	assert_int_equal(mmds_patch(&m, p), -ENODATA); /* Firecracker: not initialized */
	assert_false(m.created);
	assert_int_equal(mmds_put(&m, p), 0);
	assert_true(m.created);
	assert_doc(&m, "{\"a\":1}");
	json_decref(p);
	p = J("null"); /* a null document reads as {} (Firecracker's answer) */
	assert_int_equal(mmds_put(&m, p), 0);
	assert_doc(&m, "{}");
	json_decref(p);
	p = J("\"text\""); /* any JSON value may be put */
	assert_int_equal(mmds_put(&m, p), 0);
	assert_doc(&m, "\"text\"");
	json_decref(p);
	mmds_destroy(&m);
}

/* RFC 7396 appendix A: target, patch, result. */
static void test_merge_patch_rfc7396(void **st)
{
	static const char *const cases[][3] = {
	    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
	    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
	    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
	    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
	    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
	    {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
	    {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
	    {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
	    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
	    {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
	    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mmds m;
		json_t *t = J(cases[i][0]), *p = J(cases[i][1]);

		mmds_init(&m, MMDS_DEFAULT_LIMIT);
		assert_int_equal(mmds_put(&m, t), 0);
		assert_int_equal(mmds_patch(&m, p), 0);
		assert_doc(&m, cases[i][2]);
		/* the patch is not taken over: changing it later leaves the store alone */
		if (json_is_object(p))
			json_object_set_new(p, "zz", json_true());
		assert_doc(&m, cases[i][2]);
		json_decref(t);
		json_decref(p);
		mmds_destroy(&m);
	}
}

/* A document of exactly n bytes as compact JSON: {"k":"aaa..."} is 8 + len bytes. */
static json_t *doc_of_size(size_t n)
{
	char *s = malloc(n - 8 + 1);
	json_t *v;

	memset(s, 'a', n - 8);
	s[n - 8] = 0;
	v = json_pack("{s:s}", "k", s);
	free(s);
	assert_int_equal(mmds_json_size(v), n);
	return v;
}

static void test_limit_boundary(void **st)
{
	struct mmds m;
	json_t *fits = doc_of_size(100), *over = doc_of_size(101), *grow, *shrink;

	(void)st;
	mmds_init(&m, 100);
	assert_int_equal(mmds_put(&m, over), -EFBIG);
	assert_doc(&m, "{}");
	assert_int_equal(mmds_put(&m, fits), 0);
	grow = J("{\"x\":1}");
	assert_int_equal(mmds_patch(&m, grow), -EFBIG); /* unchanged on failure */
	assert_int_equal(mmds_json_size(m.data), 100);
	shrink = J("{\"k\":\"b\"}");
	assert_int_equal(mmds_patch(&m, shrink), 0);
	assert_int_equal(mmds_patch(&m, grow), 0);
	assert_doc(&m, "{\"k\":\"b\",\"x\":1}");
	json_decref(fits);
	json_decref(over);
	json_decref(grow);
	json_decref(shrink);
	mmds_destroy(&m);
}

/* Write text to a new temporary file; its path (static buffer). */
static const char *temp_file(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/kiln-mmds-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_load_file(void **st)
{
	struct mmds m;
	char err[600];
	const char *p;
	char fifo[64];

	(void)st;
	mmds_init(&m, 30);
	p = temp_file("{\"latest\": {\"id\": \"i-1\"}}");
	assert_int_equal(mmds_load_file(&m, p, err, sizeof(err)), 0);
	assert_doc(&m, "{\"latest\":{\"id\":\"i-1\"}}");
	unlink(p);
	p = temp_file("{\"a\": ");
	assert_int_equal(mmds_load_file(&m, p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not valid JSON"));
	unlink(p);
	p = temp_file("{\"a\": \"0123456789012345678901234567890\"}");
	assert_int_equal(mmds_load_file(&m, p, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "over the MMDS limit of 30"));
	assert_doc(&m, "{\"latest\":{\"id\":\"i-1\"}}"); /* unchanged */
	unlink(p);
	assert_int_equal(mmds_load_file(&m, "/tmp", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(mmds_load_file(&m, "/nonexistent/x", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	/* A FIFO with no writer: refused at once, never waited on. */
	snprintf(fifo, sizeof(fifo), "/tmp/kiln-mmds-fifo-%d", (int)getpid());
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(mmds_load_file(&m, fifo, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(fifo);
	mmds_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_until_put),
	    cmocka_unit_test(test_merge_patch_rfc7396),
	    cmocka_unit_test(test_limit_boundary),
	    cmocka_unit_test(test_load_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

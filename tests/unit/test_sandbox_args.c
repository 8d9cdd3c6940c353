/* test_sandbox_args.c — `kiln sandbox` flags: what they set, and one-line errors for bad ones. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sandbox/args.h"

static struct sandbox_args a;
static char err[512];

/* Parse a NULL-terminated list after "sandbox". */
static int parse(const char *first, ...)
{
	static char *argv[64];
	const char *s = first;
	va_list ap;
	int argc = 0;

	argv[argc++] = "sandbox";
	va_start(ap, first);
	for (; s; s = va_arg(ap, const char *))
		argv[argc++] = (char *)s;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return sandbox_args_parse(&a, argc, argv, err, sizeof(err));
}

static void test_full(void **st)
{
	(void)st;
	assert_int_equal(parse("--kernel", "/k", "--cpus", "2", "--memory", "512M", "--disk",
			       "/d1,ro,id=x", "--disk", "/d2", "--timeout", "2.5", "--cmdline",
			       "loglevel=7", "-v", "--", "sh", "-c", "exit 3", NULL),
			 0);
	assert_string_equal(a.vm.kernel_path, "/k");
	assert_int_equal(config_vcpus(&a.vm), 2);
	assert_true(a.vm.mem_bytes == 512ULL << 20);
	assert_int_equal(a.vm.nr_disks, 2);
	assert_true(a.vm.disks[0].read_only);
	assert_string_equal(a.vm.disks[0].id, "x");
	assert_string_equal(a.vm.disks[1].path, "/d2");
	assert_true(a.timeout_s == 2.5);
	assert_string_equal(a.timeout_text, "2.5");
	assert_string_equal(a.vm.cmdline, SANDBOX_BASE_CMDLINE " loglevel=7");
	assert_int_equal(a.vm.verbosity, 1);
	assert_string_equal(a.cmd[0], "sh");
	assert_string_equal(a.cmd[1], "-c");
	assert_string_equal(a.cmd[2], "exit 3");
	assert_null(a.cmd[3]);
}

static void test_defaults(void **st)
{
	(void)st;
	/* no "--": options stop at the command, whose own options stay its own */
	assert_int_equal(parse("--kernel", "/k", "ls", "-l", "--timeout", NULL), 0);
	assert_string_equal(a.vm.cmdline, SANDBOX_BASE_CMDLINE);
	assert_true(a.timeout_s == 0);
	assert_int_equal(config_vcpus(&a.vm), 1);
	assert_true(a.vm.mem_bytes == 256ULL << 20);
	assert_string_equal(a.cmd[0], "ls");
	assert_string_equal(a.cmd[2], "--timeout");
	assert_int_equal(parse("--topology", "1:2:2", "--kernel", "/k", "--", "x", NULL), 0);
	assert_int_equal(config_vcpus(&a.vm), 4);
}

static void test_errors(void **st)
{
	static const struct {
		const char *args[6];
		const char *msg;
	} cases[] = {
	    {{"--", "true"}, "--kernel PATH is required"},
	    {{"--kernel", "/k"}, "no command given"},
	    {{"--kernel", "/k", "--"}, "no command given"},
	    {{"--kernel"}, "needs a value"},
	    {{"--kernel", "/k", "--bogus", "x"}, "unknown option '--bogus'"},
	    {{"--kernel", "/k", "--memory", "1x", "x"}, "--memory: '1x' is not a size"},
	    {{"--kernel", "/k", "--cpus", "0", "x"}, "--cpus: '0'"},
	    {{"--kernel", "/k", "--cpus", "2", "--topology", "1:1:2"}, "mutually exclusive"},
	    {{"--kernel", "/k", "--timeout", "-1", "x"}, "--timeout: '-1'"},
	    {{"--kernel", "/k", "--timeout", "1e3", "x"}, "--timeout: '1e3'"},
	    {{"--kernel", "/k", "--timeout", "99999999", "x"}, "--timeout"},
	    {{"--kernel", "/k", "--timeout", "nan", "x"}, "--timeout"},
	    {{"--kernel", "/k", "--disk", "/d,root", "x"}, "'root' does not apply"},
	    {{"--kernel", "/k", "--disk", "/d,bogus", "x"}, "--disk: option 'bogus'"},
	    {{"--kernel", "", "x"}, "--kernel: empty"},
	};

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *v = cases[i].args;

		assert_int_equal(parse(v[0], v[1], v[2], v[3], v[4], v[5], NULL), -EINVAL);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].msg);
		assert_null(strchr(err, '\n'));
	}
}

static void test_cmdline_too_long(void **st)
{
	static char extra[CONFIG_CMDLINE_MAX];

	(void)st;
	memset(extra, 'a', sizeof(extra) - 1);
	assert_int_equal(parse("--kernel", "/k", "--cmdline", extra, "x", NULL), -EINVAL);
	assert_non_null(strstr(err, "--cmdline"));
}

static void test_help(void **st)
{
	(void)st;
	assert_int_equal(parse("--help", NULL), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),   cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_errors), cmocka_unit_test(test_cmdline_too_long),
	    cmocka_unit_test(test_help),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

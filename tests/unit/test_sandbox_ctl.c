/* test_sandbox_ctl.c — the control-channel parser (good sequences in any chunking; garbage,
 * overlong lines, bad numbers, events out of order) and the exit status decided from it. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "sandbox/ctl.h"
#include "sandbox/status.h"

static struct sandbox_ctl feed_all(const char *s)
{
	struct sandbox_ctl c;

	sandbox_ctl_init(&c);
	(void)sandbox_ctl_feed(&c, s, strlen(s));
	sandbox_ctl_end(&c);
	return c;
}

static void test_exit(void **st)
{
	struct sandbox_ctl c = feed_all("KILN-SANDBOX start\nKILN-SANDBOX exit 42\n");

	(void)st;
	assert_int_equal(c.state, SANDBOX_CTL_DONE);
	assert_true(c.started);
	assert_int_equal(c.result, SANDBOX_CTL_EXITED);
	assert_int_equal(c.value, 42);
}

/* Byte by byte: the final event is announced exactly once, on its newline. */
static void test_chunks(void **st)
{
	const char *s = "KILN-SANDBOX start\r\nKILN-SANDBOX signal 9\n";
	struct sandbox_ctl c;
	int finals = 0;

	(void)st;
	sandbox_ctl_init(&c);
	for (size_t i = 0; i < strlen(s); i++) {
		bool f = sandbox_ctl_feed(&c, s + i, 1);

		finals += f;
		if (f)
			assert_int_equal(s[i], '\n');
	}
	assert_int_equal(finals, 1);
	assert_int_equal(c.state, SANDBOX_CTL_DONE);
	assert_int_equal(c.result, SANDBOX_CTL_SIGNALED);
	assert_int_equal(c.value, 9);
}

static void test_values(void **st)
{
	static const struct {
		const char *line;
		bool ok;
	} cases[] = {
	    {"exit 0", true},	       {"exit 255", true},	   {"exit 256", false},
	    {"exit -1", false},	       {"exit +1", false},	   {"exit 01", false},
	    {"exit 0x1", false},       {"exit ", false},	   {"exit", false},
	    {"exit  1", false},	       {"exit 1 ", false},	   {"exit 99999999999", false},
	    {"signal 0", false},       {"signal 1", true},	   {"signal 64", true},
	    {"signal 65", false},      {"exec-error 2", true},	   {"exec-error 0", false},
	    {"exec-error 4095", true}, {"exec-error 4096", false}, {"Exit 1", false},
	    {"exited 1", false},       {"bogus", false},	   {"", false},
	};
	char buf[128];

	(void)st;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sandbox_ctl c;

		snprintf(buf, sizeof(buf), "KILN-SANDBOX start\nKILN-SANDBOX %s\n", cases[i].line);
		c = feed_all(buf);
		if (c.state != (cases[i].ok ? SANDBOX_CTL_DONE : SANDBOX_CTL_BROKEN))
			fail_msg("'%s': state %d", cases[i].line, c.state);
		assert_true(c.started);
	}
}

static void test_order(void **st)
{
	static const char *const bad[] = {
	    "KILN-SANDBOX exit 0\n",					      /* no start */
	    "KILN-SANDBOX start\nKILN-SANDBOX start\n",			      /* start twice */
	    "KILN-SANDBOX start\nKILN-SANDBOX exit 0\nKILN-SANDBOX exit 1\n", /* two finals */
	    "KILN-SANDBOX start\nKILN-SANDBOX exit 0\nKILN-SANDBOX start\n",
	    "KILN-SANDBOX start\nKILN-SANDBOX exit 0\nhello\n", /* text after */
	};

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sandbox_ctl c = feed_all(bad[i]);

		assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	}
	assert_false(feed_all(bad[0]).started);
	assert_true(feed_all(bad[2]).started);
}

static void test_garbage(void **st)
{
	char line[200];
	struct sandbox_ctl c;

	(void)st;
	c = feed_all("KILN-SANDBOX start\n\x01\x02\n");
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	assert_non_null(strstr(c.why, "line 2"));
	c = feed_all("KILN-SANDBOX start\nKILN-SANDBOX exit 0\xff\n");
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	c = feed_all("kiln-sandbox start\n");
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	c = feed_all("KILN-SANDBOX  start\n");
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	c = feed_all("KILN-SANDBOX start\nKILN-SANDBOX exit 0"); /* no newline at the end */
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	assert_non_null(strstr(c.why, "cut off"));
	/* an overlong line is refused as soon as it passes the limit */
	memset(line, 'A', sizeof(line));
	sandbox_ctl_init(&c);
	assert_false(sandbox_ctl_feed(&c, line, sizeof(line)));
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	assert_non_null(strstr(c.why, "longer than"));
	/* once broken, a valid line does not repair it */
	assert_false(sandbox_ctl_feed(&c, "KILN-SANDBOX start\n", 19));
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
	/* a 1 MiB flood is consumed without growing anything */
	sandbox_ctl_init(&c);
	for (int i = 0; i < 8192; i++)
		(void)sandbox_ctl_feed(&c, line, sizeof(line) / 2);
	assert_int_equal(c.state, SANDBOX_CTL_BROKEN);
}

static int outcome(const char *input, enum vm_stop_reason why, bool timed_out, int sig, char *msg)
{
	struct sandbox_ctl c = feed_all(input);
	struct sandbox_stop s = {
	    .reason = why, .timed_out = timed_out, .host_signal = sig, .timeout_text = "5"};

	return sandbox_ctl_outcome(&c, &s, msg, 256);
}

static void test_outcome(void **st)
{
	const char *started = "KILN-SANDBOX start\n";
	char msg[256];

	(void)st;
	assert_int_equal(
	    outcome("KILN-SANDBOX start\nKILN-SANDBOX exit 3\n", VM_STOP_POWEROFF, false, 0, msg),
	    3);
	assert_string_equal(msg, "");
	/* a valid status stands whatever stopped the VM afterwards */
	assert_int_equal(
	    outcome("KILN-SANDBOX start\nKILN-SANDBOX exit 0\n", VM_STOP_PANIC, true, 0, msg), 0);
	assert_int_equal(
	    outcome("KILN-SANDBOX start\nKILN-SANDBOX signal 9\n", VM_STOP_POWEROFF, false, 0, msg),
	    137);
	assert_int_equal(outcome("KILN-SANDBOX start\nKILN-SANDBOX exec-error 2\n",
				 VM_STOP_POWEROFF, false, 0, msg),
			 127);
	assert_non_null(strstr(msg, "No such file"));
	assert_int_equal(outcome("KILN-SANDBOX start\nKILN-SANDBOX exec-error 13\n",
				 VM_STOP_POWEROFF, false, 0, msg),
			 126);
	assert_int_equal(outcome(started, VM_STOP_HOST, true, 0, msg), SANDBOX_EXIT_TIMEOUT);
	assert_non_null(strstr(msg, "--timeout 5 expired while CMD ran"));
	assert_int_equal(outcome("", VM_STOP_HOST, true, 0, msg), SANDBOX_EXIT_NOT_STARTED);
	assert_non_null(strstr(msg, "did not start CMD within --timeout 5's boot limit"));
	assert_int_equal(outcome(started, VM_STOP_PANIC, false, 0, msg), SANDBOX_EXIT_PANIC);
	assert_int_equal(outcome("", VM_STOP_PANIC, false, 0, msg), SANDBOX_EXIT_NOT_STARTED);
	assert_non_null(strstr(msg, "panicked before CMD started"));
	assert_int_equal(outcome(started, VM_STOP_RESET, false, 0, msg), SANDBOX_EXIT_VM_STOPPED);
	assert_int_equal(outcome(started, VM_STOP_POWEROFF, false, 0, msg),
			 SANDBOX_EXIT_VM_STOPPED);
	assert_int_equal(outcome(started, VM_STOP_FATAL, false, 0, msg), SANDBOX_EXIT_VM_STOPPED);
	assert_int_equal(outcome("", VM_STOP_POWEROFF, false, 0, msg), SANDBOX_EXIT_NOT_STARTED);
	assert_int_equal(outcome(started, VM_STOP_HOST, false, SIGTERM, msg), 128 + SIGTERM);
	/* a broken channel gives no status: as if none came, and the message says why */
	assert_int_equal(outcome("KILN-SANDBOX start\nKILN-SANDBOX exit 0\ngarbage\n",
				 VM_STOP_POWEROFF, false, 0, msg),
			 SANDBOX_EXIT_VM_STOPPED);
	assert_non_null(strstr(msg, "malformed"));
	assert_int_equal(outcome("garbage\n", VM_STOP_POWEROFF, false, 0, msg),
			 SANDBOX_EXIT_NOT_STARTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exit),    cmocka_unit_test(test_chunks),
	    cmocka_unit_test(test_values),  cmocka_unit_test(test_order),
	    cmocka_unit_test(test_garbage), cmocka_unit_test(test_outcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_term.c — the Ctrl-A escape filter and raw mode on a pseudo-terminal. */
#include <errno.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend/term.h"

/* Filter s (with room for one more byte) and compare the output with want. */
static void filter(struct term_escape *st, const char *s, size_t n, const char *want, size_t want_n,
		   bool want_quit)
{
	uint8_t buf[64];
	bool quit = !want_quit;
	size_t got;

	assert_true(n < sizeof(buf));
	memcpy(buf, s, n);
	got = term_escape_filter(st, buf, n, &quit);
	assert_int_equal(quit, want_quit);
	assert_int_equal(got, want_n);
	assert_memory_equal(buf, want, want_n);
}

#define F(st, in, out, q) filter(st, in, sizeof(in) - 1, out, sizeof(out) - 1, q)

static void test_escape_plain(void **state)
{
	struct term_escape st = {0};

	(void)state;
	F(&st, "hello\r", "hello\r", false);
	F(&st, "", "", false);
	assert_false(st.pending);
}

static void test_escape_quit(void **state)
{
	struct term_escape st = {0};

	(void)state;
	F(&st, "ab\001xcd", "ab", true);
	assert_false(st.pending);
	F(&st, "ab\001", "ab", false); /* split across reads */
	assert_true(st.pending);
	F(&st, "xyz", "", true);
	F(&st, "\001X", "\001X", false); /* only a lower-case x quits */
}

static void test_escape_double(void **state)
{
	struct term_escape st = {0};

	(void)state;
	F(&st, "a\001\001b", "a\001b", false);
	F(&st, "\001\001\001\001", "\001\001", false);
	F(&st, "\001", "", false);
	F(&st, "\001q", "\001q", false); /* carried, then Ctrl-A Ctrl-A; q is plain */
	F(&st, "\001", "", false);
	F(&st, "\001", "\001", false);
	assert_false(st.pending);
}

static void test_escape_other(void **state)
{
	struct term_escape st = {0};

	(void)state;
	F(&st, "\001c", "\001c", false);
	F(&st, "z\001", "z", false);
	F(&st, "bcd", "\001bcd", false); /* the held Ctrl-A comes back in front */
	F(&st, "\001", "", false);
	F(&st, "b", "\001b", false);
	F(&st, "\001", "", false);
	F(&st, "\001\001x", "\001", true); /* held + Ctrl-A pass one; then Ctrl-A x quits */
}

static void test_escape_pair_then_x(void **state)
{
	struct term_escape st = {0};

	(void)state;
	/* after Ctrl-A Ctrl-A the escape is over: a following x is an ordinary byte */
	F(&st, "\001\001x", "\001x", false);
}

static void attr_equal(const struct termios *a, const struct termios *b)
{
	assert_int_equal(a->c_iflag, b->c_iflag);
	assert_int_equal(a->c_oflag, b->c_oflag);
	assert_int_equal(a->c_cflag, b->c_cflag);
	assert_int_equal(a->c_lflag, b->c_lflag);
	assert_memory_equal(a->c_cc, b->c_cc, sizeof(a->c_cc));
}

static void test_raw_pty(void **state)
{
	struct termios before, during, after;
	int m, s, m2, s2;

	(void)state;
	assert_int_equal(openpty(&m, &s, NULL, NULL, NULL), 0);
	assert_int_equal(openpty(&m2, &s2, NULL, NULL, NULL), 0);
	assert_int_equal(tcgetattr(s, &before), 0);
	assert_true(before.c_lflag & ICANON);
	assert_int_equal(term_raw_enable(s), 0);
	assert_int_equal(term_raw_enable(s), 0);       /* already on */
	assert_int_equal(term_raw_enable(s2), -EBUSY); /* one terminal at a time */
	assert_int_equal(tcgetattr(s, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG | IEXTEN));
	assert_false(during.c_iflag & (ICRNL | IXON));
	assert_int_equal(during.c_cc[VMIN], 1);
	assert_int_equal(during.c_oflag, before.c_oflag); /* output processing kept */
	term_restore();
	assert_int_equal(tcgetattr(s, &after), 0);
	attr_equal(&before, &after);
	term_restore(); /* idempotent */
	assert_int_equal(tcgetattr(s, &after), 0);
	attr_equal(&before, &after);
	assert_int_equal(term_raw_enable(s2), 0); /* free again after the restore */
	term_restore();
	close(m);
	close(s);
	close(m2);
	close(s2);
}

static void test_raw_pipe(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(term_raw_enable(p[0]), -ENOTTY);
	term_restore(); /* nothing saved: a no-op */
	close(p[0]);
	close(p[1]);
	assert_int_equal(term_raw_enable(p[0]), -EBADF);
}

/* Raw mode in a child that ends by `how`; the parent sees the settings restored. */
static void child_restores(int how, int want_sig)
{
	struct termios before, after;
	int m, s, st;
	pid_t pid;

	assert_int_equal(openpty(&m, &s, NULL, NULL, NULL), 0);
	assert_int_equal(tcgetattr(s, &before), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (term_raw_enable(s) != 0)
			_exit(3);
		if (how == 0)
			exit(0); /* atexit */
		raise(how);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (want_sig) {
		assert_true(WIFSIGNALED(st));
		assert_int_equal(WTERMSIG(st), want_sig);
	} else {
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(tcgetattr(s, &after), 0);
	attr_equal(&before, &after);
	close(m);
	close(s);
}

static void test_restore_at_exit(void **state)
{
	(void)state;
	child_restores(0, 0);
}

static void test_restore_on_signal(void **state)
{
	(void)state;
	child_restores(SIGTERM, SIGTERM);
	child_restores(SIGHUP, SIGHUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escape_plain),       cmocka_unit_test(test_escape_quit),
	    cmocka_unit_test(test_escape_double),      cmocka_unit_test(test_escape_other),
	    cmocka_unit_test(test_escape_pair_then_x), cmocka_unit_test(test_raw_pty),
	    cmocka_unit_test(test_raw_pipe),	       cmocka_unit_test(test_restore_at_exit),
	    cmocka_unit_test(test_restore_on_signal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

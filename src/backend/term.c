/* term.c — raw mode for the console terminal, restored on every exit path; the Ctrl-A escape. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "backend/term.h"

#define TERM_ESC  0x01 /* Ctrl-A */
#define TERM_QUIT 'x'

static const int term_signals[] = {SIGINT,  SIGTERM, SIGHUP, SIGQUIT, SIGABRT,
				   SIGSEGV, SIGBUS,  SIGFPE, SIGILL};

/* The settings to put back, valid while saved_fd >= 0 (read by signal handlers). */
static struct termios saved;
static volatile sig_atomic_t saved_fd = -1;
static int hooks_installed;

void term_restore(void)
{
	int fd = saved_fd;
	int err = errno; /* may run in a signal handler */

	if (fd < 0)
		return;
	(void)tcsetattr(fd, TCSANOW, &saved); /* TCSANOW: never wait on a stuck output queue */
	saved_fd = -1;
	errno = err;
}

/* Restore, then die from the same signal with its default action (SA_RESETHAND reset it,
 * SA_NODEFER lets raise() deliver it at once). */
static void on_fatal_signal(int sig)
{
	term_restore();
	raise(sig);
}

/* Install on_fatal_signal where the disposition is still the default: a signal someone else
 * handles (or ignores) is left alone, and blocked ones (main's signalfd) never get here. */
static void hooks_install(void)
{
	struct sigaction sa, old;

	if (hooks_installed)
		return;
	hooks_installed = 1;
	(void)atexit(term_restore);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]); i++) {
		if (sigaction(term_signals[i], NULL, &old) < 0)
			continue;
		if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			(void)sigaction(term_signals[i], &sa, NULL);
	}
}

/* Like cfmakeraw, but output processing (OPOST, ONLCR) stays as it was: guests that print a
 * bare "\n" and kiln's own messages on stderr still start at column 0, and a guest's "\r\n"
 * only gains a harmless extra "\r". */
static void make_raw(struct termios *t)
{
	t->c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t->c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t->c_cflag &= ~(CSIZE | PARENB);
	t->c_cflag |= CS8;
	t->c_cc[VMIN] = 1;
	t->c_cc[VTIME] = 0;
}

int term_raw_enable(int fd)
{
	struct termios raw;
	int ret;

	if (!isatty(fd))
		return errno == EBADF ? -EBADF : -ENOTTY;
	if (saved_fd >= 0)
		return saved_fd == fd ? 0 : -EBUSY;
	if (tcgetattr(fd, &saved) < 0)
		return -errno;
	raw = saved;
	make_raw(&raw);
	hooks_install();
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* `saved` complete before handlers may use it */
	saved_fd = fd;
	if (tcsetattr(fd, TCSANOW, &raw) < 0) {
		ret = -errno;
		saved_fd = -1;
		return ret;
	}
	return 0;
}

size_t term_escape_filter(struct term_escape *st, uint8_t *buf, size_t len, bool *quit)
{
	size_t r = 0, w = 0;

	*quit = false;
	if (st->pending && len > 0) { /* the escape began in the previous buffer */
		st->pending = false;
		if (buf[0] == TERM_QUIT) {
			*quit = true;
			return 0;
		}
		if (buf[0] == TERM_ESC) { /* Ctrl-A Ctrl-A: one passes */
			r = w = 1;
		} else { /* both bytes pass: the one byte by which the output can grow */
			memmove(buf + 1, buf, len);
			buf[0] = TERM_ESC;
			len++;
			r = w = 2;
		}
	}
	/* From here on w <= r: each byte written has been read already. */
	for (; r < len; r++) {
		uint8_t c = buf[r];

		if (!st->pending) {
			if (c == TERM_ESC)
				st->pending = true;
			else
				buf[w++] = c;
			continue;
		}
		st->pending = false;
		if (c == TERM_QUIT) {
			*quit = true;
			return w;
		}
		if (c != TERM_ESC)
			buf[w++] = TERM_ESC;
		buf[w++] = c;
	}
	return w;
}

/* term.h — console input from a terminal: raw mode restored on every exit path, and the
 * Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A). */
#ifndef KILN_BACKEND_TERM_H
#define KILN_BACKEND_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

/*
 * If fd is a terminal, switch it to raw mode (no echo, no line editing, no signal keys) and
 * arrange for the saved settings to be restored by term_restore(), at exit(), and when the
 * process dies from SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE or SIGILL.
 * Returns 0, -ENOTTY if fd is not a terminal (nothing changed), or -errno.
 */
int term_raw_enable(int fd) MUST_CHECK;

/* Restore the saved terminal settings, if any. Idempotent, async-signal-safe. */
void term_restore(void);

struct term_escape {
	bool pending; /* the previous byte was Ctrl-A */
};

/*
 * Filter console input in place for the Ctrl-A escape. Returns the number of bytes left for
 * the guest; sets *quit when Ctrl-A x was typed (bytes after it are dropped).
 */
size_t term_escape_filter(struct term_escape *st, uint8_t *buf, size_t len, bool *quit);

#endif

/* term.h — console input from a terminal: raw mode restored on every exit path, and the
 * Ctrl-A escape (Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A). */
#ifndef KILN_BACKEND_TERM_H
#define KILN_BACKEND_TERM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/compiler.h"

/*
 * If fd is a terminal, switch it to raw mode (no echo, no line editing, no signal keys, 8-bit
 * input) and arrange for the saved settings to be restored by term_restore(), at exit(), and
 * when the process dies from SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE
 * or SIGILL. Output processing (OPOST/ONLCR) is left as it was, so a bare "\n" still returns
 * the carriage. The signal handlers are installed once, only for signals whose disposition is
 * still the default; they restore the terminal and re-raise the signal with the default action.
 * Signals the caller blocks (kiln's main reads SIGINT/SIGTERM/SIGHUP from a signalfd) never
 * reach them: such callers must call term_restore() themselves. Not thread-safe: call from the
 * main thread before starting others. Returns 0 (also if raw mode is already on for this fd),
 * -ENOTTY if fd is not a terminal (nothing changed), -EBUSY if raw mode is on for another fd,
 * or -errno.
 */
int term_raw_enable(int fd) MUST_CHECK;

/* Restore the saved terminal settings, if any (TCSANOW: it never waits for output to drain);
 * afterwards term_raw_enable() may be called again. Idempotent, async-signal-safe. */
void term_restore(void);

struct term_escape {
	bool pending; /* the previous byte was Ctrl-A */
};

/*
 * Filter console input in place for the Ctrl-A escape: Ctrl-A x quits, Ctrl-A Ctrl-A passes one
 * Ctrl-A, Ctrl-A followed by anything else passes both bytes. A Ctrl-A at the end of buf is
 * held in *st until the next call (zero-initialise *st). Returns the number of bytes left for
 * the guest; sets *quit when Ctrl-A x was typed (bytes after it are dropped, *quit is cleared
 * otherwise). buf must have room for len + 1 bytes: a Ctrl-A held from the previous call that
 * turns out not to be an escape is put back in front, so the output can be one byte longer.
 */
size_t term_escape_filter(struct term_escape *st, uint8_t *buf, size_t len, bool *quit);

#endif

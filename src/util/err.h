/* err.h — an error context that travels with a call: the first failure's code and one-line
 * message, for the caller that has to pass the reason on (the API's fault_message, the migration
 * receiver's refusal). Each caller owns its context, so nothing is shared between threads. */
#ifndef KILN_UTIL_ERR_H
#define KILN_UTIL_ERR_H

#include <stdbool.h>
#include "util/compiler.h"

#define KILN_ERR_MSG 256

/* Zero-initialise ({0}) or err_clear before the call; code 0 and msg "" mean no error yet. */
struct kiln_err {
	int code;		/* the first recorded -errno */
	char msg[KILN_ERR_MSG]; /* its message, one line */
};

/*
 * Report a failure: log the message with log_err (so the command line still prints it) and, if
 * e is not NULL and holds no message yet, record code and the message in e (the first failure
 * is the cause; later ones are consequences). Returns code (a negative errno), so callers can
 * write `return err_set(e, -EINVAL, "...", ...)`. Thread-safe as long as e is not shared.
 */
#define err_set(e, code, ...) err_set_at(e, code, __FILE__, __LINE__, __VA_ARGS__)
int err_set_at(struct kiln_err *e, int code, const char *file, int line, const char *fmt, ...)
    PRINTF(5, 6);

/* Whether -errno `code` comes from what the user asked for (a bad value, a state, a path that
 * cannot be used: missing, a directory, read-only, not a regular file, ...) rather than from
 * kiln or the host failing (out of memory, an I/O error): an HTTP 400 or exit status 2 against
 * a 500 or status 4. */
bool err_from_input(int code);

/* Forget any recorded failure. e may be NULL. */
void err_clear(struct kiln_err *e);

/* The recorded message, or strerror(-code) when nothing was recorded (e NULL or empty): what to
 * show for a call that returned code. Never NULL; valid while e lives (or static). */
const char *err_text(const struct kiln_err *e, int code);

#endif

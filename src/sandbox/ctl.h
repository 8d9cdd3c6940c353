/* ctl.h — kiln sandbox's control channel (COM2): the parser of the guest init's event lines, and
 * the exit status that follows from them and from how the VM stopped. Pure: no I/O. */
#ifndef KILN_SANDBOX_CTL_H
#define KILN_SANDBOX_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/vm.h"
#include "sandbox/protocol.h"

enum sandbox_ctl_state {
	SANDBOX_CTL_WAIT_START, /* nothing yet */
	SANDBOX_CTL_RUNNING,	/* "start" seen */
	SANDBOX_CTL_DONE,	/* the final event seen: result and value are valid */
	SANDBOX_CTL_BROKEN,	/* malformed input: no valid status, for good */
};

enum sandbox_ctl_result { SANDBOX_CTL_EXITED, SANDBOX_CTL_SIGNALED, SANDBOX_CTL_EXEC_FAILED };

struct sandbox_ctl {
	enum sandbox_ctl_state state;
	bool started;			     /* a valid "start" was seen (stays true once broken) */
	enum sandbox_ctl_result result;	     /* DONE */
	int value;			     /* DONE: exit status, signal number or errno */
	char line[SANDBOX_CTL_LINE_MAX + 2]; /* the line being collected (and a '\r') */
	size_t len;
	unsigned lines; /* complete lines parsed */
	char why[128];	/* BROKEN: the first problem, e.g. "line 2: unknown event 'x'" */
};

/* Start with nothing received. */
void sandbox_ctl_init(struct sandbox_ctl *c);

/*
 * Feed bytes from the guest, in any chunks. Lines are "KILN-SANDBOX start", then one of
 * "KILN-SANDBOX exit N" (0-255), "signal N" (1-64), "exec-error N" (1-4095): decimal, no sign,
 * no leading zeros, single spaces, "\n"-terminated (a "\r" before it is tolerated). Anything
 * else — another byte, a longer line, a bad number, an event out of order or after the final
 * one — breaks the channel for good (state BROKEN, reason in why). Returns true exactly when
 * this call completed the final event (state became DONE).
 */
bool sandbox_ctl_feed(struct sandbox_ctl *c, const void *buf, size_t len);

/* The channel ended (the VM stopped): a partial line left over breaks it. */
void sandbox_ctl_end(struct sandbox_ctl *c);

/* How the VM ended, as the host saw it. */
struct sandbox_stop {
	enum vm_stop_reason reason; /* VM_STOP_NONE if it never ran */
	bool timed_out;		    /* kiln stopped it when --timeout (or its boot limit) expired */
	int host_signal;	    /* kiln stopped it on this SIGINT/SIGTERM/SIGHUP, else 0 */
	const char *timeout_text;   /* --timeout as given, for the message */
};

/*
 * kiln sandbox's exit status (README's table) from the channel and the stop: CMD's status,
 * 128+N, 127/126 after an exec error when the final event is valid (whatever stopped the VM
 * afterwards); otherwise 124 (timeout), 123 (panic), 128+N (a signal to kiln), 121 (any other
 * stop) while CMD ran, and 122 for any of them before the guest started CMD (except a signal to
 * kiln, always 128+N). Writes the line
 * kiln prints (without "kiln sandbox: " and newline) to msg, or "" when CMD's own status is
 * returned without comment.
 */
int sandbox_ctl_outcome(const struct sandbox_ctl *c, const struct sandbox_stop *s, char *msg,
			size_t msglen);

#endif

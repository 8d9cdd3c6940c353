/* ctl.c — kiln sandbox's control-channel parser (guest input: bounded, strict, never trusted
 * further than one status) and the exit status decided from it. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/args.h"
#include "sandbox/ctl.h"
#include "sandbox/status.h"

static void broken(struct sandbox_ctl *c, const char *fmt, ...) PRINTF(2, 3);

static void broken(struct sandbox_ctl *c, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(c->why, sizeof(c->why), "line %u: %s", c->lines + 1, what);
	c->state = SANDBOX_CTL_BROKEN;
}

void sandbox_ctl_init(struct sandbox_ctl *c)
{
	memset(c, 0, sizeof(*c));
	c->state = SANDBOX_CTL_WAIT_START;
}

/* A decimal number in [lo, hi] without sign or leading zeros; -1 if s is not one. */
static int number(const char *s, int lo, int hi)
{
	long v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 4 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= lo && v <= hi ? (int)v : -1;
}

/* The final events and their ranges. */
static const struct final_event {
	const char *word;
	enum sandbox_ctl_result result;
	int lo, hi;
} finals[] = {
    {SANDBOX_CTL_EXIT, SANDBOX_CTL_EXITED, 0, 255},
    {SANDBOX_CTL_SIGNAL, SANDBOX_CTL_SIGNALED, 1, 64},
    {SANDBOX_CTL_EXEC_ERROR, SANDBOX_CTL_EXEC_FAILED, 1, 4095},
};

/* "WORD N" after the tag: a final event. */
static bool final_line(struct sandbox_ctl *c, const char *ev)
{
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		size_t n = strlen(finals[i].word);
		int v;

		if (strncmp(ev, finals[i].word, n) != 0 || ev[n] != ' ')
			continue;
		v = number(ev + n + 1, finals[i].lo, finals[i].hi);
		if (v < 0) {
			broken(c, "'%s' wants a number %d-%d", finals[i].word, finals[i].lo,
			       finals[i].hi);
			return false;
		}
		if (c->state != SANDBOX_CTL_RUNNING) {
			broken(c, "'%s' %s", finals[i].word,
			       c->state == SANDBOX_CTL_DONE ? "after the final event"
							    : "before 'start'");
			return false;
		}
		c->state = SANDBOX_CTL_DONE;
		c->result = finals[i].result;
		c->value = v;
		return true;
	}
	broken(c, "unknown event '%.40s'", ev);
	return false;
}

/* One complete line (NUL-terminated, printable ASCII only). */
static bool line_done(struct sandbox_ctl *c)
{
	const char *tag = SANDBOX_CTL_TAG " ", *ev;
	bool final = false;

	if (c->len > 0 && c->line[c->len - 1] == '\r')
		c->line[--c->len] = '\0';
	if (strncmp(c->line, tag, strlen(tag)) != 0) {
		broken(c, "not a " SANDBOX_CTL_TAG " line");
		return false;
	}
	ev = c->line + strlen(tag);
	if (strcmp(ev, SANDBOX_CTL_START) == 0) {
		if (c->state == SANDBOX_CTL_WAIT_START) {
			c->state = SANDBOX_CTL_RUNNING;
			c->started = true;
		} else {
			broken(c, "a second 'start' or one after the final event");
		}
	} else {
		final = final_line(c, ev);
	}
	if (c->state != SANDBOX_CTL_BROKEN)
		c->lines++;
	c->len = 0;
	return final;
}

bool sandbox_ctl_feed(struct sandbox_ctl *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	bool final = false;

	for (size_t i = 0; i < len && c->state != SANDBOX_CTL_BROKEN; i++) {
		uint8_t ch = p[i];

		if (ch == '\n') {
			c->line[c->len] = '\0';
			final |= line_done(c);
		} else if ((ch < 0x20 || ch > 0x7e) && ch != '\r') {
			broken(c, "byte 0x%02x", ch);
		} else if (c->len >= SANDBOX_CTL_LINE_MAX + 1) { /* the line and a '\r' */
			broken(c, "longer than %d bytes", SANDBOX_CTL_LINE_MAX);
		} else {
			c->line[c->len++] = (char)ch;
		}
	}
	return final && c->state == SANDBOX_CTL_DONE;
}

void sandbox_ctl_end(struct sandbox_ctl *c)
{
	if (c->state != SANDBOX_CTL_BROKEN && c->len > 0)
		broken(c, "cut off without a newline");
}

static const char *stop_name(enum vm_stop_reason r)
{
	switch (r) {
	case VM_STOP_POWEROFF:
		return "the guest powered off";
	case VM_STOP_RESET:
		return "the guest reset";
	case VM_STOP_FATAL:
		return "a vCPU failed";
	case VM_STOP_DEBUG_EXIT:
		return "the guest wrote the debug-exit port";
	case VM_STOP_PANIC:
		return "the guest kernel panicked";
	case VM_STOP_HOST:
		return "kiln stopped it";
	default:
		return "it never ran";
	}
}

/* The status after a valid final event. */
static int final_status(const struct sandbox_ctl *c, char *msg, size_t msglen)
{
	msg[0] = '\0';
	if (c->result == SANDBOX_CTL_EXITED)
		return c->value;
	if (c->result == SANDBOX_CTL_SIGNALED)
		return SANDBOX_EXIT_SIGNAL_BASE + c->value;
	snprintf(msg, msglen, "the guest could not execute CMD: %s (errno %d)", strerror(c->value),
		 c->value);
	return c->value == 2 /* ENOENT */ ? SANDBOX_EXIT_NOT_FOUND : SANDBOX_EXIT_CANNOT_EXEC;
}

int sandbox_ctl_outcome(const struct sandbox_ctl *c, const struct sandbox_stop *s, char *msg,
			size_t msglen)
{
	const char *when = c->started ? "while CMD ran" : "before CMD started";
	char note[sizeof(c->why) + 48] = "";
	int status;

	if (c->state == SANDBOX_CTL_DONE)
		return final_status(c, msg, msglen);
	if (c->state == SANDBOX_CTL_BROKEN)
		snprintf(note, sizeof(note), " (the control channel was malformed: %s)", c->why);
	if (s->timed_out && !c->started) {
		snprintf(
		    msg, msglen,
		    "the guest did not start CMD within --timeout %s's boot limit (the longer of "
		    "%s s and %d s)%s",
		    s->timeout_text, s->timeout_text, SANDBOX_BOOT_MIN_S, note);
		status = SANDBOX_EXIT_TIMEOUT;
	} else if (s->timed_out) {
		snprintf(msg, msglen, "--timeout %s expired while CMD ran%s", s->timeout_text,
			 note);
		status = SANDBOX_EXIT_TIMEOUT;
	} else if (s->host_signal) {
		snprintf(msg, msglen, "stopped by signal %d (%s) %s%s", s->host_signal,
			 strsignal(s->host_signal), when, note);
		return SANDBOX_EXIT_SIGNAL_BASE + s->host_signal;
	} else if (s->reason == VM_STOP_PANIC) {
		snprintf(msg, msglen, "the guest kernel panicked %s%s", when, note);
		status = SANDBOX_EXIT_PANIC;
	} else {
		snprintf(msg, msglen, "the VM stopped (%s) %s%s", stop_name(s->reason),
			 c->started ? "while CMD ran, without a status from it"
				    : "before CMD started",
			 note);
		status = SANDBOX_EXIT_VM_STOPPED;
	}
	return c->started ? status : SANDBOX_EXIT_NOT_STARTED;
}

/* status.c — filling in kiln sandbox's failure record. */
#include <stdarg.h>
#include <stdio.h>

#include "sandbox/status.h"

int sandbox_fail(struct sandbox_err *e, int status, int ret, const char *fmt, ...)
{
	va_list ap;

	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return ret;
}

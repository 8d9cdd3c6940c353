/* err.c — the per-call error context: log the failure, keep the first one for the caller. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"

int err_set_at(struct kiln_err *e, int code, const char *file, int line, const char *fmt, ...)
{
	char msg[KILN_ERR_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg_at(LOG_ERROR, file, line, "%s", msg);
	if (e && !e->msg[0]) {
		e->code = code;
		memcpy(e->msg, msg, sizeof(msg));
	}
	return code;
}

void err_clear(struct kiln_err *e)
{
	if (e) {
		e->code = 0;
		e->msg[0] = 0;
	}
}

const char *err_text(const struct kiln_err *e, int code)
{
	if (e && e->msg[0])
		return e->msg;
	return strerror(code < 0 ? -code : code);
}

bool err_from_input(int code)
{
	static const int errnos[] = {
	    EINVAL, EBUSY, ENOSPC, ENOENT, EACCES,  ENOSYS, EISDIR, ENOTDIR, EEXIST, ENAMETOOLONG,
	    EPERM,  EROFS, ELOOP,  ENXIO,  ETXTBSY, EFBIG,  EDQUOT, ENODEV,  ESPIPE, EMEDIUMTYPE};

	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (-code == errnos[i])
			return true;
	return false;
}

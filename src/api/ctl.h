/* ctl.h — `kiln ctl`: a small client of the API socket for the common actions. */
#ifndef KILN_API_CTL_H
#define KILN_API_CTL_H

#include <stddef.h>

#include "util/compiler.h"

/* A response as the client sees it. */
struct ctl_response {
	int status; /* HTTP status */
	char *body; /* malloc'ed, NUL-terminated ("" if none) */
};

/*
 * One HTTP/1.1 request over the Unix socket at sock (Connection: close; body may be NULL).
 * Returns 0 with out filled (free out->body), or -errno (connect, I/O, timeout after 10 s) /
 * -EPROTO (not an HTTP response).
 */
int ctl_request(const char *sock, const char *method, const char *path, const char *body,
		struct ctl_response *out) MUST_CHECK;

/*
 * `kiln ctl --sock PATH COMMAND` (argv[0] is "ctl"); commands: info, version, start, pause,
 * resume, ctrl-alt-del, config, metrics. Prints the result readably; returns 0 on a 2xx answer,
 * 1 with the fault_message on stderr otherwise, 2 for a usage error.
 */
int ctl_main(int argc, char **argv);

/*
 * `kiln migrate send --sock PATH --to HOST:PORT [--downtime-ms N] [--max-rounds N] [--timeout-s T]
 * [--on-timeout force|cancel]` (argv[0] is "send"): PUT /migrate, then GET /migrate every 50 ms,
 * printing a progress line per round and the outcome. 0 if the migration completed, 1 if it
 * failed or was cancelled (the VM keeps running at the source), 2 for a usage error.
 */
int ctl_migrate_main(int argc, char **argv);

#endif

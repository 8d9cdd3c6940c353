/* api_vmm.h — the API bound to the kiln process (`kiln --api-sock PATH`, --api-sock of run,
 * restore, migrate receive and --config-file). */
#ifndef KILN_API_API_VMM_H
#define KILN_API_API_VMM_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"
#include "api/http.h"
#include "core/vmm.h"
#include "util/compiler.h"

#define API_METRICS_PERIOD_S 60 /* metrics lines are also written this often */

/* The API bound to a process, in phases: set up, configured from the command line (as if by
 * requests), then served until the VM stops. api_proc_open does the first two for the commands
 * that build their VM themselves. */
struct api_proc {
	struct api api;
	struct vmm *m;
	struct http_server srv; /* bound by api_proc_listen (listening true) */
	bool listening;
};

/* Bind p to m (initialised): the API's defaults, id the instance id (NULL: the default). */
void api_proc_init(struct api_proc *p, struct vmm *m, const char *id);

/*
 * Apply one configuration request from the command line as the API would: method and path
 * (e.g. "PUT", "/logger") with a JSON body. Not counted in the API's request metrics. Returns 0,
 * or -EINVAL with the API's fault_message in err.
 */
int api_proc_apply(struct api_proc *p, const char *method, const char *path, const json_t *body,
		   char *err, size_t errlen) MUST_CHECK;

/*
 * Bind the API's socket at sock_path now, so that a path kiln cannot serve (in use, not a socket,
 * no such directory) is refused before a VM is built or any guest code runs; requests wait in
 * the socket's backlog until api_proc_run serves them. Returns 0, or -errno with one line
 * logged ("--api-sock PATH: ...").
 */
int api_proc_listen(struct api_proc *p, const char *sock_path) MUST_CHECK;

/*
 * Run m until the VM stops or a signal arrives, flushing metrics every API_METRICS_PERIOD_S and
 * as a VM stops (as Firecracker does when it stops), and serving the API on the socket
 * api_proc_listen bound, else on sock_path (NULL: no server, as Firecracker's --no-api).
 * Returns the exit status (README's table; KILN_EXIT_HOST if the server cannot start).
 */
int api_proc_run(struct api_proc *p, const char *sock_path);

/* Release what api_proc_init, api_proc_listen and the requests allocated (the socket file is
 * removed). */
void api_proc_destroy(struct api_proc *p);

/*
 * For the commands that build a VM and then serve it (run, restore, migrate receive): p is
 * initialised for m with id and, if sock_path is not NULL, its socket bound (api_proc_listen).
 * Returns 0, or KILN_EXIT_HOST with the reason logged and p already destroyed. The caller builds
 * the VM, then calls api_proc_run(p, NULL) and api_proc_destroy(p).
 */
int api_proc_open(struct api_proc *p, struct vmm *m, const char *sock_path, const char *id);

#endif

/* api_vmm.h — the API bound to the kiln process (`kiln --api-sock PATH`, --api-sock of run,
 * restore, migrate receive and --config-file). */
#ifndef KILN_API_API_VMM_H
#define KILN_API_API_VMM_H

#include <jansson.h>
#include <stddef.h>

#include "api/api.h"
#include "core/vmm.h"
#include "util/compiler.h"

#define API_METRICS_PERIOD_S 60 /* metrics lines are also written this often */

/* The API bound to a process, in phases: set up, configured from the command line (as if by
 * requests), then served until the VM stops. api_run does all three for the plain case. */
struct api_proc {
	struct api api;
	struct vmm *m;
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
 * Run m until the VM stops or a signal arrives, flushing metrics every API_METRICS_PERIOD_S and
 * as a VM stops (as Firecracker does when it stops), and serving the API on sock_path (NULL:
 * no server, as Firecracker's --no-api). Returns the exit status (README's table;
 * KILN_EXIT_HOST if the server cannot start).
 */
int api_proc_run(struct api_proc *p, const char *sock_path);

/* Release what api_proc_init and the requests allocated. */
void api_proc_destroy(struct api_proc *p);

/*
 * api_proc_init, api_proc_run and api_proc_destroy: serve the API on sock_path from m's loop (m
 * initialised, m->cfg the starting configuration, usually with no VM yet) until the VM stops or
 * a signal arrives. id is the instance id GET / reports (NULL: the default). Returns the exit
 * status.
 */
int api_run(struct vmm *m, const char *sock_path, const char *id);

#endif

/* api_vmm.h — the API bound to the kiln process (`kiln --api-sock PATH`, --api-sock of run,
 * restore, migrate receive and --config-file). */
#ifndef KILN_API_API_VMM_H
#define KILN_API_API_VMM_H

#include "core/vmm.h"

#define API_METRICS_PERIOD_S 60 /* metrics lines are also written this often */

/*
 * Serve the API on sock_path from m's loop (m initialised, m->cfg the starting configuration,
 * usually with no VM yet) until the VM stops or a signal arrives, flushing metrics every
 * API_METRICS_PERIOD_S. id is the instance id GET / reports (NULL: the default). Returns the
 * exit status (README's table; KILN_EXIT_HOST if the server cannot start).
 */
int api_run(struct vmm *m, const char *sock_path, const char *id);

#endif

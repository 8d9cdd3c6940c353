/* status.h — kiln sandbox's exit statuses (README's table) and the failure record the steps
 * before the VM runs fill in: the status a failure leads to and its one-line message. */
#ifndef KILN_SANDBOX_STATUS_H
#define KILN_SANDBOX_STATUS_H

#include "util/compiler.h"

#define SANDBOX_EXIT_VM_STOPPED	 121 /* the VM stopped while CMD ran, without a status */
#define SANDBOX_EXIT_NOT_STARTED 122 /* the guest never started CMD */
#define SANDBOX_EXIT_PANIC	 123 /* the guest kernel panicked while CMD ran */
#define SANDBOX_EXIT_TIMEOUT	 124 /* --timeout expired while CMD ran */
#define SANDBOX_EXIT_KILN	 125 /* kiln's own failure: flags, kernel, files, host, KVM */
#define SANDBOX_EXIT_CANNOT_EXEC 126 /* CMD cannot be executed */
#define SANDBOX_EXIT_NOT_FOUND	 127 /* CMD not found */
#define SANDBOX_EXIT_SIGNAL_BASE 128 /* + N: CMD was killed by signal N */

#define SANDBOX_MSG_MAX 1024

struct sandbox_err {
	int status;		   /* what kiln sandbox exits with */
	char msg[SANDBOX_MSG_MAX]; /* one line, without "kiln sandbox: " and without a newline */
};

/* Record a failure in e (status and printf-style message) and return ret (a -errno), so that
 * `return sandbox_fail(e, SANDBOX_EXIT_KILN, -ENOENT, "...")` reports and fails in one. */
int sandbox_fail(struct sandbox_err *e, int status, int ret, const char *fmt, ...) PRINTF(4, 5);

#endif

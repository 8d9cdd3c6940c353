/* virtiofsd.h — a virtiofsd kiln starts itself (`--fs tag=NAME,dir=PATH`): on a private socket in
 * a fresh directory, killed with kiln (PR_SET_PDEATHSIG) if kiln dies without stopping it. */
#ifndef KILN_VHOST_VIRTIOFSD_H
#define KILN_VHOST_VIRTIOFSD_H

#include <sys/types.h>

#include "config/config.h"
#include "util/compiler.h"

#define VIRTIOFSD_DEFAULT "/usr/lib/qemu/virtiofsd" /* Debian's qemu-system-common */
#define VIRTIOFSD_WAIT_MS 10000			    /* for its socket to accept */

struct virtiofsd {
	pid_t pid;			   /* 0: not running */
	char rundir[CONFIG_SOCK_MAX - 11]; /* private directory holding the socket; "": none */
	char sock[CONFIG_SOCK_MAX];	   /* rundir/vhost.sock */
};

/* The virtiofsd binary: $KILN_VIRTIOFSD if set, else VIRTIOFSD_DEFAULT. */
const char *virtiofsd_path(void);

/*
 * Start virtiofsd serving directory `shared` on a socket in a new private directory (mode 0700
 * under $TMPDIR or /tmp), in its own process group with every signal unblocked, and wait (at
 * most VIRTIOFSD_WAIT_MS) until its socket accepts a connection: the connected socket goes to
 * *fd. On failure one line naming the cause (the binary missing, its exit status, the timeout)
 * is written to why (size whylen), nothing is left running or on disk, and -errno is returned.
 */
int virtiofsd_start(struct virtiofsd *d, const char *shared, int *fd, char *why,
		    size_t whylen) MUST_CHECK;

/* Stop it (SIGTERM, after 2 s SIGKILL), reap it, remove its socket and directory. Idempotent. */
void virtiofsd_stop(struct virtiofsd *d);

#endif

/* rules.h — the ioctl requests each kind of kiln thread may issue: a table per architecture
 * (src/arch/<arch>/seccomp_ioctls.c) beside the shared one in src/seccomp/rules.c. */
#ifndef KILN_SECCOMP_RULES_H
#define KILN_SECCOMP_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Which threads may issue a request (a mask). */
#define SC_VCPU	   (1u << 0) /* vCPU threads: KVM_RUN and what device emulation needs */
#define SC_VMM	   (1u << 1) /* the VMM thread once the VM runs (snapshots, the API, devices) */
#define SC_REBUILD (1u << 2) /* the VMM thread when it may build the VM again (a restart) */
#define SC_MIG	   (1u << 3) /* the migration thread */

struct seccomp_ioctl {
	unsigned long req;
	const char *name;
	unsigned kinds;
};

#define SC_IOCTL(req, kinds)                                                                       \
	{                                                                                          \
		(req), #req, (kinds)                                                               \
	}

/* This architecture's requests; *n set to how many. */
const struct seccomp_ioctl *arch_seccomp_ioctls(size_t *n);

/* The second argument of the system call a SIGSYS handler's ucontext (void *uc) interrupted:
 * the request of a forbidden ioctl, for the report. */
unsigned long arch_seccomp_arg1(const void *uc);

#endif

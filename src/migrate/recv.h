/* recv.h — the destination side of a migration, on an accepted connection. */
#ifndef KILN_MIGRATE_RECV_H
#define KILN_MIGRATE_RECV_H

#include <stddef.h>

#include "util/compiler.h"

struct vmm;

/*
 * Receive a VM on the connected socket fd into m (which has no VM): the stream header, CONFIG (the
 * VM is built, its RAM zeroed), MEMORY frames, STATE (loaded), COMPLETE (the vCPUs start parked,
 * ACK is sent, then the VM resumes). Any violation — bad header, unknown frame, bad length or
 * checksum, pages outside RAM, frames out of order, ABANDON, EOF or timeout — sends ABANDON,
 * drops the VM (it never ran) and returns -EPROTO with one line in err. 0: the VM runs.
 */
int migrate_receive(struct vmm *m, int fd, char *err, size_t errlen) MUST_CHECK;

#endif

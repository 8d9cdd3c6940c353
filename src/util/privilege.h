/* privilege.h — refusing privilege kiln does not need, where that is cheap to check. */
#ifndef KILN_UTIL_PRIVILEGE_H
#define KILN_UTIL_PRIVILEGE_H

#include <stddef.h>

#include "util/compiler.h"

/*
 * Refuse a set-user-ID or set-group-ID start (real and effective IDs differ): whoever runs such a
 * binary would reach every file the owner can with paths of their choosing (kernels, disks,
 * snapshots, sockets). kiln needs no more than access to /dev/kvm (and /dev/net/tun for TAPs);
 * kiln-jailer is how a privileged caller hands it less. 0, or -EPERM with the reason in err
 * naming the IDs (the caller adds its program's name and advice).
 */
int privilege_refuse_setid(char *err, size_t errlen) MUST_CHECK;

#endif

/* privilege.c — refusing privilege kiln does not need (privilege.h). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "util/privilege.h"

int privilege_refuse_setid(char *err, size_t errlen)
{
	uid_t uid = getuid(), euid = geteuid();
	gid_t gid = getgid(), egid = getegid();

	if (uid == euid && gid == egid)
		return 0;
	snprintf(
	    err, errlen,
	    "refusing to run set-user-ID or set-group-ID (real uid %u gid %u, effective uid %u "
	    "gid %u)",
	    (unsigned)uid, (unsigned)gid, (unsigned)euid, (unsigned)egid);
	return -EPERM;
}

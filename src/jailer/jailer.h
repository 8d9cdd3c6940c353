/* jailer.h — kiln-jailer: Firecracker's jailer command line (docs/jailer.md), building a jail
 * (chroot with pivot_root, device nodes, cgroups, limits, namespaces) and exec'ing kiln in it. */
#ifndef KILN_JAILER_JAILER_H
#define KILN_JAILER_JAILER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/compiler.h"

#define JAILER_MAX_CGROUPS 32
#define JAILER_MAX_LIMITS  8
#define JAILER_ID_MAX	   64
#define JAILER_EXIT_USAGE  2 /* a bad command line */
#define JAILER_EXIT_FAIL   4 /* a step of building the jail failed */

struct jailer_args {
	const char *id, *exec_file, *chroot_base, *netns, *parent_cgroup;
	uid_t uid;
	gid_t gid;
	int cgroup_version; /* 1 or 2 */
	bool daemonize, new_pid_ns, help, version;
	const char *cgroups[JAILER_MAX_CGROUPS]; /* "file=value" */
	unsigned nr_cgroups;
	struct {
		int resource; /* RLIMIT_FSIZE or RLIMIT_NOFILE */
		unsigned long long value;
	} limits[JAILER_MAX_LIMITS];
	unsigned nr_limits;
	char *const *extra; /* the arguments after "--", NULL-terminated (never NULL) */
};

/* Parse argv (argv[0] is the program). 0, or -EINVAL with a one-line reason in err. Checks each
 * value's form (id, numbers, file=value, resource=value, cgroup version); paths are checked
 * when the jail is built. */
int jailer_parse(struct jailer_args *a, int argc, char **argv, char *err, size_t errlen) MUST_CHECK;

/* Build the jail and exec the file in it: returns only on failure, with a one-line reason in
 * err and the exit status to use. */
int jailer_run(const struct jailer_args *a, char *err, size_t errlen);

/* The cgroup steps of jailer_run, for tests: create <base>/<parent>/<id> in the hierarchy of
 * each --cgroup file (v1: the controller's mount; v2: the unified one, with the controllers
 * enabled on the way), write the values, then move pid in. mounts is /proc/mounts' text.
 * 0 or -errno with a one-line reason. */
int jailer_cgroups(const struct jailer_args *a, const char *mounts, pid_t pid, char *err,
		   size_t errlen) MUST_CHECK;

#endif

/* args.c — kiln-jailer's command line: Firecracker's jailer flags, each value checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config/config.h"
#include "jailer/jailer.h"

/* A whole decimal number up to max. */
static int number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || *out > max ? -EINVAL : 0;
}

static bool id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > JAILER_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(id[i] == '-' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

/* --cgroup FILE=VALUE: FILE is controller.name, one path component. */
static int take_cgroup(struct jailer_args *a, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '='), *dot = strchr(v, '.');

	if (!eq || eq == v || !dot || dot > eq || dot == v || memchr(v, '/', (size_t)(eq - v)) ||
	    strncmp(v, "..", 2) == 0)
		return config_fail(err, errlen,
				   "--cgroup: '%.128s' is not <controller>.<file>=<value>", v);
	if (a->nr_cgroups == JAILER_MAX_CGROUPS)
		return config_fail(err, errlen, "--cgroup: more than %d", JAILER_MAX_CGROUPS);
	a->cgroups[a->nr_cgroups++] = v;
	return 0;
}

/* --resource-limit fsize=N | no-file=N. */
static int take_limit(struct jailer_args *a, const char *v, char *err, size_t errlen)
{
	unsigned long long n;
	int res;

	if (strncmp(v, "fsize=", 6) == 0)
		res = RLIMIT_FSIZE;
	else if (strncmp(v, "no-file=", 8) == 0)
		res = RLIMIT_NOFILE;
	else
		return config_fail(
		    err, errlen,
		    "--resource-limit: '%.128s' is not fsize=<bytes> or no-file=<count>", v);
	if (number(strchr(v, '=') + 1, ~0ULL, &n) < 0)
		return config_fail(err, errlen, "--resource-limit: '%.128s': not a whole number",
				   v);
	if (a->nr_limits == JAILER_MAX_LIMITS)
		return config_fail(err, errlen, "--resource-limit: more than %d",
				   JAILER_MAX_LIMITS);
	a->limits[a->nr_limits].resource = res;
	a->limits[a->nr_limits++].value = n;
	return 0;
}

/* A flag with a value: store it, check its form. */
static int take_value(struct jailer_args *a, const char *flag, const char *v, char *err,
		      size_t errlen)
{
	unsigned long long n;

	if (strcmp(flag, "--id") == 0)
		return id_ok(v) ? (a->id = v, 0)
				: config_fail(err, errlen,
					      "--id: '%.80s': 1-64 letters, digits or '-'", v);
	if (strcmp(flag, "--uid") == 0 || strcmp(flag, "--gid") == 0) {
		if (number(v, 0xfffffffeULL, &n) < 0)
			return config_fail(err, errlen, "%s: '%.64s' is not a number", flag, v);
		if (n == 0) /* root in the jail: the jail would contain nothing */
			return config_fail(err, errlen,
					   "%s 0: kiln would run as root in the jail; give an "
					   "unprivileged ID",
					   flag);
		if (flag[2] == 'u')
			a->uid = (uid_t)n;
		else
			a->gid = (gid_t)n;
		return 0;
	}
	if (strcmp(flag, "--cgroup-version") == 0) {
		if (strcmp(v, "1") != 0 && strcmp(v, "2") != 0)
			return config_fail(err, errlen, "--cgroup-version: '%.32s' is not 1 or 2",
					   v);
		a->cgroup_version = v[0] - '0';
		return 0;
	}
	if (strcmp(flag, "--cgroup") == 0)
		return take_cgroup(a, v, err, errlen);
	if (strcmp(flag, "--resource-limit") == 0)
		return take_limit(a, v, err, errlen);
	if (!v[0])
		return config_fail(err, errlen, "%s: an empty value", flag);
	if (strcmp(flag, "--exec-file") == 0)
		a->exec_file = v;
	else if (strcmp(flag, "--chroot-base-dir") == 0)
		a->chroot_base = v;
	else if (strcmp(flag, "--netns") == 0)
		a->netns = v;
	else if (strcmp(flag, "--parent-cgroup") == 0)
		a->parent_cgroup = v;
	else
		return config_fail(err, errlen, "unknown option '%.64s' (kiln-jailer --help)",
				   flag);
	return 0;
}

static int take_flag(struct jailer_args *a, const char *f)
{
	bool *b = strcmp(f, "--daemonize") == 0	   ? &a->daemonize
		  : strcmp(f, "--new-pid-ns") == 0 ? &a->new_pid_ns
		  : strcmp(f, "--help") == 0	   ? &a->help
		  : strcmp(f, "--version") == 0	   ? &a->version
						   : NULL;

	if (!b)
		return -ENOENT;
	*b = true;
	return 0;
}

int jailer_parse(struct jailer_args *a, int argc, char **argv, char *err, size_t errlen)
{
	static char *const none[] = {NULL};
	bool uid = false, gid = false;
	int i, ret = 0;

	memset(a, 0, sizeof(*a));
	a->chroot_base = "/srv/jailer";
	a->cgroup_version = 1;
	a->extra = none;
	for (i = 1; ret == 0 && i < argc && strcmp(argv[i], "--") != 0; i++) {
		char *f = argv[i], *eq = strchr(f, '=');

		if (strncmp(f, "--", 2) != 0)
			return config_fail(err, errlen,
					   "unexpected argument '%.64s' (kiln-jailer --help)", f);
		if (take_flag(a, f) == 0)
			continue;
		if (eq) /* --flag=value, as clap takes it */
			*eq = '\0';
		if (!eq && i + 1 >= argc)
			return config_fail(err, errlen, "%.64s needs a value", f);
		uid |= strcmp(f, "--uid") == 0;
		gid |= strcmp(f, "--gid") == 0;
		ret = take_value(a, f, eq ? eq + 1 : argv[++i], err, errlen);
	}
	if (ret < 0 || a->help || a->version)
		return ret;
	if (i < argc)
		a->extra = argv + i + 1;
	if (!a->id || !a->exec_file || !uid || !gid)
		return config_fail(err, errlen, "--id, --exec-file, --uid and --gid are required");
	if (a->chroot_base[0] != '/')
		return config_fail(err, errlen,
				   "--chroot-base-dir: '%.128s' is not an absolute path",
				   a->chroot_base);
	if (a->parent_cgroup && (a->parent_cgroup[0] == '/' || strstr(a->parent_cgroup, "..")))
		return config_fail(err, errlen,
				   "--parent-cgroup: '%.128s' is not a relative path inside "
				   "the hierarchy",
				   a->parent_cgroup);
	return 0;
}

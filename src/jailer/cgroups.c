/* cgroups.c — kiln-jailer's --cgroup, --parent-cgroup and --cgroup-version: the VM's cgroup
 * <hierarchy>/<parent>/<id> in v1 (one hierarchy per controller, found in /proc/mounts; an
 * empty cpuset inherits its parent's CPUs and memory nodes, as Firecracker's jailer does) or v2
 * (the unified hierarchy; the controllers enabled in cgroup.subtree_control on the way down),
 * each file=value written, then the process moved in. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "jailer/jailer.h"

/* Write s to dir/file (the file must exist). 0 or -errno. */
static int put(const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* dir/file's first line into buf ("" if empty). */
static void get(const char *dir, const char *file, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n = -1;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, buf, len - 1);
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The mount point of the hierarchy: cgroup2 (ctrl NULL) or the v1 one holding ctrl. */
static int find_mount(const char *mounts, const char *ctrl, char *out, size_t outlen)
{
	char line[1024], dev[256], dir[PATH_MAX], type[64], opts[512];
	const char *p = mounts;

	while (*p) {
		size_t n = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
			 p);
		p += n + (p[n] == '\n');
		if (sscanf(line, "%255s %4095s %63s %511s", dev, dir, type, opts) != 4)
			continue;
		if (ctrl ? strcmp(type, "cgroup") != 0 : strcmp(type, "cgroup2") != 0)
			continue;
		for (char *o = strtok(opts, ","); ctrl && o; o = strtok(NULL, ","))
			if (strcmp(o, ctrl) == 0)
				ctrl = NULL;
		if (ctrl)
			continue;
		return snprintf(out, outlen, "%s", dir) < (int)outlen ? 0 : -ENAMETOOLONG;
	}
	return -ENOENT;
}

/* Create base/rel level by level; before each level, v2 enables ctrls in the level above,
 * v1's cpuset fills an empty level from its parent. */
static int make_path(const char *base, const char *rel, int version, const char *ctrls, char *err,
		     size_t errlen)
{
	char path[PATH_MAX], val[256];
	size_t blen = strlen(base);
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s", base, rel) >= (int)sizeof(path))
		return config_fail(err, errlen, "--parent-cgroup: path too long");
	for (char *p = path + blen + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p, *up;

		*p = '\0';
		up = strrchr(path, '/'); /* the level above is path up to here */
		*up = '\0';
		if (version == 2 && ctrls[0] &&
		    (ret = put(path, "cgroup.subtree_control", ctrls)) < 0)
			return config_fail(err, errlen, "cgroup: enabling '%s' in %s: %s", ctrls,
					   path, strerror(-ret));
		*up = '/';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return config_fail(err, errlen, "cgroup: %s: %s", path, strerror(errno));
		for (int i = 0; version == 1 && strcmp(ctrls, "cpuset") == 0 && i < 2; i++) {
			const char *f = i ? "cpuset.mems" : "cpuset.cpus";

			get(path, f, val, sizeof(val));
			*up = '\0';
			if (!val[0])
				get(path, f, val, sizeof(val));
			*up = '/';
			if (val[0] && put(path, f, val) < 0)
				return config_fail(err, errlen, "cgroup: %s/%s: %s", path, f,
						   strerror(errno));
		}
		*p = c;
		if (!c)
			return 0;
	}
}

/* One hierarchy: the cgroup made, the values written (those of this hierarchy), pid moved. */
static int setup_one(const struct jailer_args *a, const char *base, const char *ctrls,
		     const char *ctrl, pid_t pid, char *err, size_t errlen)
{
	char rel[PATH_MAX], dir[PATH_MAX], pidbuf[32], file[256];
	const char *exe = strrchr(a->exec_file, '/');
	int ret;

	snprintf(rel, sizeof(rel), "%s/%s",
		 a->parent_cgroup ? a->parent_cgroup : (exe ? exe + 1 : a->exec_file), a->id);
	ret = make_path(base, rel, a->cgroup_version, ctrls, err, errlen);
	if (ret < 0)
		return ret;
	if (snprintf(dir, sizeof(dir), "%s/%s", base, rel) >= (int)sizeof(dir))
		return config_fail(err, errlen, "cgroup: %s/%s: path too long", base, rel);
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		const char *eq = strchr(a->cgroups[i], '=');
		size_t clen = strcspn(a->cgroups[i], ".");

		if (ctrl && (strlen(ctrl) != clen || strncmp(ctrl, a->cgroups[i], clen) != 0))
			continue;
		snprintf(file, sizeof(file), "%.*s", (int)(eq - a->cgroups[i]), a->cgroups[i]);
		ret = put(dir, file, eq + 1);
		if (ret < 0)
			return config_fail(err, errlen, "--cgroup %s: %s/%s: %s", a->cgroups[i],
					   dir, file, strerror(-ret));
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	ret = put(dir, a->cgroup_version == 2 ? "cgroup.procs" : "tasks", pidbuf);
	return ret < 0 ? config_fail(err, errlen, "cgroup: moving the process into %s: %s", dir,
				     strerror(-ret))
		       : 0;
}

/* v2: "+a +b" for the distinct controllers of the --cgroup files. */
static void v2_controllers(const struct jailer_args *a, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		char want[64];

		snprintf(want, sizeof(want), "+%.*s", (int)strcspn(a->cgroups[i], "."),
			 a->cgroups[i]);
		if (strstr(out, want) && (strstr(out, want)[strlen(want)] == ' ' ||
					  strstr(out, want)[strlen(want)] == '\0'))
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s", o ? " " : "", want);
		if (o >= len)
			return;
	}
}

int jailer_cgroups(const struct jailer_args *a, const char *mounts, pid_t pid, char *err,
		   size_t errlen)
{
	char base[PATH_MAX], ctrls[512], ctrl[64];

	if (a->cgroup_version == 2) {
		if (find_mount(mounts, NULL, base, sizeof(base)) < 0)
			return config_fail(err, errlen,
					   "--cgroup-version 2: no cgroup2 file system is "
					   "mounted (/proc/mounts)");
		v2_controllers(a, ctrls, sizeof(ctrls));
		return setup_one(a, base, ctrls, NULL, pid, err, errlen);
	}
	if (a->nr_cgroups == 0)
		return config_fail(err, errlen,
				   "--parent-cgroup with cgroup v1 needs a --cgroup (it "
				   "names the controller's hierarchy)");
	for (unsigned i = 0; i < a->nr_cgroups; i++) {
		snprintf(ctrl, sizeof(ctrl), "%.*s", (int)strcspn(a->cgroups[i], "."),
			 a->cgroups[i]);
		if (find_mount(mounts, ctrl, base, sizeof(base)) < 0)
			return config_fail(err, errlen,
					   "--cgroup %s: no cgroup v1 hierarchy has the "
					   "'%s' controller (/proc/mounts)",
					   a->cgroups[i], ctrl);
		if (setup_one(a, base, ctrl, ctrl, pid, err, errlen) < 0)
			return -EINVAL;
	}
	return 0;
}

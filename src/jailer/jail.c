/* jail.c — building the jail and exec'ing into it, in the order of Firecracker's jailer
 * (docs/jailer.md): close inherited descriptors; make <base>/<exec name>/<id>/root and copy the
 * exec file into it (with its ELF interpreter and shared libraries, and libmicrohttpd which kiln
 * opens for its API: kiln is linked against glibc, Firecracker statically); limits; cgroups; a
 * new mount namespace and pivot_root into the root; /dev/kvm, /dev/net/tun and /dev/urandom;
 * the network namespace; setsid; a new PID namespace; the user and group dropped; exec. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "api/mhd.h"
#include "jailer/jailer.h"
#include "sandbox/initramfs.h"

#define COPY_MAX (1ULL << 30) /* bytes of one file copied into the jail */

static unsigned long long usecs(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000;
}

/* mkdir -p of an absolute path. */
static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = c;
		if (!c)
			return 0;
	}
}

/* The exec file, its interpreter and libraries under root_fd, and at /<name>. */
static int copy_exec(const char *exe, const char *name, int root_fd, char *err, size_t errlen)
{
	static const char *const extra[] = {MHD_SONAME, NULL};
	char canon[PATH_MAX];
	struct initramfs_input in = {.ld_so_conf = "/etc/ld.so.conf",
				     .ld_so_cache = "/etc/ld.so.cache",
				     .max_len = COPY_MAX};
	struct sandbox_err e = {0};

	if (!realpath(exe, canon))
		return config_fail(err, errlen, "--exec-file: %s: %s", exe, strerror(errno));
	in.exe = canon;
	if (initramfs_copy_tree(&in, extra, root_fd, NULL, &e) < 0)
		return config_fail(err, errlen, "copying %s into the jail: %s", exe, e.msg);
	if (linkat(root_fd, canon + 1, root_fd, name, 0) < 0 && errno != EEXIST)
		return config_fail(err, errlen, "jail: /%s: %s", name, strerror(errno));
	return 0;
}

/* The jail's root directory: made, filled, its descriptor in *fd. */
static int make_root(const struct jailer_args *a, const char *name, char *root, size_t rlen,
		     int *fd, char *err, size_t errlen)
{
	struct stat st;
	int ret;

	if (stat(a->exec_file, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
		return config_fail(err, errlen, "--exec-file: %s: not an executable regular file",
				   a->exec_file);
	if (snprintf(root, rlen, "%s/%s/%s/root", a->chroot_base, name, a->id) >= (int)rlen)
		return config_fail(err, errlen, "--chroot-base-dir: the jail's path is too long");
	ret = mkdirs(root, 0755);
	if (ret < 0)
		return config_fail(err, errlen, "jail: %s: %s", root, strerror(-ret));
	*fd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return config_fail(err, errlen, "jail: %s: %s", root, strerror(errno));
	return copy_exec(a->exec_file, name, *fd, err, errlen);
}

static int set_limits(const struct jailer_args *a, char *err, size_t errlen)
{
	struct rlimit nofile = {2048, 2048}; /* Firecracker's default without --resource-limit */

	if (a->nr_limits == 0 && setrlimit(RLIMIT_NOFILE, &nofile) < 0)
		return config_fail(err, errlen, "setrlimit(no-file): %s", strerror(errno));
	for (unsigned i = 0; i < a->nr_limits; i++) {
		struct rlimit r = {a->limits[i].value, a->limits[i].value};

		if (setrlimit(a->limits[i].resource, &r) < 0)
			return config_fail(err, errlen, "--resource-limit %s=%llu: %s",
					   a->limits[i].resource == RLIMIT_FSIZE ? "fsize"
										 : "no-file",
					   a->limits[i].value, strerror(errno));
	}
	return 0;
}

/* /proc/mounts' text (its size is 0 to stat: read until the end). NULL on failure. */
static char *read_mounts(void)
{
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	int fd = open("/proc/mounts", O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	while (buf && fd >= 0 && len + 1 < cap && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	if (fd >= 0)
		close(fd);
	if (!buf || fd < 0 || n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

static int place_in_cgroups(const struct jailer_args *a, char *err, size_t errlen)
{
	char *mounts;
	int ret;

	if (a->nr_cgroups == 0 && !a->parent_cgroup)
		return 0;
	mounts = read_mounts();
	if (!mounts)
		return config_fail(err, errlen, "/proc/mounts: %s", strerror(errno));
	ret = jailer_cgroups(a, mounts, getpid(), err, errlen);
	free(mounts);
	return ret < 0 ? -1 : 0;
}

/* A new mount namespace whose root is `root` (pivot_root), the old root gone. */
static int enter_root(const char *root, char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS) < 0)
		return config_fail(err, errlen, "unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_PRIVATE | MS_REC, NULL) < 0 ||
	    mount(root, root, NULL, MS_BIND | MS_REC, NULL) < 0)
		return config_fail(err, errlen, "jail: mounting %s: %s", root, strerror(errno));
	if (chdir(root) < 0 || (mkdir("old_root", 0700) < 0 && errno != EEXIST))
		return config_fail(err, errlen, "jail: %s: %s", root, strerror(errno));
	if (syscall(SYS_pivot_root, ".", "old_root") < 0)
		return config_fail(err, errlen, "pivot_root into %s: %s", root, strerror(errno));
	if (chdir("/") < 0 || umount2("old_root", MNT_DETACH) < 0 || rmdir("old_root") < 0 ||
	    chroot(".") < 0)
		return config_fail(err, errlen, "jail: leaving the old root: %s", strerror(errno));
	return 0;
}

/* The device nodes kiln needs, owned by the jailed user. */
static int make_devices(const struct jailer_args *a, char *err, size_t errlen)
{
	static const struct {
		const char *path;
		unsigned major, minor;
	} nodes[] = {{"/dev/kvm", 10, 232}, {"/dev/net/tun", 10, 200}, {"/dev/urandom", 1, 9}};

	if ((mkdir("/dev", 0755) < 0 && errno != EEXIST) ||
	    (mkdir("/dev/net", 0755) < 0 && errno != EEXIST))
		return config_fail(err, errlen, "jail: /dev: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (mknod(nodes[i].path, S_IFCHR | 0600, makedev(nodes[i].major, nodes[i].minor)) <
			0 &&
		    errno != EEXIST)
			return config_fail(err, errlen, "jail: mknod %s: %s", nodes[i].path,
					   strerror(errno));
		if (chown(nodes[i].path, a->uid, a->gid) < 0)
			return config_fail(err, errlen, "jail: chown %s: %s", nodes[i].path,
					   strerror(errno));
	}
	if (chown("/", a->uid, a->gid) < 0)
		return config_fail(err, errlen, "jail: chown /: %s", strerror(errno));
	return 0;
}

static int join_netns(int fd, const char *path, char *err, size_t errlen)
{
	if (fd >= 0 && setns(fd, CLONE_NEWNET) < 0)
		return config_fail(err, errlen, "--netns %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return 0;
}

static int daemonize(int null_fd, char *err, size_t errlen)
{
	if (setsid() < 0)
		return config_fail(err, errlen, "--daemonize: setsid: %s (a process group leader?)",
				   strerror(errno));
	for (int i = 0; i < 3; i++)
		if (dup2(null_fd, i) < 0)
			return config_fail(err, errlen, "--daemonize: %s", strerror(errno));
	close(null_fd);
	return 0;
}

/* --new-pid-ns: the child goes on as PID 1 of a new namespace; the parent writes its PID to
 * /<name>.pid in the jail and exits. */
static int new_pid_ns(const char *name, long long *cpu0, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[32];
	pid_t pid;
	int fd, n;

	unsigned long long spent = usecs(CLOCK_PROCESS_CPUTIME_ID) - (unsigned long long)*cpu0;

	if (unshare(CLONE_NEWPID) < 0)
		return config_fail(err, errlen, "--new-pid-ns: unshare: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		return config_fail(err, errlen, "--new-pid-ns: fork: %s", strerror(errno));
	if (pid == 0) { /* a new process: its CPU clock starts again from 0 */
		*cpu0 = -(long long)spent;
		return 0;
	}
	snprintf(path, sizeof(path), "/%s.pid", name);
	n = snprintf(buf, sizeof(buf), "%d", (int)pid);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n) {
		fprintf(stderr, "kiln-jailer: --new-pid-ns: %s: %s\n", path, strerror(errno));
		_exit(JAILER_EXIT_FAIL);
	}
	close(fd);
	_exit(0);
}

static int drop_privileges(const struct jailer_args *a, char *err, size_t errlen)
{
	if (setgroups(0, NULL) < 0 || setresgid(a->gid, a->gid, a->gid) < 0 ||
	    setresuid(a->uid, a->uid, a->uid) < 0)
		return config_fail(err, errlen, "dropping to uid %u gid %u: %s", (unsigned)a->uid,
				   (unsigned)a->gid, strerror(errno));
	return 0;
}

/* exec /<name> --id ID --start-time-us T --start-time-cpu-us C EXTRA..., no environment. */
static int exec_jailed(const struct jailer_args *a, const char *name, unsigned long long t0,
		       long long c0, char *err, size_t errlen)
{
	char path[PATH_MAX], t[32], c[32];
	size_t n = 0, extra = 0;
	char **argv;
	char *const envp[] = {NULL};

	while (a->extra[extra])
		extra++;
	argv = calloc(8 + extra, sizeof(*argv));
	if (!argv)
		return config_fail(err, errlen, "out of memory");
	snprintf(path, sizeof(path), "/%s", name);
	snprintf(t, sizeof(t), "%llu", t0);
	snprintf(c, sizeof(c), "%lld", (long long)usecs(CLOCK_PROCESS_CPUTIME_ID) - c0);
	argv[n++] = (char *)name;
	argv[n++] = "--id";
	argv[n++] = (char *)a->id;
	argv[n++] = "--start-time-us";
	argv[n++] = t;
	argv[n++] = "--start-time-cpu-us";
	argv[n++] = c;
	for (size_t i = 0; i < extra; i++)
		argv[n++] = a->extra[i];
	execve(path, argv, envp);
	free(argv);
	return config_fail(err, errlen, "exec %s in the jail: %s", path, strerror(errno));
}

int jailer_run(const struct jailer_args *a, char *err, size_t errlen)
{
	unsigned long long t0 = usecs(CLOCK_REALTIME);
	long long c0 = (long long)usecs(CLOCK_PROCESS_CPUTIME_ID);
	const char *slash = strrchr(a->exec_file, '/'), *name = slash ? slash + 1 : a->exec_file;
	char root[PATH_MAX];
	int root_fd = -1, netns_fd = -1, null_fd = -1;

	syscall(SYS_close_range, 3U, ~0U, 0U); /* what the caller left open stays outside */
	if (a->netns && (netns_fd = open(a->netns, O_RDONLY | O_CLOEXEC)) < 0)
		return config_fail(err, errlen, "--netns %s: %s", a->netns, strerror(errno)),
		       JAILER_EXIT_FAIL;
	if (a->daemonize && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
		return config_fail(err, errlen, "/dev/null: %s", strerror(errno)), JAILER_EXIT_FAIL;
	if (make_root(a, name, root, sizeof(root), &root_fd, err, errlen) < 0 ||
	    set_limits(a, err, errlen) < 0 || place_in_cgroups(a, err, errlen) < 0 ||
	    enter_root(root, err, errlen) < 0 || make_devices(a, err, errlen) < 0 ||
	    join_netns(netns_fd, a->netns, err, errlen) < 0 ||
	    (a->daemonize && daemonize(null_fd, err, errlen) < 0) ||
	    (a->new_pid_ns && new_pid_ns(name, &c0, err, errlen) < 0) ||
	    drop_privileges(a, err, errlen) < 0)
		return JAILER_EXIT_FAIL;
	if (root_fd >= 0)
		close(root_fd);
	exec_jailed(a, name, t0, c0, err, errlen);
	return JAILER_EXIT_FAIL;
}

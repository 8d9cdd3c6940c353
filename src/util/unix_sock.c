/* unix_sock.c — Unix stream socket listener and client by path (see unix_sock.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/unix_sock.h"

static int fill_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (!path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

int unix_sock_path_check(const char *path)
{
	struct sockaddr_un a;

	return fill_addr(path, &a);
}

static void set_timeouts(int fd, unsigned timeout_s)
{
	struct timeval tv = {.tv_sec = timeout_s};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int unix_connect(const char *path, int flags, unsigned timeout_s)
{
	struct sockaddr_un a;
	int fd, ret = fill_addr(path, &a);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (timeout_s)
		set_timeouts(fd, timeout_s);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Make room at path: nothing there, or a stale socket (removed). 0 or -errno (unix_listen's). */
static int clear_path(const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = unix_connect(path, SOCK_NONBLOCK, 0);
	if (fd >= 0)
		close(fd);
	if (fd >= 0 || fd == -EAGAIN) /* accepted, or queued behind a full backlog: live */
		return -EADDRINUSE;
	if (fd == -ENOENT) /* gone meanwhile */
		return 0;
	if (fd != -ECONNREFUSED)
		return fd;
	return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int bind_listen(int fd, const struct sockaddr_un *a, int backlog)
{
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) < 0)
		return -errno;
	/* Until listen(), a connect() is refused: the mode is in place before anyone gets in. */
	if (chmod(a->sun_path, 0600) < 0 || listen(fd, backlog) < 0) {
		int ret = -errno;

		unlink(a->sun_path);
		return ret;
	}
	return 0;
}

/*
 * Listen at path, which appears only once the socket listens: clients that wait for the file to
 * exist and then connect (Firecracker's SDKs do) are never refused. The socket is bound under a
 * temporary name beside path, then linked to path (link(2) fails rather than replace anything
 * that appeared there meanwhile). A path too long for the temporary name is bound directly.
 */
static int bind_listen_atomic(int fd, const struct sockaddr_un *a, int backlog)
{
	struct sockaddr_un tmp = *a;
	int n = snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s.%d~", a->sun_path, (int)getpid());
	int ret;

	if (n < 0 || (size_t)n >= sizeof(tmp.sun_path))
		return bind_listen(fd, a, backlog);
	unlink(tmp.sun_path); /* a leftover of a process that had this pid */
	ret = bind_listen(fd, &tmp, backlog);
	if (ret == 0 && link(tmp.sun_path, a->sun_path) < 0)
		ret = errno == EEXIST ? -EADDRINUSE : -errno;
	unlink(tmp.sun_path);
	return ret;
}

int unix_listen(const char *path, int backlog, int flags)
{
	struct sockaddr_un a;
	int fd, ret = fill_addr(path, &a);

	if (ret == 0)
		ret = clear_path(path);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	ret = bind_listen_atomic(fd, &a, backlog);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

const char *unix_sock_strerror(int err)
{
	switch (err) {
	case -EADDRINUSE:
		return "in use by a running process";
	case -EEXIST:
		return "exists and is not a socket";
	case -ENAMETOOLONG:
		return "path too long for a Unix socket (at most 107 bytes)";
	case -EMSGSIZE:
		return "the server's answer is over 1 MiB (not kiln's API?)";
	case -EPROTO:
		return "the server's answer is not HTTP (not kiln's API?)";
	default:
		return strerror(-err);
	}
}

/* io.c — read/write exactly n bytes (see io.h). Plain libc only: the sandbox's static guest
 * init is built from this file too. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/io.h"

int io_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One write: send() without SIGPIPE while fd is known or guessed to be a socket, else write().
 * *sock starts true and drops to false at the first ENOTSOCK. */
static ssize_t write_once(int fd, const void *p, size_t n, bool *sock)
{
	if (*sock) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w >= 0 || errno != ENOTSOCK)
			return w;
		*sock = false;
	}
	return write(fd, p, n);
}

int io_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	bool sock = true;

	while (n) {
		ssize_t w = write_once(fd, b, n, &sock);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int io_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = pwrite(fd, b, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		b += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* chardev.c — console byte streams (stdio, file, Unix socket, none): non-blocking I/O with
 * edge-triggered readiness from the main loop, one socket client at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/chardev.h"
#include "backend/term.h"
#include "util/err.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "util/file.h"

#define LISTEN_BACKLOG 4

struct chardev {
	struct chardev_config cfg;
	int in_fd, out_fd;	  /* STDIO and FILE: our own descriptors, -1 if none */
	bool in_eof;		  /* STDIO: input ended; never read again */
	bool out_watched;	  /* out_fd is on the loop: EAGAIN can wait for EPOLLOUT */
	bool out_blocked;	  /* the last write hit EAGAIN: on_output is due */
	int listen_fd, client_fd; /* SOCKET */
	bool client_dead;	  /* shut down; closed by the loop callback */
	bool client_hup;	  /* the client hung up: closed once its input is read */
	dev_t sock_dev;		  /* the socket file we created, to unlink only our own */
	ino_t sock_ino;
	struct term_escape esc;
	struct chardev_stats stats;
	struct log_ratelimit rl;
};

/* --- descriptors and the loop --- */

int chardev_nonblocking_copy(int fd, int mode)
{
	char path[32];
	struct stat st;
	int nfd;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		return nfd < 0 ? -errno : nfd;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, mode | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (nfd >= 0)
		return nfd;
	/* Sockets cannot be reopened: share the open file, flag and all. */
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nfd < 0)
		return -errno;
	if (fcntl(nfd, F_SETFL, fcntl(nfd, F_GETFL) | O_NONBLOCK) < 0) {
		close(nfd);
		return -errno;
	}
	return nfd;
}

/* Watch fd edge-triggered. Returns 1 if watched, 0 if epoll cannot watch it (a regular file,
 * /dev/null: always ready) or there is no loop, or -errno. */
static int watch(struct chardev *c, int fd, uint32_t events,
		 void (*cb)(void *ctx, int fd, uint32_t events))
{
	int ret;

	if (!c->cfg.loop)
		return 0;
	ret = event_loop_add(c->cfg.loop, fd, events | EPOLLET, cb, c);
	if (ret == -EPERM)
		return 0;
	return ret < 0 ? ret : 1;
}

static void unwatch_close(struct chardev *c, int *fd)
{
	if (*fd < 0)
		return;
	if (c->cfg.loop)
		(void)event_loop_del(c->cfg.loop, *fd); /* -ENOENT if it was never watched */
	close(*fd);
	*fd = -1;
}

static void output_ready(struct chardev *c)
{
	if (!c->out_blocked)
		return;
	c->out_blocked = false;
	if (c->cfg.on_output)
		c->cfg.on_output(c->cfg.ctx);
}

static void input_ready(struct chardev *c)
{
	if (c->cfg.on_input)
		c->cfg.on_input(c->cfg.ctx);
}

/* --- socket clients --- */

/* Shut the client down; the loop callback closes it (shutdown raises an epoll event). Safe on
 * any thread. */
static void client_kill(struct chardev *c)
{
	if (c->client_fd < 0 || c->client_dead)
		return;
	c->client_dead = true;
	shutdown(c->client_fd, SHUT_RDWR);
}

static void on_client(void *ctx, int fd, uint32_t events);

static void try_accept(struct chardev *c)
{
	int fd, ret;

	if (c->client_fd >= 0)
		return; /* one at a time: the next waits in the backlog */
	fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	ret = watch(c, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP, on_client);
	if (ret <= 0) {
		log_warn_ratelimited(&c->rl, "%s: client not watched: %s", c->cfg.path,
				     strerror(ret < 0 ? -ret : EINVAL));
		close(fd);
		return;
	}
	c->client_fd = fd;
	c->client_dead = false;
	c->client_hup = false;
	c->stats.connects++;
	log_debug("%s: client connected", c->cfg.path);
}

/* Close the client; a writer waiting for it resumes (its bytes are now dropped). */
static void client_reap(struct chardev *c)
{
	unwatch_close(c, &c->client_fd);
	c->client_dead = false;
	c->stats.disconnects++;
	log_debug("%s: client disconnected", c->cfg.path);
	output_ready(c);
	try_accept(c);
}

static bool unread_input(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

static void on_client(void *ctx, int fd, uint32_t events)
{
	struct chardev *c = ctx;

	pthread_mutex_lock(c->cfg.lock);
	if (fd == c->client_fd) {
		if (events & EPOLLOUT)
			output_ready(c);
		if (events & (EPOLLRDHUP | EPOLLHUP))
			c->client_hup = true;
		if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			input_ready(c);
		/* After a hang-up, input the guest has not taken yet is still delivered: the
		 * client is closed once it is read (chardev_read kills it then). */
		if (c->client_fd >= 0 && (c->client_dead || (events & EPOLLERR) ||
					  (c->client_hup && !unread_input(c->client_fd))))
			client_reap(c);
	}
	pthread_mutex_unlock(c->cfg.lock);
}

static void on_listen(void *ctx, int fd, uint32_t events)
{
	struct chardev *c = ctx;

	(void)fd;
	(void)events;
	pthread_mutex_lock(c->cfg.lock);
	try_accept(c);
	pthread_mutex_unlock(c->cfg.lock);
}

/* --- stdio and file --- */

static void on_in(void *ctx, int fd, uint32_t events)
{
	struct chardev *c = ctx;

	(void)fd;
	(void)events;
	pthread_mutex_lock(c->cfg.lock);
	if (!c->in_eof)
		input_ready(c);
	pthread_mutex_unlock(c->cfg.lock);
}

static void on_out(void *ctx, int fd, uint32_t events)
{
	struct chardev *c = ctx;

	(void)fd;
	(void)events;
	pthread_mutex_lock(c->cfg.lock);
	output_ready(c);
	pthread_mutex_unlock(c->cfg.lock);
}

static int open_stdio(struct chardev *c)
{
	int ret;

	if (c->cfg.in_fd >= 0) {
		c->in_fd = chardev_nonblocking_copy(c->cfg.in_fd, O_RDONLY);
		if (c->in_fd < 0)
			return c->in_fd;
		ret = watch(c, c->in_fd, EPOLLIN, on_in);
		if (ret < 0)
			return ret;
	}
	if (c->cfg.out_fd >= 0) {
		c->out_fd = chardev_nonblocking_copy(c->cfg.out_fd, O_WRONLY);
		if (c->out_fd < 0)
			return c->out_fd;
		ret = watch(c, c->out_fd, EPOLLOUT, on_out);
		if (ret < 0)
			return ret;
		c->out_watched = ret == 1;
	}
	return 0;
}

static int open_file(struct chardev *c)
{
	c->out_fd = file_open(c->cfg.path, O_WRONLY | O_CREAT | O_TRUNC, 0644, FILE_REG | FILE_CHR);
	if (c->out_fd < 0)
		return err_set(c->cfg.err, c->out_fd, "console file %s: %s", c->cfg.path,
			       file_strerror(c->out_fd));
	return 0;
}

/* --- the listening socket --- */

/* Listen at path (util/unix_sock.h's rule for what is there already) and note the file made,
 * to unlink only our own. */
static int open_socket(struct chardev *c)
{
	struct stat st;
	int ret = unix_listen(c->cfg.path, LISTEN_BACKLOG, SOCK_NONBLOCK);

	if (ret >= 0) {
		c->listen_fd = ret;
		ret = stat(c->cfg.path, &st) < 0 ? -errno : 0;
	}
	if (ret == 0) {
		c->sock_dev = st.st_dev;
		c->sock_ino = st.st_ino;
		ret = watch(c, c->listen_fd, EPOLLIN, on_listen);
	}
	if (ret < 0)
		return err_set(c->cfg.err, ret, "console socket %s: %s", c->cfg.path,
			       unix_sock_strerror(ret));
	return 0;
}

/* --- public --- */

static bool config_valid(const struct chardev_config *cfg)
{
	if (!cfg->lock)
		return false;
	switch (cfg->kind) {
	case CHARDEV_NONE:
	case CHARDEV_STDIO:
		return true;
	case CHARDEV_FILE:
		return cfg->path && *cfg->path;
	case CHARDEV_SOCKET:
		return cfg->path && *cfg->path && cfg->loop;
	}
	return false;
}

int chardev_create(const struct chardev_config *cfg, struct chardev **out)
{
	struct chardev *c;
	int ret = 0;

	if (!config_valid(cfg))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	c->in_fd = c->out_fd = c->listen_fd = c->client_fd = -1;
	c->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT;
	if (cfg->kind == CHARDEV_STDIO)
		ret = open_stdio(c);
	else if (cfg->kind == CHARDEV_FILE)
		ret = open_file(c);
	else if (cfg->kind == CHARDEV_SOCKET)
		ret = open_socket(c);
	if (ret < 0) {
		chardev_destroy(c);
		return ret;
	}
	*out = c;
	return 0;
}

void chardev_destroy(struct chardev *c)
{
	struct stat st;

	if (!c)
		return;
	unwatch_close(c, &c->client_fd);
	unwatch_close(c, &c->in_fd);
	unwatch_close(c, &c->out_fd);
	if (c->listen_fd >= 0) {
		unwatch_close(c, &c->listen_fd);
		if (c->sock_ino && stat(c->cfg.path, &st) == 0 && st.st_dev == c->sock_dev &&
		    st.st_ino == c->sock_ino)
			unlink(c->cfg.path);
	}
	free(c);
}

static int input_fd(const struct chardev *c)
{
	if (c->cfg.kind == CHARDEV_SOCKET)
		return c->client_dead ? -1 : c->client_fd;
	return c->in_eof ? -1 : c->in_fd;
}

static void input_ended(struct chardev *c)
{
	if (c->cfg.kind == CHARDEV_SOCKET)
		client_kill(c);
	else
		c->in_eof = true; /* stays registered: edge-triggered, it does not fire again */
}

/* Apply the escape filter; 0 if nothing is left for the guest. */
static size_t filter(struct chardev *c, uint8_t *buf, size_t n)
{
	bool quit = false;

	n = term_escape_filter(&c->esc, buf, n, &quit);
	if (quit && c->cfg.on_quit)
		c->cfg.on_quit(c->cfg.ctx);
	return n;
}

size_t chardev_read(struct chardev *c, void *buf, size_t len)
{
	size_t cap = c->cfg.escape ? len - 1 : len;
	int fd = input_fd(c);
	ssize_t n;

	if (fd < 0 || len < 2)
		return 0;
	for (;;) {
		n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			if (n < 0)
				c->stats.errors++;
			input_ended(c);
			return 0;
		}
		c->stats.rx_bytes += (size_t)n;
		if (c->cfg.kind == CHARDEV_SOCKET && c->client_hup && !unread_input(fd))
			client_kill(c); /* the last of a departed client's input */
		if (!c->cfg.escape)
			return (size_t)n;
		n = (ssize_t)filter(c, buf, (size_t)n);
		if (n > 0)
			return (size_t)n;
	}
}

static int output_fd(const struct chardev *c)
{
	if (c->cfg.kind == CHARDEV_SOCKET)
		return c->client_dead ? -1 : c->client_fd;
	return c->out_fd;
}

static ssize_t dropped(struct chardev *c, size_t len)
{
	c->stats.tx_dropped += len;
	return (ssize_t)len;
}

static ssize_t write_failed(struct chardev *c, size_t len, int err)
{
	c->stats.errors++;
	log_warn_ratelimited(&c->rl, "console output: %s", strerror(err));
	if (c->cfg.kind == CHARDEV_SOCKET)
		client_kill(c);
	return dropped(c, len);
}

ssize_t chardev_write(struct chardev *c, const void *buf, size_t len)
{
	int fd = output_fd(c);
	bool sock = c->cfg.kind == CHARDEV_SOCKET;
	ssize_t n;

	if (fd < 0)
		return dropped(c, len);
	if (c->out_blocked)
		return -EAGAIN; /* keep the order: wait for on_output */
	do
		n = sock ? send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n == 0 && len > 0)
		return dropped(c, len); /* a write that makes no progress: do not spin on it */
	if (n >= 0) {
		c->stats.tx_bytes += (size_t)n;
		return n;
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return write_failed(c, len, errno);
	if (!sock && !c->out_watched)
		return dropped(c, len); /* nothing would tell us when to retry */
	c->out_blocked = true;
	return -EAGAIN;
}

bool chardev_connected(const struct chardev *c)
{
	if (c->cfg.kind == CHARDEV_SOCKET)
		return c->client_fd >= 0 && !c->client_dead;
	return c->cfg.kind != CHARDEV_NONE;
}

struct chardev_stats chardev_stats(const struct chardev *c)
{
	return c->stats;
}

int chardev_parse(const char *spec, struct chardev_config *cfg)
{
	if (strcmp(spec, "stdio") == 0 || strcmp(spec, "none") == 0) {
		cfg->kind = spec[0] == 's' ? CHARDEV_STDIO : CHARDEV_NONE;
		cfg->path = NULL;
		return 0;
	}
	if (strncmp(spec, "file:", 5) == 0 && spec[5]) {
		cfg->kind = CHARDEV_FILE;
		cfg->path = spec + 5;
		return 0;
	}
	if (strncmp(spec, "socket:", 7) == 0 && spec[7]) {
		cfg->kind = CHARDEV_SOCKET;
		cfg->path = spec + 7;
		return 0;
	}
	return -EINVAL;
}

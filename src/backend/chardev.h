/* chardev.h — a byte-stream backend for consoles: stdio, an output file, a Unix socket that
 * accepts one client at a time, or nothing; non-blocking, driven by the main event loop. */
#ifndef KILN_BACKEND_CHARDEV_H
#define KILN_BACKEND_CHARDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/event_loop.h"
#include "util/compiler.h"

enum chardev_kind {
	CHARDEV_NONE,	/* no input; output discarded (counted in tx_dropped) */
	CHARDEV_STDIO,	/* input from in_fd, output to out_fd */
	CHARDEV_FILE,	/* output to path (created or truncated, mode 0644); no input */
	CHARDEV_SOCKET, /* listen on a Unix stream socket at path, one client at a time */
};

struct kiln_err;

struct chardev_config {
	enum chardev_kind kind;
	const char *path; /* FILE and SOCKET */
	/* STDIO: the descriptors to use, normally STDIN_FILENO and STDOUT_FILENO (-1: none). They
	 * are not taken over: chardev works on its own non-blocking copies, reopened through
	 * /proc/self/fd where possible so the O_NONBLOCK flag does not leak to descriptors that
	 * share the original open file (a terminal shared with stderr, say). */
	int in_fd, out_fd;
	/* Filter input for the Ctrl-A escape of term.h; Ctrl-A x calls on_quit. For stdio. */
	bool escape;
	/* Required for SOCKET; without a loop, input is only read when the owner asks (no
	 * on_input) and a full output never calls on_output. */
	struct event_loop *loop;
	/* The owner's lock: chardev's loop callbacks take it, then call the hooks below, so that
	 * all chardev state is guarded by it. Every chardev_* call must hold it too. */
	pthread_mutex_t *lock;
	void (*on_input)(void *ctx);  /* input may be readable (call chardev_read until 0) */
	void (*on_output)(void *ctx); /* chardev_write may be retried after -EAGAIN */
	void (*on_quit)(void *ctx);   /* Ctrl-A x was typed (escape only); may be NULL */
	void *ctx;
	struct kiln_err *err; /* where an open failure's reason goes (err_set); may be NULL */
};

struct chardev_stats {
	uint64_t rx_bytes, tx_bytes;
	uint64_t tx_dropped; /* accepted but discarded: no client, no output, or an error */
	uint64_t errors;     /* read/write failures other than EAGAIN */
	uint64_t connects, disconnects;
};

struct chardev;

/*
 * Open the backend: STDIO makes non-blocking copies of in_fd/out_fd; FILE opens the file;
 * SOCKET listens on a Unix stream socket at path with unix_listen's rule (util/unix_sock.h:
 * mode 0600; a stale socket is replaced, a live one is -EADDRINUSE, any other file -EEXIST).
 * Descriptors that epoll can watch are registered on cfg->loop, edge-triggered. Main thread.
 * Returns 0 or -errno (-EINVAL: bad config, e.g. no lock, SOCKET without loop or path;
 * -ENAMETOOLONG: path too long for a socket address).
 */
int chardev_create(const struct chardev_config *cfg, struct chardev **out) MUST_CHECK;

/* Unregister, close, and remove the socket file (if it is still ours). Main thread. NULL ok. */
void chardev_destroy(struct chardev *c);

/*
 * Read available input into buf (len >= 2; with escape, at most len - 1 bytes are read, as the
 * filter may put a held Ctrl-A back). Returns the number of bytes (> 0), or 0 when nothing is
 * available now: would block, end of input, no input, no client. Never blocks. After 0, new
 * input is announced through on_input. End of input from a socket client disconnects it (the
 * descriptor is closed later on the loop thread); the socket then accepts the next client.
 */
size_t chardev_read(struct chardev *c, void *buf, size_t len);

/*
 * Write up to len bytes. Returns how many were taken (> 0 if len > 0; bytes with nowhere to go
 * — no client, no output, a write error — count as taken and go to tx_dropped), or -EAGAIN
 * when the output cannot take any now: on_output follows when it can (or when the client
 * goes away). Never blocks. A write error on a socket client disconnects it.
 */
ssize_t chardev_write(struct chardev *c, const void *buf, size_t len);

/* Whether a socket client is connected (always true for STDIO and FILE, false for NONE). */
bool chardev_connected(const struct chardev *c);

/* Counters (a copy, taken under the owner's lock by the caller). */
struct chardev_stats chardev_stats(const struct chardev *c);

/* A non-blocking copy of fd for `mode` (O_RDONLY or O_WRONLY), close-on-exec, or -errno. Regular
 * files and block devices are duplicated (they never block); anything else is reopened through
 * /proc/self/fd so that O_NONBLOCK stays on the copy's own open file and does not leak to other
 * users of fd (a terminal shared with a shell); sockets, which cannot be reopened, share it. */
int chardev_nonblocking_copy(int fd, int mode) MUST_CHECK;

/* Parse a backend spec "stdio", "none", "file:PATH" or "socket:PATH" into cfg->kind and
 * cfg->path (pointing into spec). Returns 0 or -EINVAL. For the CLI. */
int chardev_parse(const char *spec, struct chardev_config *cfg) MUST_CHECK;

#endif

/* unix_sock.h — Unix stream sockets by path: the one listener (API, console sockets) with one
 * rule for a path that already exists, and the one client connect. */
#ifndef KILN_UTIL_UNIX_SOCK_H
#define KILN_UTIL_UNIX_SOCK_H

#include "util/compiler.h"

/*
 * Listen on a new Unix stream socket bound at path, mode 0600 (set before listen(), so nobody
 * can connect earlier). flags: 0 or SOCK_NONBLOCK (the socket is always close-on-exec). Returns
 * the listening descriptor, or:
 *   -ENAMETOOLONG  path does not fit in sun_path (at most 107 bytes); -EINVAL if empty;
 *   -EADDRINUSE    a socket at path has a live listener (connect() succeeds or would wait;
 *                  that server sees one connection that closes at once);
 *   -EEXIST        path exists and is not a socket (left alone);
 *   else the -errno of the failing call (e.g. -EACCES, -ENOENT for a missing directory).
 * A socket at path that nobody listens on (connect() gets ECONNREFUSED: its server died) is
 * removed and replaced. unix_sock_strerror words these for a one-line "PATH: ..." message.
 * path appears only once the socket listens (a client seeing the file is never refused).
 * The caller unlinks path when it stops listening.
 */
int unix_listen(const char *path, int backlog, int flags) MUST_CHECK;

/*
 * Connect to the Unix stream socket at path. flags: 0 or SOCK_NONBLOCK (close-on-exec always).
 * timeout_s > 0 sets SO_SNDTIMEO and SO_RCVTIMEO first, so a blocking connect() to a server
 * whose backlog is full, and later transfers, give up after that long (-EAGAIN). Returns the
 * connected descriptor or -errno (-ENAMETOOLONG as unix_listen; -ECONNREFUSED: nobody listens;
 * -ENOENT: no such socket).
 */
int unix_connect(const char *path, int flags, unsigned timeout_s) MUST_CHECK;

/* Whether path can name a Unix socket: 0, -EINVAL if empty, -ENAMETOOLONG if over 107 bytes
 * (the checks unix_listen and unix_connect make first), so a command line can be refused before
 * anything starts. */
int unix_sock_path_check(const char *path) MUST_CHECK;

/* The words for unix_listen's or unix_connect's error err (< 0), to follow "PATH: ":
 * "in use by a running process", "exists and is not a socket", "path too long for a Unix
 * socket (at most 107 bytes)", else strerror(-err). */
const char *unix_sock_strerror(int err);

#endif

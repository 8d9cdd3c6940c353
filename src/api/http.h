/* http.h — the API's HTTP/1.1 server on a Unix stream socket: libmicrohttpd driven from kiln's
 * event loop (no MHD threads), each request handed to api_dispatch. */
#ifndef KILN_API_HTTP_H
#define KILN_API_HTTP_H

#include "api/api.h"
#include "core/event_loop.h"
#include "util/compiler.h"

#define HTTP_CONN_TIMEOUT_S 30 /* an idle or stalled connection is closed after this */

struct MHD_Daemon;

struct http_server {
	struct MHD_Daemon *mhd;
	struct event_loop *loop;
	struct api *api;
	int listen_fd;
	int mhd_fd;   /* MHD's epoll fd, watched on loop */
	int timer_fd; /* timerfd armed with MHD_get_timeout */
	char path[108];
};

/*
 * Prepare the socket at path: if something exists there, it is replaced only when it is a
 * socket nobody accepts connections on (connect(2) is refused); otherwise -EADDRINUSE (a live
 * server) or -EEXIST (not a socket). Returns a listening AF_UNIX socket created with mode 0600,
 * or -errno (-ENAMETOOLONG for a path that does not fit sun_path).
 */
int http_listen_unix(const char *path) MUST_CHECK;

/* Serve api on a socket at path from loop. Returns 0 or -errno with a one-line message logged;
 * on failure nothing is left open. */
int http_server_start(struct http_server *s, struct event_loop *loop, const char *path,
		      struct api *api) MUST_CHECK;

/* Close connections, the daemon and the socket, and remove the socket file. Safe to call on a
 * zeroed or failed server. */
void http_server_stop(struct http_server *s);

#endif

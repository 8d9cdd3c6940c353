/* http.h — the API's HTTP/1.1 server on a Unix stream socket: libmicrohttpd driven from kiln's
 * event loop (no MHD threads), each request handed to api_dispatch. */
#ifndef KILN_API_HTTP_H
#define KILN_API_HTTP_H

#include "api/api.h"
#include "core/event_loop.h"
#include "util/compiler.h"

#define HTTP_CONN_TIMEOUT_S 30 /* an idle or stalled connection is closed after this */
#define HTTP_LISTEN_BACKLOG 16 /* connections waiting to be accepted */
#define HTTP_CONN_MAX	    32 /* open at once; the oldest idle one makes room for a new one */

struct MHD_Daemon;
struct http_conn;

struct http_server {
	struct MHD_Daemon *mhd;
	struct event_loop *loop;
	struct api *api;
	int listen_fd;
	int mhd_fd;			   /* MHD's epoll fd, watched on loop */
	int timer_fd;			   /* timerfd armed with MHD_get_timeout */
	struct http_conn *oldest, *newest; /* the open connections, in the order they came */
	unsigned nr_conns, nr_evicted;	   /* open; of those, shut to make room and not yet gone */
	char path[108];
};

/* Serve api on a socket at path from loop, listening with unix_listen's rule (util/unix_sock.h:
 * mode 0600, a stale socket replaced, a live one or a non-socket refused). Returns 0 or -errno
 * with a one-line message logged; on failure nothing is left open. */
int http_server_start(struct http_server *s, struct event_loop *loop, const char *path,
		      struct api *api) MUST_CHECK;

/* Close connections, the daemon and the socket, and remove the socket file. Safe to call on a
 * zeroed or failed server. */
void http_server_stop(struct http_server *s);

#endif

/* http.c — libmicrohttpd in external-epoll mode on kiln's loop: the socket (util/unix_sock.h), body
 * collection with a size limit, JSON responses, and the connection bookkeeping that keeps one
 * client from locking out the others (MHD has a connection limit, but no way to make room). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "api/http.h"
#include "api/mhd.h"
#include "util/log.h"
#include "util/unix_sock.h"

/* libmicrohttpd, loaded by http_server_start (the only way into this file's callbacks). */
static const struct mhd_api *mhd;

/* One request's state across MHD's calls: the body so far. */
struct http_req {
	char *body;
	size_t len;
	bool too_big;
	unsigned long long declared; /* Content-Length, for the too-big message */
};

/* One open connection, on the server's list in the order they came. */
struct http_conn {
	struct MHD_Connection *c;
	struct http_conn *prev, *next;
	bool busy;    /* a request is being read or answered */
	bool evicted; /* shut to make room; MHD closes it on its next run */
};

/* How far past the limit a declared body is still read (and dropped) before the 400 goes out.
 * Answering before the body is read makes MHD close the connection under a client that is still
 * sending, which then sees a reset instead of the error; beyond this, that is the better deal. */
#define HTTP_DRAIN_MAX (1ULL << 20)

/* ---- MHD callbacks ---- */

static enum MHD_Result send_response(struct MHD_Connection *c, struct api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = r->body ? mhd->create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE)
		       : mhd->create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		api_response_free(r);
		return MHD_NO; /* MHD closes the connection */
	}
	r->body = NULL; /* MHD owns it now */
	if (r->status != 204)
		mhd->add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	if (r->deprecated)
		mhd->add_response_header(resp, "Deprecation", "true");
	ret = mhd->queue_response(c, (unsigned)r->status, resp);
	mhd->destroy_response(resp);
	return ret;
}

static enum MHD_Result reject(struct http_server *s, struct MHD_Connection *c, const char *msg)
{
	struct api_response r = {0};

	api_reply_error(s->api, &r, 400, msg);
	return send_response(c, &r);
}

/* The declared Content-Length (0 when none). */
static unsigned long long declared_len(struct MHD_Connection *c)
{
	const char *cl =
	    mhd->lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return cl ? strtoull(cl, NULL, 10) : 0;
}

/* A body over the limit, in Firecracker's words (size: the declared or received length). */
static enum MHD_Result reject_size(struct http_server *s, struct MHD_Connection *c,
				   unsigned long long size)
{
	char msg[160];

	snprintf(
	    msg, sizeof(msg),
	    "Request payload with size %llu is larger than the limit of %zu allowed by server.",
	    size, s->api->max_body);
	return reject(s, c, msg);
}

static void body_add(struct http_req *q, const char *data, size_t n, size_t max)
{
	char *nb;

	if (q->too_big) {
		q->len += n; /* counted, for the message */
		return;
	}
	if (n > max - q->len) {
		q->len += n;
		q->too_big = true;
		free(q->body);
		q->body = NULL;
		return;
	}
	nb = realloc(q->body, q->len + n + 1);
	if (!nb) {
		q->too_big = true; /* answered as too big: nothing better to say */
		return;
	}
	memcpy(nb + q->len, data, n);
	q->body = nb;
	q->len += n;
}

/* ---- connections ---- */

static struct http_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    mhd->get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void conn_set_busy(struct MHD_Connection *c, bool busy)
{
	struct http_conn *k = conn_of(c);

	if (k)
		k->busy = busy;
}

/* The server is full: shut the oldest idle connection (every one busy: the oldest), so that a
 * client holding connections open cannot lock the others out; MHD sees it end on its next run
 * and then accepts the next waiting client. */
static void evict_one(struct http_server *s)
{
	struct http_conn *v = NULL;
	const union MHD_ConnectionInfo *ci;

	for (struct http_conn *k = s->oldest; k && !v; k = k->next)
		if (!k->busy && !k->evicted)
			v = k;
	for (struct http_conn *k = s->oldest; k && !v; k = k->next)
		if (!k->evicted)
			v = k;
	if (!v)
		return;
	ci = mhd->get_connection_info(v->c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || shutdown(ci->connect_fd, SHUT_RDWR) < 0)
		return;
	v->evicted = true;
	s->nr_evicted++;
	log_debug("api: %u connections open: closed the oldest %s one", s->nr_conns,
		  v->busy ? "busy" : "idle");
}

static void conn_unlink(struct http_server *s, struct http_conn *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		s->oldest = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		s->newest = k->prev;
	s->nr_conns--;
	s->nr_evicted -= k->evicted;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection was accepted or closed. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = cls;
	struct http_conn *k = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (k)
			conn_unlink(s, k);
		free(k);
		*socket_context = NULL;
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return; /* not tracked: never evicted */
	k->c = c;
	k->prev = s->newest;
	if (s->newest)
		s->newest->next = k;
	else
		s->oldest = k;
	s->newest = k;
	s->nr_conns++;
	*socket_context = k;
	if (s->nr_conns - s->nr_evicted >= HTTP_CONN_MAX)
		evict_one(s);
}

/* ---- requests ---- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *q = *con_cls;
	struct api_response r = {0};

	if (!q) { /* headers only, so far */
		q = calloc(1, sizeof(*q));
		if (!q)
			return MHD_NO;
		*con_cls = q;
		conn_set_busy(c, true);
		q->declared = declared_len(c);
		if (q->declared > s->api->max_body + HTTP_DRAIN_MAX)
			return reject_size(s, c, q->declared);
		q->too_big = q->declared > s->api->max_body; /* read and dropped, then answered */
		return MHD_YES;
	}
	if (*data_size) {
		body_add(q, data, *data_size, s->api->max_body);
		*data_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		return reject_size(s, c, q->declared > q->len ? q->declared : q->len);
	api_dispatch(s->api, method, url, q->body, q->len, &r);
	log_debug("api: %s %s -> %d", method, url, r.status);
	return send_response(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct http_req *q = *con_cls;

	conn_set_busy(c, false);
	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* MHD_OPTION_UNESCAPE_CALLBACK: decode %HH in a URL in place, except %00, which stays as
 * written: MHD's own decoder turns it into a NUL that cuts the path short where kiln reads it
 * as a C string (PUT /drives/a%00xyz configured drive "a"; GET /%00 was GET /). Returns the
 * new length. */
static size_t unescape_url(void *cls, struct MHD_Connection *c, char *s)
{
	char *out = s;
	int hi, lo;

	(void)cls;
	(void)c;
	for (const char *in = s; *in;) {
		if (in[0] == '%' && (hi = hex_digit(in[1])) >= 0 && (lo = hex_digit(in[2])) >= 0 &&
		    (hi | lo) != 0) {
			*out++ = (char)(hi << 4 | lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = 0;
	return (size_t)(out - s);
}

static PRINTF(2, 0) void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = 0;
	log_debug("api: http: %s", buf);
}

/* ---- the loop side ---- */

/* Arm the timer for MHD's next timeout (connection timeouts), or disarm it. */
static void timer_update(struct http_server *s)
{
	struct itimerspec its = {0};
	MHD_UNSIGNED_LONG_LONG ms;

	if (mhd->get_timeout(s->mhd, &ms) == MHD_YES) {
		its.it_value.tv_sec = (time_t)(ms / 1000);
		its.it_value.tv_nsec = (long)(ms % 1000) * 1000000 + 1; /* never 0: that disarms */
	}
	if (timerfd_settime(s->timer_fd, 0, &its, NULL) < 0)
		log_debug("api: timerfd_settime: %s", strerror(errno));
}

static unsigned open_conns(struct http_server *s)
{
	const union MHD_DaemonInfo *i =
	    mhd->get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

static void run_mhd(struct http_server *s)
{
	unsigned before = open_conns(s);

	if (mhd->run(s->mhd) != MHD_YES)
		log_debug("api: MHD_run failed");
	/* At its connection limit MHD stops watching the listening socket, and watches it again
	 * only on the run after connections closed, which no event brings when no connection is
	 * left: clients queued in the backlog then waited for ever. Run once more now. */
	if (open_conns(s) < before && mhd->run(s->mhd) != MHD_YES)
		log_debug("api: MHD_run failed");
	timer_update(s);
}

static void on_mhd_fd(void *ctx, int fd, uint32_t events)
{
	run_mhd(ctx);
}

static void on_timer(void *ctx, int fd, uint32_t events)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("api: timer read: %s", strerror(errno));
	run_mhd(ctx);
}

static int daemon_start(struct http_server *s)
{
	const union MHD_DaemonInfo *info;

	s->mhd = mhd->start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
	    MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape_url, s, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTP_CONN_MAX, MHD_OPTION_END);
	if (!s->mhd)
		return -EIO;
	info = mhd->get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0)
		return -EIO;
	s->mhd_fd = info->epoll_fd;
	return 0;
}

int http_server_start(struct http_server *s, struct event_loop *loop, const char *path,
		      struct api *api)
{
	int ret;

	mhd = mhd_load();
	if (!mhd)
		return -ENOENT;
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->api = api;
	s->mhd_fd = s->timer_fd = -1;
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->listen_fd = unix_listen(path, HTTP_LISTEN_BACKLOG, SOCK_NONBLOCK);
	if (s->listen_fd < 0) {
		ret = s->listen_fd;
		log_err("--api-sock %s: %s", path, unix_sock_strerror(ret));
		s->path[0] = 0; /* not ours to remove */
		return ret;
	}
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	ret = s->timer_fd < 0 ? -errno : daemon_start(s);
	if (ret == 0)
		ret = event_loop_add(loop, s->mhd_fd, EPOLLIN, on_mhd_fd, s);
	if (ret == 0)
		ret = event_loop_add(loop, s->timer_fd, EPOLLIN, on_timer, s);
	if (ret < 0) {
		log_err("--api-sock %s: cannot start the HTTP server: %s", path, strerror(-ret));
		http_server_stop(s);
		return ret;
	}
	timer_update(s);
	return 0;
}

void http_server_stop(struct http_server *s)
{
	if (s->loop && s->mhd_fd >= 0)
		event_loop_del(s->loop, s->mhd_fd);
	if (s->loop && s->timer_fd >= 0)
		event_loop_del(s->loop, s->timer_fd);
	if (s->mhd)
		mhd->stop_daemon(s->mhd); /* closes the listening socket it was given */
	else if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	if (s->path[0])
		unlink(s->path);
	memset(s, 0, sizeof(*s));
	s->listen_fd = s->mhd_fd = s->timer_fd = -1;
}

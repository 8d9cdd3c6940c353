/* http.c — libmicrohttpd in external-epoll mode on kiln's loop: the socket (util/unix_sock.h), body
 * collection with a size limit, JSON responses. */
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

	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
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

static void run_mhd(struct http_server *s)
{
	if (mhd->run(s->mhd) != MHD_YES)
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

	s->mhd =
	    mhd->start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, s,
			      MHD_OPTION_LISTEN_SOCKET, s->listen_fd, MHD_OPTION_CONNECTION_TIMEOUT,
			      (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED,
			      on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
			      MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_END);
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

/* event_loop.c — a small epoll dispatcher with a fixed handler table. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/event_loop.h"

int event_loop_init(struct event_loop *l)
{
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < EVENT_LOOP_MAX_FDS; i++)
		l->h[i].fd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	return l->epfd < 0 ? -errno : 0;
}

void event_loop_destroy(struct event_loop *l)
{
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = -1;
}

static struct event_handler *find(struct event_loop *l, int fd)
{
	for (int i = 0; i < EVENT_LOOP_MAX_FDS; i++)
		if (l->h[i].fd == fd)
			return &l->h[i];
	return NULL;
}

int event_loop_add(struct event_loop *l, int fd, uint32_t events,
		   void (*cb)(void *ctx, int fd, uint32_t events), void *ctx)
{
	struct event_handler *h;
	struct epoll_event ev = {.events = events};

	if (fd < 0 || !cb)
		return -EINVAL;
	if (find(l, fd))
		return -EEXIST;
	h = find(l, -1);
	if (!h)
		return -ENOSPC;
	ev.data.ptr = h;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*h = (struct event_handler){.fd = fd, .cb = cb, .ctx = ctx};
	return 0;
}

int event_loop_mod(struct event_loop *l, int fd, uint32_t events)
{
	struct event_handler *h = fd < 0 ? NULL : find(l, fd);
	struct epoll_event ev = {.events = events, .data.ptr = h};

	if (!h)
		return -ENOENT;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

int event_loop_del(struct event_loop *l, int fd)
{
	struct event_handler *h = fd < 0 ? NULL : find(l, fd);

	if (!h)
		return -ENOENT;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	h->fd = -1;
	return 0;
}

int event_loop_dispatch(struct event_loop *l, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(l->epfd, evs, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n && !l->stop; i++) {
		struct event_handler *h = evs[i].data.ptr;

		if (h->fd >= 0)
			h->cb(h->ctx, h->fd, evs[i].events);
	}
	return n;
}

int event_loop_run(struct event_loop *l)
{
	int ret = 0;

	l->stop = false;
	while (!l->stop && ret >= 0)
		ret = event_loop_dispatch(l, -1);
	return ret < 0 ? ret : 0;
}

void event_loop_stop(struct event_loop *l)
{
	l->stop = true;
}

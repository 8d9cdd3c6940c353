/* event_loop.c — a small epoll dispatcher with a fixed handler table, and adaptive polling.
 *
 * Polling: a guest that waits for each request before it makes the next (a disk at queue depth
 * 1) pays the main thread's wake-up from epoll_wait for every request; on a host that is itself
 * a VM that wake-up is tens of microseconds. So before sleeping the loop spins over its pollers
 * for a window that adapts, as QEMU's AioContext does: a sleep that ended sooner than
 * EVENT_LOOP_POLL_MAX_NS (work would have come within the window) doubles it, from 4 us up to
 * the maximum; a longer sleep halves it, down to 0, so an idle VM's loop does not spin at all.
 * Written by hand: libev and libevent have no such polling phase. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
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

int event_loop_add_poller(struct event_loop *l, enum event_poll (*poll)(void *ctx), void *ctx)
{
	if (!poll)
		return -EINVAL;
	for (int i = 0; i < EVENT_LOOP_MAX_POLLERS; i++)
		if (!l->p[i].poll) {
			l->p[i] = (struct event_poller){.poll = poll, .ctx = ctx};
			return 0;
		}
	return -ENOSPC;
}

void event_loop_del_poller(struct event_loop *l, enum event_poll (*poll)(void *ctx), void *ctx)
{
	for (int i = 0; i < EVENT_LOOP_MAX_POLLERS; i++)
		if (l->p[i].poll == poll && l->p[i].ctx == ctx)
			l->p[i].poll = NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Run every poller once: WORK if one found work, else IDLE if one would go on spinning, else
 * WAIT. */
static enum event_poll poll_once(struct event_loop *l)
{
	enum event_poll best = EVENT_POLL_WAIT;

	for (int i = 0; i < EVENT_LOOP_MAX_POLLERS && !l->stop; i++) {
		enum event_poll r = l->p[i].poll ? l->p[i].poll(l->p[i].ctx) : EVENT_POLL_WAIT;

		if (r > best)
			best = r;
	}
	return best;
}

/* Spin over the pollers for the current window; whether one found work. */
static bool poll_window(struct event_loop *l)
{
	uint64_t end;

	if (!l->poll_ns)
		return false;
	end = now_ns() + l->poll_ns;
	do {
		enum event_poll r = poll_once(l);

		if (r == EVENT_POLL_WORK)
			return true;
		if (r == EVENT_POLL_WAIT)
			return false;
		cpu_relax();
	} while (now_ns() < end && !l->stop);
	return false;
}

/* Adapt the window to how long the loop just slept (see the top of the file). */
static void adapt(struct event_loop *l, uint64_t slept_ns)
{
	if (slept_ns < EVENT_LOOP_POLL_MAX_NS)
		l->poll_ns = l->poll_ns ? l->poll_ns * 2 : 4000;
	else
		l->poll_ns /= 2;
	if (l->poll_ns > EVENT_LOOP_POLL_MAX_NS)
		l->poll_ns = EVENT_LOOP_POLL_MAX_NS;
	if (l->poll_ns < 4000)
		l->poll_ns = 0;
}

static bool has_pollers(const struct event_loop *l)
{
	for (int i = 0; i < EVENT_LOOP_MAX_POLLERS; i++)
		if (l->p[i].poll)
			return true;
	return false;
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
	while (!l->stop && ret >= 0) {
		uint64_t t0;

		if (!has_pollers(l)) {
			ret = event_loop_dispatch(l, -1);
			continue;
		}
		if (poll_window(l)) { /* work found: take other events without sleeping */
			ret = event_loop_dispatch(l, 0);
			continue;
		}
		t0 = now_ns();
		ret = event_loop_dispatch(l, -1);
		adapt(l, now_ns() - t0);
	}
	return ret < 0 ? ret : 0;
}

void event_loop_stop(struct event_loop *l)
{
	l->stop = true;
}

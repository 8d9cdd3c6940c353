/* event_loop.h — the main thread's epoll loop: fd callbacks until asked to stop, and pollers
 * that it spins over for a while before it sleeps (adaptive, as QEMU's AioContext polling). */
#ifndef KILN_CORE_EVENT_LOOP_H
#define KILN_CORE_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

#define EVENT_LOOP_MAX_FDS     64
#define EVENT_LOOP_MAX_POLLERS 64
/* The longest spin before sleeping (ns); the window adapts between 0 and this (event_loop.c). */
#define EVENT_LOOP_POLL_MAX_NS 50000

struct event_handler {
	int fd;
	void (*cb)(void *ctx, int fd, uint32_t events);
	void *ctx;
};

/* What a poller found: work (done), nothing yet, or nothing to spin for (it waits for work the
 * kernel does on another thread, e.g. io_uring's workers, which need the CPU the spin would
 * take). */
enum event_poll { EVENT_POLL_WAIT = -1, EVENT_POLL_IDLE = 0, EVENT_POLL_WORK = 1 };

struct event_poller {
	enum event_poll (*poll)(void *ctx); /* NULL: free */
	void *ctx;
};

struct event_loop {
	int epfd;
	bool stop;
	struct event_handler h[EVENT_LOOP_MAX_FDS]; /* fd -1: free */
	struct event_poller p[EVENT_LOOP_MAX_POLLERS];
	uint64_t poll_ns; /* the current spin window: 0 while sleeps are long (an idle VM) */
};

/* Create the epoll instance. Returns 0 or -errno. */
int event_loop_init(struct event_loop *l) MUST_CHECK;
void event_loop_destroy(struct event_loop *l);

/* Watch fd for events (EPOLLIN, ...), calling cb on the main thread. -EEXIST, -ENOSPC, -errno. */
int event_loop_add(struct event_loop *l, int fd, uint32_t events,
		   void (*cb)(void *ctx, int fd, uint32_t events), void *ctx) MUST_CHECK;

/* Change the events watched on fd (0 pauses it). Returns 0, -ENOENT or -errno. */
int event_loop_mod(struct event_loop *l, int fd, uint32_t events) MUST_CHECK;

/* Stop watching fd. Returns 0 or -ENOENT. */
int event_loop_del(struct event_loop *l, int fd);

/* Add a poller: before event_loop_run sleeps it calls poll(ctx) over and over for up to its
 * window; poll does whatever work it finds (on the main thread) and says what it found (enum
 * event_poll); the loop stops spinning early when every poller says WAIT. Meant for work that
 * a notification (an eventfd) would also announce, but later: a device polled this way answers
 * without the main thread's wake-up. 0, -EINVAL or -ENOSPC. */
int event_loop_add_poller(struct event_loop *l, enum event_poll (*poll)(void *ctx),
			  void *ctx) MUST_CHECK;
/* Remove the poller (poll, ctx); nothing if absent. */
void event_loop_del_poller(struct event_loop *l, enum event_poll (*poll)(void *ctx), void *ctx);

/* Dispatch events until event_loop_stop is called (from a callback), spinning over the pollers
 * before each sleep while the window is open. Returns 0 or -errno. */
int event_loop_run(struct event_loop *l) MUST_CHECK;

/* Wait up to timeout_ms (-1: forever, 0: not at all) for events and run their callbacks once
 * (stopping early if one calls event_loop_stop). Returns the events seen (0 also for EINTR) or
 * -errno. For tests and fuzzers that drive the loop step by step; event_loop_run repeats it. */
int event_loop_dispatch(struct event_loop *l, int timeout_ms);

/* Make event_loop_run return after the current dispatch round. Main thread only. */
void event_loop_stop(struct event_loop *l);

#endif

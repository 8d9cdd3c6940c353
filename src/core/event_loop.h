/* event_loop.h — the main thread's epoll loop: fd callbacks until asked to stop. */
#ifndef KILN_CORE_EVENT_LOOP_H
#define KILN_CORE_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/compiler.h"

#define EVENT_LOOP_MAX_FDS 64

struct event_handler {
	int fd;
	void (*cb)(void *ctx, int fd, uint32_t events);
	void *ctx;
};

struct event_loop {
	int epfd;
	bool stop;
	struct event_handler h[EVENT_LOOP_MAX_FDS]; /* fd -1: free */
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

/* Dispatch events until event_loop_stop is called (from a callback). Returns 0 or -errno. */
int event_loop_run(struct event_loop *l) MUST_CHECK;

/* Wait up to timeout_ms (-1: forever, 0: not at all) for events and run their callbacks once
 * (stopping early if one calls event_loop_stop). Returns the events seen (0 also for EINTR) or
 * -errno. For tests and fuzzers that drive the loop step by step; event_loop_run repeats it. */
int event_loop_dispatch(struct event_loop *l, int timeout_ms);

/* Make event_loop_run return after the current dispatch round. Main thread only. */
void event_loop_stop(struct event_loop *l);

#endif

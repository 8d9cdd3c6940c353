/* test_event_loop.c — the epoll dispatcher, and the log rate limiter. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/event_loop.h"
#include "util/log.h"

struct ctx {
	struct event_loop *l;
	int calls, stop_after;
	int last_fd;
};

static void on_event(void *p, int fd, uint32_t events)
{
	struct ctx *c = p;
	uint64_t v;

	assert_true(events & EPOLLIN);
	assert_int_equal(read(fd, &v, sizeof(v)), sizeof(v));
	c->last_fd = fd;
	if (++c->calls >= c->stop_after)
		event_loop_stop(c->l);
}

static void test_dispatch_and_stop(void **state)
{
	struct event_loop l;
	struct ctx c = {.l = &l, .stop_after = 2};
	uint64_t one = 1;
	int a = eventfd(0, EFD_NONBLOCK), b = eventfd(0, EFD_NONBLOCK);

	(void)state;
	assert_int_equal(event_loop_init(&l), 0);
	assert_int_equal(event_loop_add(&l, a, EPOLLIN, on_event, &c), 0);
	assert_int_equal(event_loop_add(&l, b, EPOLLIN, on_event, &c), 0);
	assert_int_equal(event_loop_add(&l, a, EPOLLIN, on_event, &c), -EEXIST);
	assert_int_equal(event_loop_add(&l, -1, EPOLLIN, on_event, &c), -EINVAL);
	assert_int_equal(write(a, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(b, &one, sizeof(one)), sizeof(one));
	assert_int_equal(event_loop_run(&l), 0);
	assert_int_equal(c.calls, 2);
	/* A paused fd (events 0) is not dispatched; a deleted one neither. */
	assert_int_equal(event_loop_mod(&l, a, 0), 0);
	assert_int_equal(event_loop_del(&l, b), 0);
	assert_int_equal(event_loop_del(&l, b), -ENOENT);
	assert_int_equal(event_loop_mod(&l, b, EPOLLIN), -ENOENT);
	assert_int_equal(write(a, &one, sizeof(one)), sizeof(one));
	assert_int_equal(write(b, &one, sizeof(one)), sizeof(one));
	assert_int_equal(event_loop_add(&l, c.last_fd == a ? b : b, EPOLLIN, on_event, &c), 0);
	c.stop_after = 3;
	assert_int_equal(event_loop_run(&l), 0);
	assert_int_equal(c.last_fd, b); /* only b fired: a is paused */
	event_loop_destroy(&l);
	close(a);
	close(b);
}

static void test_table_full(void **state)
{
	struct event_loop l;
	struct ctx c = {0};
	int fds[EVENT_LOOP_MAX_FDS + 1];

	(void)state;
	assert_int_equal(event_loop_init(&l), 0);
	for (int i = 0; i <= EVENT_LOOP_MAX_FDS; i++) {
		fds[i] = eventfd(0, 0);
		assert_int_equal(event_loop_add(&l, fds[i], EPOLLIN, on_event, &c),
				 i < EVENT_LOOP_MAX_FDS ? 0 : -ENOSPC);
	}
	for (int i = 0; i <= EVENT_LOOP_MAX_FDS; i++)
		close(fds[i]);
	event_loop_destroy(&l);
}

static void test_ratelimit(void **state)
{
	struct log_ratelimit rl = {.burst = 3, .interval_ms = 60000};
	int printed = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		printed += log_ratelimit_ok(&rl);
	assert_int_equal(printed, 3);
	assert_int_equal(rl.suppressed, 97);
	rl.last_ms -= 60000; /* the interval has passed: one more, and the count resets */
	assert_true(log_ratelimit_ok(&rl));
	assert_int_equal(rl.suppressed, 0);
	assert_false(log_ratelimit_ok(&rl));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dispatch_and_stop),
	    cmocka_unit_test(test_table_full),
	    cmocka_unit_test(test_ratelimit),
	};

	log_set_level(LOG_ERROR); /* keep the rate limiter's own summary line out of the output */
	return cmocka_run_group_tests(tests, NULL, NULL);
}

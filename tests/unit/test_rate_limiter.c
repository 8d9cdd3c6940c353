/* test_rate_limiter.c — token buckets with explicit time (Firecracker's semantics: start full,
 * refill in proportion to time, a one-time burst first, an oversized request let through from a
 * full bucket as a debt), and the limiter that takes an operation and bytes or neither. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/rate_limiter.h"

#define MS 1000000ull

static void test_unlimited(void **st)
{
	struct bucket_config none = {0};
	struct token_bucket b;

	(void)st;
	token_bucket_init(&b, &none, 0);
	assert_true(token_bucket_take(&b, UINT64_MAX, 0));
	assert_int_equal(token_bucket_wait_ns(&b, UINT64_MAX, 0), 0);
}

static void test_refill_in_proportion(void **st)
{
	struct bucket_config c = {.size = 1000, .refill_ms = 100};
	struct token_bucket b;

	(void)st;
	token_bucket_init(&b, &c, 0);
	assert_true(token_bucket_take(&b, 1000, 0)); /* starts full */
	assert_false(token_bucket_take(&b, 1, 0));
	assert_int_equal(token_bucket_wait_ns(&b, 100, 0), 10 * MS); /* 100 tokens: 10 ms */
	assert_false(token_bucket_take(&b, 100, 9 * MS));
	assert_true(token_bucket_take(&b, 100, 10 * MS));
	assert_true(token_bucket_take(&b, 900, 200 * MS)); /* capped at the size */
	assert_false(token_bucket_take(&b, 101, 200 * MS));
}

static void test_one_time_burst(void **st)
{
	struct bucket_config c = {.size = 100, .one_time_burst = 50, .refill_ms = 1000};
	struct token_bucket b;

	(void)st;
	token_bucket_init(&b, &c, 0);
	assert_true(token_bucket_take(&b, 150, 0)); /* burst, then the budget */
	assert_false(token_bucket_take(&b, 1, 0));
	assert_int_equal(b.burst, 0); /* never refilled */
	assert_true(token_bucket_take(&b, 100, 1000 * MS));
}

static void test_oversized_request_is_a_debt(void **st)
{
	struct bucket_config c = {.size = 100, .refill_ms = 100};
	struct token_bucket b;

	(void)st;
	token_bucket_init(&b, &c, 0);
	assert_int_equal(token_bucket_wait_ns(&b, 250, 0), 0); /* full: it may go */
	assert_true(token_bucket_take(&b, 250, 0));
	assert_int_equal(b.budget, -150);
	assert_false(token_bucket_take(&b, 1, 100 * MS)); /* the debt is repaid first */
	assert_true(token_bucket_take(&b, 1, 160 * MS));
}

static int g_ready;

static void ready(void *ctx)
{
	(void)ctx;
	g_ready++;
}

/* Both buckets or neither: an operation refused for want of bytes is not charged. */
static void test_limiter_takes_both_or_neither(void **st)
{
	struct rate_limit_config c = {.bandwidth = {.size = 1000, .refill_ms = 1000},
				      .ops = {.size = 2, .refill_ms = 1000}};
	struct rate_limiter rl;
	struct event_loop loop;

	(void)st;
	assert_int_equal(event_loop_init(&loop), 0);
	assert_int_equal(rate_limiter_init(&rl, &c, &loop, ready, NULL), 0);
	assert_true(rate_limiter_consume(&rl, 600));
	assert_false(rate_limiter_consume(&rl, 600)); /* bytes short: the op is not taken */
	assert_int_equal(rl.ops.budget, 1);
	assert_true(rate_limiter_consume(&rl, 400));
	assert_false(rate_limiter_consume(&rl, 0)); /* ops short */
	assert_int_equal(rl.throttled, 2);
	rate_limiter_destroy(&rl);
	event_loop_destroy(&loop);
}

static int fired;

static void count_ready(void *ctx)
{
	(void)ctx;
	fired++;
}

/* Limits set later, in place (PATCH after boot): the timer appears then and wakes the owner
 * through the limiter at its own address; lifting the limits lets everything pass. */
static void test_update_in_place(void **st)
{
	struct rate_limit_config none = {0}, c = {.ops = {.size = 1, .refill_ms = 20}};
	struct rate_limiter rl;
	struct event_loop loop;

	(void)st;
	assert_int_equal(event_loop_init(&loop), 0);
	assert_int_equal(rate_limiter_init(&rl, &none, &loop, count_ready, NULL), 0);
	assert_int_equal(rl.timer_fd, -1); /* nothing made while unlimited */
	assert_int_equal(rate_limiter_update(&rl, &c), 0);
	assert_true(rl.timer_fd >= 0);
	assert_true(rate_limiter_consume(&rl, 0));
	assert_false(rate_limiter_consume(&rl, 0)); /* the timer is armed */
	fired = 0;
	for (int i = 0; i < 10 && !fired; i++)
		(void)event_loop_dispatch(&loop, 50);
	assert_int_equal(fired, 1);
	assert_int_equal(rate_limiter_update(&rl, &none), 0);
	for (int i = 0; i < 100; i++)
		assert_true(rate_limiter_consume(&rl, 1 << 20));
	rate_limiter_destroy(&rl);
	event_loop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unlimited),
	    cmocka_unit_test(test_refill_in_proportion),
	    cmocka_unit_test(test_one_time_burst),
	    cmocka_unit_test(test_oversized_request_is_a_debt),
	    cmocka_unit_test(test_limiter_takes_both_or_neither),
	    cmocka_unit_test(test_update_in_place),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_io.c — util/io.h: short reads and writes through pipes and socket pairs, end of stream,
 * EINTR, a non-blocking descriptor, a closed socket peer (no SIGPIPE), positional writes. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/io.h"

#define BIG (1u << 20) /* far more than a pipe holds: many short transfers */

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* ---- a peer thread ---- */

struct peer {
	int fd;
	uint8_t *buf;
	size_t n, chunk; /* raw read()/write() calls of at most chunk bytes */
	long delay_ms;	 /* before starting */
	pthread_t kill;	 /* signalled (SIGUSR1) after delay_ms, before the transfer, if set */
	bool do_kill;
	int ret;
};

static void *writer(void *arg)
{
	struct peer *p = arg;

	sleep_ms(p->delay_ms);
	if (p->do_kill) {
		pthread_kill(p->kill, SIGUSR1);
		sleep_ms(20);
	}
	for (size_t off = 0; off < p->n;) {
		size_t want = p->n - off < p->chunk ? p->n - off : p->chunk;
		ssize_t w = write(p->fd, p->buf + off, want);

		if (w <= 0)
			return NULL;
		off += (size_t)w;
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct peer *p = arg;

	sleep_ms(p->delay_ms);
	if (p->do_kill) {
		pthread_kill(p->kill, SIGUSR1);
		sleep_ms(20);
	}
	for (size_t off = 0; off < p->n;) {
		size_t want = p->n - off < p->chunk ? p->n - off : p->chunk;
		ssize_t r = read(p->fd, p->buf + off, want);

		if (r <= 0)
			return NULL;
		off += (size_t)r;
	}
	return NULL;
}

static void *bulk_writer(void *arg)
{
	struct peer *p = arg;

	p->ret = io_write_all(p->fd, p->buf, p->n);
	return NULL;
}

static volatile sig_atomic_t signalled;

static void on_usr1(int sig)
{
	(void)sig;
	signalled++;
}

/* SIGUSR1 interrupts system calls (no SA_RESTART): they fail with EINTR. */
static int setup_signal(void **state)
{
	struct sigaction sa = {.sa_handler = on_usr1};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would end the test run */
	(void)state;
	return 0;
}

/* ---- tests ---- */

static void test_pipe_short_transfers(void **state)
{
	uint8_t *src = malloc(BIG), *dst = malloc(BIG);
	struct peer w = {.buf = src, .n = BIG};
	pthread_t t;
	int p[2];

	assert_non_null(src);
	assert_non_null(dst);
	pattern(src, BIG, 7);
	assert_int_equal(pipe(p), 0);
	fcntl(p[1], F_SETPIPE_SZ, 4096); /* small: the writer blocks often */
	w.fd = p[1];
	assert_int_equal(pthread_create(&t, NULL, bulk_writer, &w), 0);
	/* Reads of odd sizes across the writer's short writes. */
	for (size_t off = 0, k = 1; off < BIG; k = k * 7 % 65521 + 1) {
		size_t n = BIG - off < k ? BIG - off : k;

		assert_int_equal(io_read_all(p[0], dst + off, n), 0);
		off += n;
	}
	pthread_join(t, NULL);
	assert_int_equal(w.ret, 0);
	assert_memory_equal(src, dst, BIG);
	close(p[0]);
	close(p[1]);
	free(src);
	free(dst);
	(void)state;
}

static void test_read_trickle(void **state)
{
	uint8_t src[300], dst[300];
	struct peer w = {.buf = src, .n = sizeof(src), .chunk = 1};
	pthread_t t;
	int sv[2];

	pattern(src, sizeof(src), 3);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	w.fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
	assert_int_equal(io_read_all(sv[0], dst, sizeof(dst)), 0); /* byte by byte */
	pthread_join(t, NULL);
	assert_memory_equal(src, dst, sizeof(src));
	close(sv[0]);
	close(sv[1]);
	(void)state;
}

static void test_socket_write_short(void **state)
{
	uint8_t *src = malloc(BIG), *dst = malloc(BIG);
	struct peer r = {.buf = dst, .n = BIG, .chunk = 1000};
	int sv[2], sz = 4096;
	pthread_t t;

	assert_non_null(src);
	assert_non_null(dst);
	pattern(src, BIG, 11);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	r.fd = sv[1];
	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	assert_int_equal(io_write_all(sv[0], src, BIG), 0);
	pthread_join(t, NULL);
	assert_memory_equal(src, dst, BIG);
	close(sv[0]);
	close(sv[1]);
	free(src);
	free(dst);
	(void)state;
}

static void test_eof(void **state)
{
	uint8_t b[20];
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "0123456789", 10), 10);
	assert_int_equal(write(p[1], "abcde", 5), 5);
	close(p[1]);
	assert_int_equal(io_read_all(p[0], b, 10), 0);
	assert_memory_equal(b, "0123456789", 10);
	assert_int_equal(io_read_all(p[0], b, 10), -EPIPE); /* 5 bytes, then the end */
	assert_memory_equal(b, "abcde", 5);
	assert_int_equal(io_read_all(p[0], b, 1), -EPIPE);
	assert_int_equal(io_read_all(p[0], b, 0), 0); /* nothing asked: no read at all */
	close(p[0]);
	(void)state;
}

static void test_zero_length_does_not_block(void **state)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(io_read_all(p[0], NULL, 0), 0); /* an empty blocking pipe */
	assert_int_equal(io_write_all(p[1], NULL, 0), 0);
	close(p[0]);
	close(p[1]);
	(void)state;
}

static void test_eintr_read(void **state)
{
	uint8_t src[64], dst[64];
	struct peer w = {
	    .buf = src, .n = sizeof(src), .chunk = 16, .delay_ms = 50, .do_kill = true};
	pthread_t t;
	int p[2];

	pattern(src, sizeof(src), 5);
	assert_int_equal(pipe(p), 0);
	w.fd = p[1];
	w.kill = pthread_self();
	signalled = 0;
	assert_int_equal(pthread_create(&t, NULL, writer, &w), 0);
	assert_int_equal(io_read_all(p[0], dst, sizeof(dst)), 0); /* interrupted, then resumed */
	pthread_join(t, NULL);
	assert_int_equal(signalled, 1);
	assert_memory_equal(src, dst, sizeof(dst));
	close(p[0]);
	close(p[1]);
	(void)state;
}

static void test_eintr_write(void **state)
{
	size_t n = 256 * 1024;
	uint8_t *src = malloc(n), *dst = malloc(n);
	struct peer r = {.buf = dst, .n = n, .chunk = 4096, .delay_ms = 50, .do_kill = true};
	pthread_t t;
	int p[2];

	assert_non_null(src);
	assert_non_null(dst);
	pattern(src, n, 9);
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	r.kill = pthread_self();
	signalled = 0;
	assert_int_equal(pthread_create(&t, NULL, reader, &r), 0);
	assert_int_equal(io_write_all(p[1], src, n), 0); /* blocks on the full pipe, interrupted */
	pthread_join(t, NULL);
	assert_int_equal(signalled, 1);
	assert_memory_equal(src, dst, n);
	close(p[0]);
	close(p[1]);
	free(src);
	free(dst);
	(void)state;
}

static void test_nonblocking_eagain(void **state)
{
	uint8_t b[8];
	int p[2];

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	assert_int_equal(io_read_all(p[0], b, sizeof(b)), -EAGAIN);
	assert_int_equal(write(p[1], "abc", 3), 3);
	assert_int_equal(io_read_all(p[0], b, sizeof(b)), -EAGAIN); /* 3 bytes consumed */
	assert_int_equal(read(p[0], b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	close(p[0]);
	close(p[1]);
	(void)state;
}

static void test_closed_peer_no_sigpipe(void **state)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	assert_int_equal(io_write_all(sv[0], "x", 1), -EPIPE); /* SIGPIPE would end the run */
	close(sv[0]);
	(void)state;
}

static void test_files(void **state)
{
	char path[] = "/tmp/kiln-io-XXXXXX";
	int fd = mkstemp(path);
	uint8_t b[16];

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(io_write_all(fd, "hello world", 11), 0); /* not a socket: write() */
	assert_int_equal(io_pwrite_all(fd, "W", 1, 6), 0);
	assert_int_equal(io_pwrite_all(fd, "!!", 2, 11), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 11); /* pwrite leaves the offset */
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(io_read_all(fd, b, 13), 0);
	assert_memory_equal(b, "hello World!!", 13);
	assert_int_equal(io_read_all(fd, b, 1), -EPIPE);
	assert_int_equal(io_read_all(-1, b, 1), -EBADF);
	assert_int_equal(io_write_all(-1, b, 1), -EBADF);
	close(fd);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipe_short_transfers),
	    cmocka_unit_test(test_read_trickle),
	    cmocka_unit_test(test_socket_write_short),
	    cmocka_unit_test(test_eof),
	    cmocka_unit_test(test_zero_length_does_not_block),
	    cmocka_unit_test(test_eintr_read),
	    cmocka_unit_test(test_eintr_write),
	    cmocka_unit_test(test_nonblocking_eagain),
	    cmocka_unit_test(test_closed_peer_no_sigpipe),
	    cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, setup_signal, NULL);
}

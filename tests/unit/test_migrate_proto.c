/* test_migrate_proto.c — the migration wire format's integers are little-endian whatever the
 * host's order: the decode/encode helpers and the page-run header on hand-built bytes, the
 * stream header and a frame over a socket pair. Every multi-byte pattern is asymmetric, so a
 * host-order decoder on a big-endian host reads another value and fails these checks. Also the
 * send deadline: on a socket with SO_SNDTIMEO a frame fails with -EAGAIN once no byte has moved
 * for that long, and a slow reader that keeps taking bytes is not cut off. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "migrate/proto.h"

static void test_le_helpers(void **state)
{
	const uint8_t b[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
	uint8_t out[8];

	(void)state;
	assert_int_equal(mig_get_le32(b), 0x04030201u);
	assert_int_equal(mig_get_le32(b + 4), 0x08070605u);
	assert_int_equal(mig_get_le64(b), 0x0807060504030201ull);
	mig_put_le32(out, 0xa1b2c3d4u);
	assert_memory_equal(out, ((const uint8_t[]){0xd4, 0xc3, 0xb2, 0xa1}), 4);
	mig_put_le64(out, 0x1122334455667788ull);
	assert_memory_equal(out,
			    ((const uint8_t[]){0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}), 8);
	assert_int_equal(mig_get_le64(out), 0x1122334455667788ull);
}

/* A MEMORY payload: one run header written byte by byte, then room for `room` pages. */
static uint8_t *run_bytes(const uint8_t hdr[MIG_RUN_HDR], size_t room, size_t *len)
{
	uint8_t *p = calloc(1, MIG_RUN_HDR + room * MIG_PAGE);

	assert_non_null(p);
	memcpy(p, hdr, MIG_RUN_HDR);
	*len = MIG_RUN_HDR + room * MIG_PAGE;
	return p;
}

static int get_run(const uint8_t hdr[MIG_RUN_HDR], size_t room, struct mig_run *r)
{
	const char *why = NULL;
	size_t len;
	uint8_t *p = run_bytes(hdr, room, &len);
	int ret = mig_get_run(p, len, r, &why);

	assert_true(ret == 0 || (ret == -EPROTO && why));
	free(p);
	return ret;
}

static void test_run_header(void **state)
{
	/* gpa 0x12345000 (swapped: 0x0050341200000000), 3 pages (swapped: 0x03000000). */
	const uint8_t ok[MIG_RUN_HDR] = {0x00, 0x50, 0x34, 0x12, 0, 0, 0, 0,
					 0x03, 0,    0,	   0,	 0, 0, 0, 0};
	/* gpa 0x1001, unaligned (swapped: 0x0110000000000000, aligned). */
	const uint8_t unaligned[MIG_RUN_HDR] = {0x01, 0x10, 0, 0, 0, 0, 0, 0,
						1,    0,    0, 0, 0, 0, 0, 0};
	/* 0x01000000 pages, past the frame (swapped: 1 page, which fits). */
	const uint8_t count[MIG_RUN_HDR] = {0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0};
	/* reserved 0x01000000 (non-zero either way) and 0 pages. */
	const uint8_t rsv[MIG_RUN_HDR] = {0, 0x10, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x01};
	const uint8_t zero[MIG_RUN_HDR] = {0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	struct mig_run r = {0};
	uint8_t hdr[MIG_RUN_HDR];
	const char *why = NULL;

	(void)state;
	assert_int_equal(get_run(ok, 3, &r), 0);
	assert_int_equal(r.gpa, 0x12345000ull);
	assert_int_equal(r.pages, 3);
	assert_int_equal(get_run(ok, 2, &r), -EPROTO); /* the pages run past the frame */
	assert_int_equal(get_run(unaligned, 1, &r), -EPROTO);
	assert_int_equal(get_run(count, 1, &r), -EPROTO);
	assert_int_equal(get_run(rsv, 1, &r), -EPROTO);
	assert_int_equal(get_run(zero, 1, &r), -EPROTO);
	assert_int_equal(mig_get_run(ok, MIG_RUN_HDR - 1, &r, &why), -EPROTO); /* truncated */
	/* The sender's encoding is those same bytes. */
	mig_put_run(hdr, 0x12345000ull, 3);
	assert_memory_equal(hdr, ok, MIG_RUN_HDR);
}

/* The stream header and a frame header as the peer reads them, built by hand. */
static void test_hello_and_frame(void **state)
{
	static const uint8_t hello[MIG_HELLO_LEN] = {'K',  'I', 'L', 'N', 'M', 'I', 'G', 'R',
						     0x01, 0,	0,   0,	  0,   0,   0,	 0};
	const uint8_t payload[5] = {'h', 'e', 'l', 'l', 'o'};
	uint8_t h[MIG_FRAME_HDR + sizeof(payload)] = {0x05, 0, 0, 0, sizeof(payload), 0, 0, 0};
	uint8_t got[MIG_FRAME_HDR + sizeof(payload)];
	struct mig_frame f;
	const char *why = NULL;
	uint32_t crc;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[0], hello, sizeof(hello)), (ssize_t)sizeof(hello));
	assert_int_equal(mig_recv_hello(sv[1], &why), 0);
	assert_int_equal(mig_send_hello(sv[0]), 0);
	assert_int_equal(read(sv[1], got, MIG_HELLO_LEN), MIG_HELLO_LEN);
	assert_memory_equal(got, hello, MIG_HELLO_LEN);
	/* ABANDON "hello": type 5, length 5, CRC-32C of the 8 header bytes and the payload. */
	crc = mig_crc32c(mig_crc32c(0, h, 8), payload, sizeof(payload));
	h[8] = (uint8_t)crc;
	h[9] = (uint8_t)(crc >> 8);
	h[10] = (uint8_t)(crc >> 16);
	h[11] = (uint8_t)(crc >> 24);
	memcpy(h + MIG_FRAME_HDR, payload, sizeof(payload));
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(mig_recv_frame(sv[1], &f, &why), 0);
	assert_int_equal(f.type, MIG_ABANDON);
	assert_int_equal(f.len, sizeof(payload));
	assert_memory_equal(f.data, payload, sizeof(payload));
	free(f.data);
	assert_int_equal(mig_send_frame(sv[0], MIG_ABANDON, payload, 2, payload + 2, 3), 0);
	assert_int_equal(read(sv[1], got, sizeof(got)), (ssize_t)sizeof(got));
	assert_memory_equal(got, h, sizeof(h));
	close(sv[0]);
	close(sv[1]);
}

#define STALL_MS   300
#define FRAME_BODY (256u << 10)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A socket pair whose sv[0] has a small send buffer and SO_SNDTIMEO of STALL_MS. */
static void stall_pair(int sv[2])
{
	struct timeval tv = {.tv_usec = STALL_MS * 1000};
	int small = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
}

/* Nobody reads: the frame fails with -EAGAIN after about STALL_MS, not at once, not never. */
static void test_send_stalled_peer(void **state)
{
	uint8_t *body = calloc(1, FRAME_BODY);
	double t0;
	int sv[2];

	(void)state;
	assert_non_null(body);
	stall_pair(sv);
	t0 = now_s();
	assert_int_equal(mig_send_frame(sv[0], MIG_MEMORY, NULL, 0, body, FRAME_BODY), -EAGAIN);
	assert_true(now_s() - t0 >= STALL_MS / 1e3 * 0.9);
	assert_true(now_s() - t0 < STALL_MS / 1e3 * 2.5);
	close(sv[0]);
	close(sv[1]);
	free(body);
}

/* Reads 8 KiB every STALL_MS / 3 until EOF. */
static void *slow_reader(void *arg)
{
	int fd = *(int *)arg;
	uint8_t buf[8192];
	struct timespec gap = {.tv_nsec = STALL_MS * 1000000L / 3};
	size_t total = 0;
	ssize_t n;

	do {
		nanosleep(&gap, NULL);
		n = read(fd, buf, sizeof(buf));
		total += n > 0 ? (size_t)n : 0;
	} while (n > 0);
	return (void *)total;
}

/* A reader slower than the whole frame's deadline but never idle that long: the frame goes. */
static void test_send_slow_progress(void **state)
{
	size_t body_len = 64u << 10;
	uint8_t *body = calloc(1, body_len);
	pthread_t t;
	void *total;
	double t0;
	int sv[2];

	(void)state;
	assert_non_null(body);
	stall_pair(sv);
	assert_int_equal(pthread_create(&t, NULL, slow_reader, &sv[1]), 0);
	t0 = now_s();
	assert_int_equal(mig_send_frame(sv[0], MIG_MEMORY, NULL, 0, body, body_len), 0);
	assert_true(now_s() - t0 > STALL_MS / 1e3); /* longer than one deadline in all */
	shutdown(sv[0], SHUT_WR);
	assert_int_equal(pthread_join(t, &total), 0);
	assert_int_equal((size_t)total, MIG_FRAME_HDR + body_len);
	close(sv[0]);
	close(sv[1]);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_le_helpers),	       cmocka_unit_test(test_run_header),
	    cmocka_unit_test(test_hello_and_frame),    cmocka_unit_test(test_send_stalled_peer),
	    cmocka_unit_test(test_send_slow_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

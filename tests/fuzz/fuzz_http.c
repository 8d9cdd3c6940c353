/* fuzz_http.c — libFuzzer target: the API server end to end, HTTP bytes in. One server
 * (http_server_start: libmicrohttpd on a Unix socket, driven from kiln's event loop, each request
 * handed to api_dispatch) lives for the whole run; each input is written raw on a new connection,
 * the write side is shut, and the loop runs until the server closes the connection or a bound
 * passes. Then a plain `GET /` on a fresh connection must be answered 200: whatever a client
 * sent, the server keeps serving the next one.
 *
 * Checks: no crash or sanitizer report; every answer starts with an HTTP/1.x status line; the
 * server answers the probe within ROUNDS_MAX rounds, however many of the earlier inputs'
 * connections are still open (keep-alive, or a request cut short: MHD holds those until its
 * timeout, and kiln evicts the oldest when the server is full). The VM side is a fake whose
 * operations succeed. Inputs that mention a path field (`path`, or any \u escape that could spell
 * one) are skipped: the API opens and creates files it is given (logger, metrics, snapshots), and a
 * fuzzer must not write across the host.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/api.h"
#include "api/http.h"
#include "core/event_loop.h"
#include "mmds/mmds.h"
#include "util/log.h"

#include "fuzz_api_vm.h"

#define ROUNDS_MAX 400 /* loop rounds of 5 ms for one connection to end */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_loop loop;
static struct http_server srv;
static struct api api;
static struct vm_config cfg;
static struct mmds mmds;
static char sock_path[108];
static void setup_once(void)
{
	static bool ready;

	if (ready)
		return;
	log_set_level(LOG_OFF);
	snprintf(sock_path, sizeof(sock_path), "/tmp/kiln-fuzz-http-%d.sock", (int)getpid());
	config_defaults(&cfg);
	api_init(&api, &cfg, &fuzz_api_vm_ops, NULL);
	mmds_init(&mmds, 4096);
	api.mmds = &mmds;
	if (event_loop_init(&loop) < 0 || http_server_start(&srv, &loop, sock_path, &api) < 0)
		abort();
	ready = true;
}

static int client(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		abort();
	return fd;
}

/* Send what fits now; the rest goes as the server reads (called every round). */
static void pump_out(int fd, const uint8_t *p, size_t n, size_t *off)
{
	while (*off < n) {
		ssize_t w = send(fd, p + *off, n - *off, MSG_NOSIGNAL);

		if (w <= 0)
			break;
		*off += (size_t)w;
	}
}

/* Run the loop until the server closes fd or, unless must_close, falls quiet (two idle rounds
 * after everything was sent: a keep-alive connection, or a request still waiting for bytes the
 * client never sends, stays open; MHD closes those after HTTP_CONN_TIMEOUT_S, or evicts them).
 * What the server sent goes to out (up to cap). The bytes read, or -1 if the server did not close
 * a must_close connection within ROUNDS_MAX rounds. */
static ssize_t converse(int fd, const uint8_t *p, size_t n, char *out, size_t cap, bool must_close)
{
	size_t off = 0, got = 0;
	int idle = 0;

	for (int round = 0; round < ROUNDS_MAX; round++) {
		char buf[4096];
		ssize_t r;

		pump_out(fd, p, n, &off);
		idle = event_loop_dispatch(&loop, 5) == 0 && off == n ? idle + 1 : 0;
		while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) {
			size_t k = (size_t)r < cap - got ? (size_t)r : cap - got;

			memcpy(out + got, buf, k);
			got += k;
			idle = 0;
		}
		if (r == 0 || (r < 0 && errno != EAGAIN))
			return (ssize_t)got;
		if (!must_close && idle >= 2)
			return (ssize_t)got;
	}
	return -1;
}

static bool mentions_path(const uint8_t *d, size_t n)
{
	return memmem(d, n, "path", 4) || memmem(d, n, "\\u", 2) || memmem(d, n, "\\U", 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char probe[] =
	    "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
	static char out[1 << 16];
	ssize_t got;
	int fd;

	if (size < 1 || mentions_path(data, size))
		return 0;
	setup_once();
	fuzz_api_vm_pick(data[0]);
	fd = client();
	got = converse(fd, data + 1, size - 1, out, sizeof(out), false);
	close(fd);
	assert(got == 0 || (got >= 12 && memcmp(out, "HTTP/1.", 7) == 0));
	fd = client();
	got = converse(fd, (const uint8_t *)probe, sizeof(probe) - 1, out, sizeof(out), true);
	close(fd);
	if (!(got >= 12 && memcmp(out, "HTTP/1.1 200 ", 13) == 0))
		fprintf(stderr, "probe: %zd [%.*s]\n", got, got > 0 ? (int)got : 0, out);
	assert(got >= 12 && memcmp(out, "HTTP/1.1 200 ", 13) == 0);
	return 0;
}

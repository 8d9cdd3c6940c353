/* vsockecho.c — the guest's half of tests/nested/linux-vsock.py (static, runs in the busybox
 * guest). Reports are console lines "KT <key> <words...>".
 *
 *   vsockecho echo PORT          listen on PORT; echo every connection (a thread each) and
 *                                report "KT echo end <bytes> <errno>" when one ends
 *   vsockecho sink PORT          listen on PORT; accept and never read
 *   vsockecho send PORT MIB      connect to the host (CID 2) on PORT, send MIB MiB of a pattern
 *                                while reading the echo back; "KT send <sent> <recv> <ok|bad>"
 *   vsockecho multi PORT N KIB   N connections to the host at once, each sends KIB KiB and
 *                                checks the echo; "KT multi <good> <N>"
 *   vsockecho flood PORT         connect to the host on PORT and write until blocked for ever
 *   vsockecho bench PORT         listen on PORT for bench/vsock.py: each connection's first line
 *                                is "recv N" (read N bytes, check them against bench_block,
 *                                answer "ok\n" or "bad <offset>\n") or "send N" (write N bytes of
 *                                bench_block, then close)
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

/* bench/vsock.py's stream: byte i is (i + off(i >> 8)) mod 256 with off(k) = 7k + 13(k >> 8),
 * repeating every MiB (the host builds the same MiB from 256-byte rotations of 0..255). */
#define BENCH_BLOCK (1u << 20)
static uint8_t bench_block[2 * BENCH_BLOCK];

static void bench_init(void)
{
	for (uint32_t i = 0; i < 2 * BENCH_BLOCK; i++) {
		uint32_t j = i % BENCH_BLOCK, k = j >> 8;

		bench_block[i] = (uint8_t)(j + 7 * k + 13 * (k >> 8));
	}
}

static int vlisten(unsigned port)
{
	struct sockaddr_vm a = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
		printf("KT error listen %u %d\n", port, errno);
		exit(1);
	}
	return fd;
}

static int vconnect(unsigned port)
{
	struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port};
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void *echo_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, err = 0;
	static __thread char buf[65536];
	uint64_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w <= 0) {
				err = errno;
				goto out;
			}
			off += w;
		}
		total += (uint64_t)n;
	}
	err = n < 0 ? errno : 0;
out:
	printf("KT echo end %llu %d\n", (unsigned long long)total, err);
	fflush(stdout);
	close(fd);
	return NULL;
}

static void serve(unsigned port, void *(*fn)(void *))
{
	int lfd = vlisten(port);

	printf("KT listening %u\n", port);
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0)
			continue;
		if (pthread_create(&t, NULL, fn, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
}

static void *sink_conn(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* The command line of a bench connection (up to the newline, read a byte at a time so nothing
 * behind it is taken). */
static int bench_line(int fd, char *line, size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		if (read(fd, line + n, 1) != 1)
			return -1;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	return 0;
}

static void bench_recv(int fd, uint64_t len)
{
	static __thread uint8_t buf[BENCH_BLOCK];
	uint64_t got = 0, bad = UINT64_MAX;
	char ans[48];
	ssize_t n;

	while (got < len && (n = read(fd, buf, sizeof(buf))) > 0) {
		if (bad == UINT64_MAX &&
		    memcmp(buf, bench_block + got % BENCH_BLOCK, (size_t)n) != 0)
			bad = got;
		got += (uint64_t)n;
	}
	if (got < len && bad == UINT64_MAX)
		bad = got;
	n = bad == UINT64_MAX ? snprintf(ans, sizeof(ans), "ok\n")
			      : snprintf(ans, sizeof(ans), "bad %llu\n", (unsigned long long)bad);
	if (write(fd, ans, (size_t)n) != n)
		printf("KT bench answer failed %d\n", errno);
}

static void bench_send(int fd, uint64_t len)
{
	uint64_t sent = 0;

	while (sent < len) {
		uint64_t k = len - sent < BENCH_BLOCK ? len - sent : BENCH_BLOCK;
		ssize_t w = write(fd, bench_block + sent % BENCH_BLOCK, (size_t)k);

		if (w <= 0) {
			printf("KT bench send failed at %llu: %d\n", (unsigned long long)sent,
			       errno);
			return;
		}
		sent += (uint64_t)w;
	}
}

static void *bench_conn(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char line[64];
	unsigned long long n;

	if (bench_line(fd, line, sizeof(line)) == 0) {
		if (sscanf(line, "recv %llu", &n) == 1)
			bench_recv(fd, n);
		else if (sscanf(line, "send %llu", &n) == 1)
			bench_send(fd, n);
		else
			printf("KT bench bad line \"%s\"\n", line);
	}
	close(fd);
	return NULL;
}

struct xfer {
	int fd;
	uint64_t len, sent, recv;
	int ok;
};

static void *sender(void *arg)
{
	struct xfer *x = arg;
	char buf[65536];

	while (x->sent < x->len) {
		size_t n =
		    x->len - x->sent < sizeof(buf) ? (size_t)(x->len - x->sent) : sizeof(buf);
		ssize_t w;

		for (size_t i = 0; i < n; i++)
			buf[i] = (char)pattern(x->sent + i);
		w = write(x->fd, buf, n);
		if (w <= 0)
			break;
		x->sent += (uint64_t)w;
	}
	shutdown(x->fd, SHUT_WR);
	return NULL;
}

/* Send x->len bytes on x->fd and check the echo. */
static void xfer(struct xfer *x)
{
	char buf[65536];
	pthread_t t;
	ssize_t n;

	x->ok = 1;
	pthread_create(&t, NULL, sender, x);
	while ((n = read(x->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((uint8_t)buf[i] != pattern(x->recv + (uint64_t)i))
				x->ok = 0;
		x->recv += (uint64_t)n;
	}
	pthread_join(t, NULL);
	x->ok = x->ok && x->recv == x->len && x->sent == x->len;
	close(x->fd);
}

static void *multi_one(void *arg)
{
	xfer(arg);
	return NULL;
}

static int multi(unsigned port, unsigned n, uint64_t len)
{
	struct xfer *x = calloc(n, sizeof(*x));
	pthread_t *t = calloc(n, sizeof(*t));
	unsigned good = 0;

	for (unsigned i = 0; i < n; i++) {
		x[i].fd = vconnect(port);
		x[i].len = len;
	}
	for (unsigned i = 0; i < n; i++)
		if (x[i].fd >= 0)
			pthread_create(&t[i], NULL, multi_one, &x[i]);
	for (unsigned i = 0; i < n; i++)
		if (x[i].fd >= 0)
			pthread_join(t[i], NULL);
	for (unsigned i = 0; i < n; i++)
		good += x[i].fd >= 0 && x[i].ok;
	printf("KT multi %u %u\n", good, n);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned port = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		serve(port, echo_conn);
	if (argc == 3 && strcmp(argv[1], "sink") == 0)
		serve(port, sink_conn);
	if (argc == 3 && strcmp(argv[1], "bench") == 0) {
		bench_init();
		serve(port, bench_conn);
	}
	if (argc == 4 && strcmp(argv[1], "send") == 0) {
		struct xfer x = {.fd = vconnect(port), .len = strtoull(argv[3], NULL, 10) << 20};

		if (x.fd < 0) {
			printf("KT send 0 0 connect-failed %d\n", errno);
			return 1;
		}
		xfer(&x);
		printf("KT send %llu %llu %s\n", (unsigned long long)x.sent,
		       (unsigned long long)x.recv, x.ok ? "ok" : "bad");
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "multi") == 0)
		return multi(port, (unsigned)strtoul(argv[3], NULL, 10),
			     strtoull(argv[4], NULL, 10) << 10);
	if (argc == 3 && strcmp(argv[1], "flood") == 0) {
		int fd = vconnect(port);
		static char buf[65536];
		uint64_t total = 0;
		ssize_t w;

		printf("KT flood connected %d\n", fd >= 0);
		while (fd >= 0 && (w = write(fd, buf, sizeof(buf))) > 0)
			total += (uint64_t)w;
		printf("KT flood end %llu %d\n", (unsigned long long)total, errno);
		return 0;
	}
	fprintf(stderr, "usage: vsockecho echo|sink PORT | send PORT MIB | multi PORT N KIB | "
			"flood PORT | bench PORT\n");
	return 2;
}

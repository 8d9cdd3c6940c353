/* test_virtio_console.c — virtio-console driven through virtio-mmio as a guest driver would,
 * with pipe, file and Unix socket backends. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vdrv.h"
#include "util/unix_sock.h"
#include "virtio/console.h"

#define D   VDRV_DATA_OFF
#define RXQ VIRTIO_CONSOLE_RXQ
#define TXQ VIRTIO_CONSOLE_TXQ

struct fx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_console *con;
	int in[2], out[2]; /* stdio backend: the test writes in[1], reads out[0] */
	char dir[64];	   /* scratch directory */
	char path[128];
	int quits;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	signal(SIGPIPE, SIG_IGN);
	vdrv_init(&f->d);
	assert_int_equal(event_loop_init(&f->loop), 0);
	assert_int_equal(pipe2(f->in, O_CLOEXEC), 0);
	assert_int_equal(pipe2(f->out, O_CLOEXEC | O_NONBLOCK), 0);
	strcpy(f->dir, "/tmp/kiln-vcon-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static void on_quit(void *ctx)
{
	((struct fx *)ctx)->quits++;
}

/* Create the console on a backend and attach it to the test driver. */
static void make(struct fx *f, enum chardev_kind kind, const char *name)
{
	struct virtio_console_config cfg = {
	    .mem = &f->d.mem,
	    .loop = &f->loop,
	    .kind = kind,
	    .in_fd = f->in[0],
	    .out_fd = f->out[1],
	    .on_quit = on_quit,
	    .quit_ctx = f,
	};

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name ? name : "x");
	cfg.path = f->path;
	assert_int_equal(virtio_console_create(&cfg, &f->con), 0);
	vdrv_attach(&f->d, &f->con->vd);
}

static void make_stdio(struct fx *f, bool escape)
{
	struct virtio_console_config cfg = {
	    .mem = &f->d.mem,
	    .loop = &f->loop,
	    .kind = CHARDEV_STDIO,
	    .in_fd = f->in[0],
	    .out_fd = f->out[1],
	    .escape = escape,
	    .on_quit = on_quit,
	    .quit_ctx = f,
	};

	assert_int_equal(virtio_console_create(&cfg, &f->con), 0);
	vdrv_attach(&f->d, &f->con->vd);
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vdrv_detach(&f->d);
	virtio_console_destroy(f->con);
	vdrv_fini(&f->d);
	event_loop_destroy(&f->loop);
	for (int i = 0; i < 2; i++) {
		close(f->in[i]);
		close(f->out[i]);
	}
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Put bytes in guest memory at off and send them as one readable chain. */
static uint16_t transmit(struct fx *f, uint64_t off, const char *s)
{
	struct vdrv_buf b = {off, (uint32_t)strlen(s), false};
	uint16_t head;

	memcpy(vdrv_ptr(&f->d, off), s, b.len);
	head = vdrv_add(&f->d, TXQ, &b, 1);
	vdrv_kick(&f->d, TXQ);
	return head;
}

static uint16_t post_rx(struct fx *f, uint64_t off, uint32_t len)
{
	struct vdrv_buf b = {off, len, true};
	uint16_t head = vdrv_add(&f->d, RXQ, &b, 1);

	vdrv_kick(&f->d, RXQ);
	return head;
}

static void expect_used(struct fx *f, unsigned q, uint16_t head, uint32_t want_len)
{
	uint32_t id, len;

	assert_true(vdrv_used(&f->d, q, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, want_len);
}

static void expect_read(int fd, const char *want)
{
	char buf[256] = {0};
	size_t n = strlen(want);

	assert_int_equal(read(fd, buf, sizeof(buf) - 1), (ssize_t)n);
	assert_memory_equal(buf, want, n);
}

static int pending_bytes(int fd)
{
	int n = -1;

	assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static void test_identity_and_config(void **state)
{
	struct fx *f = *state;
	uint64_t feat;

	make_stdio(f, false);
	assert_int_equal(vdrv_rd(&f->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_CONSOLE);
	feat = vdrv_device_features(&f->d);
	assert_true(feat & (1u << VIRTIO_CONSOLE_F_EMERG_WRITE));
	assert_false(feat & (1u << VIRTIO_CONSOLE_F_MULTIPORT));
	assert_false(feat & (1u << VIRTIO_CONSOLE_F_SIZE));
	assert_int_equal(vdrv_cfg_rd(&f->d, VIRTIO_CONSOLE_CFG_COLS, 4), 0); /* cols, rows */
	assert_int_equal(vdrv_cfg_rd(&f->d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4),
			 1);							 /* max_nr_ports */
	assert_int_equal(vdrv_cfg_rd(&f->d, VIRTIO_CONSOLE_CFG_EMERG_WR, 4), 0); /* emerg_wr */
	assert_int_equal(vdrv_queue_max(&f->d, 2), 0); /* no control queues: no MULTIPORT */
}

static void test_transmit_to_pipe(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf two[2] = {{D, 6, false}, {D + 0x100, 5, false}};
	uint16_t head;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	memcpy(vdrv_ptr(&f->d, D), "hello ", 6);
	memcpy(vdrv_ptr(&f->d, D + 0x100), "world", 5);
	head = vdrv_add(&f->d, TXQ, two, 2);
	vdrv_kick(&f->d, TXQ);
	expect_used(f, TXQ, head, 0);
	expect_read(f->out[0], "hello world");
	assert_true(f->d.irqs >= 1);
	assert_int_equal(virtio_console_stats(f->con).tx_bytes, 11);
}

static void test_transmit_to_file(void **state)
{
	struct fx *f = *state;
	char buf[32] = {0};
	int fd;

	make(f, CHARDEV_FILE, "out.txt");
	vdrv_start(&f->d, 2, 0);
	expect_used(f, TXQ, transmit(f, D, "to a file\n"), 0);
	fd = open(f->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 10);
	assert_string_equal(buf, "to a file\n");
	close(fd);
	/* File backends have no input: a posted buffer just waits. */
	post_rx(f, D + 0x100, 16);
	assert_false(vdrv_used(&f->d, RXQ, &(uint32_t){0}, &(uint32_t){0}));
}

static void test_receive_from_pipe(void **state)
{
	struct fx *f = *state;
	uint16_t head;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	head = post_rx(f, D, 64);
	assert_int_equal(write(f->in[1], "abc", 3), 3);
	vdrv_pump(&f->loop, 1000);
	expect_used(f, RXQ, head, 3);
	assert_memory_equal(vdrv_ptr(&f->d, D), "abc", 3);
	assert_int_equal(virtio_console_stats(f->con).rx_bytes, 3);
}

/* Input waits in the pipe while the guest has no buffers, and resumes when it posts some. */
static void test_receive_flow_control(void **state)
{
	struct fx *f = *state;
	char data[1000], got[1000];
	size_t have = 0;
	uint32_t id, len;
	uint16_t head;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('a' + i % 26);
	assert_int_equal(write(f->in[1], data, sizeof(data)), sizeof(data));
	vdrv_pump(&f->loop, 50);
	assert_int_equal(pending_bytes(f->in[0]), 1000); /* nothing read without a buffer */
	head = post_rx(f, D, 16);
	expect_used(f, RXQ, head, 16);
	memcpy(got, vdrv_ptr(&f->d, D), 16);
	have = 16;
	/* At most one staging buffer was read ahead. */
	assert_true(pending_bytes(f->in[0]) >= 1000 - VIRTIO_CONSOLE_RX_STAGE);
	vdrv_pump(&f->loop, 50);
	assert_false(vdrv_used(&f->d, RXQ, &id, &len));
	while (have < sizeof(data)) {
		post_rx(f, D + 0x1000, 300);
		vdrv_pump(&f->loop, 100);
		assert_true(vdrv_used(&f->d, RXQ, &id, &len));
		assert_true(len > 0 && have + len <= sizeof(data));
		memcpy(got + have, vdrv_ptr(&f->d, D + 0x1000), len);
		have += len;
	}
	assert_memory_equal(got, data, sizeof(data));
	assert_int_equal(pending_bytes(f->in[0]), 0);
}

/* Fill the output pipe from the test side; returns how many bytes it took. */
static size_t fill_pipe(int fd)
{
	char junk[4096];
	size_t total = 0;
	ssize_t n;

	memset(junk, '.', sizeof(junk));
	while ((n = write(fd, junk, sizeof(junk))) > 0)
		total += (size_t)n;
	assert_int_equal(errno, EAGAIN);
	return total;
}

static void drain(int fd, size_t n)
{
	char buf[4096];

	while (n) {
		ssize_t r = read(fd, buf, n < sizeof(buf) ? n : sizeof(buf));

		assert_true(r > 0);
		n -= (size_t)r;
	}
}

/* A full output holds the chain (no blocking); it completes when the output drains. */
static void test_transmit_backpressure(void **state)
{
	struct fx *f = *state;
	size_t filled;
	uint32_t id, len;
	uint16_t head;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	filled = fill_pipe(f->out[1]);
	head = transmit(f, D, "waiting");
	assert_false(vdrv_used(&f->d, TXQ, &id, &len));
	assert_true(f->con->tx_held);
	/* More chains queue up behind it, in order. */
	transmit(f, D + 0x100, "+more");
	assert_false(vdrv_used(&f->d, TXQ, &id, &len));
	drain(f->out[0], filled);
	vdrv_pump(&f->loop, 1000);
	expect_used(f, TXQ, head, 0);
	assert_true(vdrv_used(&f->d, TXQ, &id, &len));
	expect_read(f->out[0], "waiting+more");
}

static void test_emergency_write(void **state)
{
	struct fx *f = *state;

	make_stdio(f, false);
	/* Before any negotiation (§5.3.4 allows it): a 32-bit write of emerg_wr. */
	vdrv_cfg_wr(&f->d, VIRTIO_CONSOLE_CFG_EMERG_WR, 'E', 4);
	vdrv_cfg_wr(&f->d, VIRTIO_CONSOLE_CFG_EMERG_WR, 0x4d2121, 4);
	vdrv_cfg_wr(&f->d, VIRTIO_CONSOLE_CFG_COLS, 0x4141, 2); /* read-only fields: ignored */
	vdrv_cfg_wr(&f->d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 0x41414141, 4);
	expect_read(f->out[0], "E!");
	assert_int_equal(vdrv_cfg_rd(&f->d, VIRTIO_CONSOLE_CFG_MAX_NR_PORTS, 4), 1);
	assert_int_equal(virtio_console_stats(f->con).emerg_bytes, 2);
	/* With the output full, the character is dropped and counted, never blocking. */
	fill_pipe(f->out[1]);
	vdrv_cfg_wr(&f->d, VIRTIO_CONSOLE_CFG_EMERG_WR, 'L', 1);
	assert_int_equal(virtio_console_stats(f->con).emerg_dropped, 1);
}

static void test_malformed_chains(void **state)
{
	struct fx *f = *state;
	struct vdrv_buf tx_bad[2] = {{D, 4, false}, {D + 0x100, 4, true}};
	struct vdrv_buf rx_bad[2] = {{D + 0x200, 4, false}, {D + 0x300, 4, true}};
	uint16_t h;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	memcpy(vdrv_ptr(&f->d, D), "nope", 4);
	h = vdrv_add(&f->d, TXQ, tx_bad, 2);
	vdrv_kick(&f->d, TXQ);
	expect_used(f, TXQ, h, 0);
	assert_int_equal(pending_bytes(f->out[0]), 0); /* nothing written */
	assert_int_equal(write(f->in[1], "xy", 2), 2);
	h = vdrv_add(&f->d, RXQ, rx_bad, 2);
	vdrv_kick(&f->d, RXQ);
	expect_used(f, RXQ, h, 0);
	assert_int_equal(virtio_console_stats(f->con).malformed, 2);
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
	/* The device carries on: the input goes to the next good buffer. */
	h = post_rx(f, D + 0x400, 8);
	expect_used(f, RXQ, h, 2);
	assert_memory_equal(vdrv_ptr(&f->d, D + 0x400), "xy", 2);
	/* A descriptor outside guest memory breaks the device instead. */
	h = vdrv_add(&f->d, TXQ, &(struct vdrv_buf){VDRV_MEM_LEN - 2, 8, false}, 1);
	vdrv_kick(&f->d, TXQ);
	assert_true(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

/* Reset with a transmit chain stuck on a full output and a receive buffer waiting for input. */
/* A transmit chain stuck on a full output pipe and a posted receive buffer, both held. Returns
 * the bytes that filled the pipe. */
static size_t stuck_chains(struct fx *f)
{
	size_t filled;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	filled = fill_pipe(f->out[1]);
	transmit(f, D, "stuck");
	post_rx(f, D + 0x100, 16);
	assert_true(f->con->tx_held);
	return filled;
}

static void test_reset_with_data_pending(void **state)
{
	struct fx *f = *state;
	size_t filled;
	uint16_t h;

	filled = stuck_chains(f);
	assert_true(f->con->rx_held);
	vdrv_set_status(&f->d, 0);
	assert_false(f->con->tx_held);
	assert_false(f->con->rx_held);
	/* Events after the reset find a device that is not live: nothing moves. */
	drain(f->out[0], filled);
	assert_int_equal(write(f->in[1], "late", 4), 4);
	vdrv_pump(&f->loop, 50);
	assert_int_equal(pending_bytes(f->out[0]), 0);
	assert_int_equal(pending_bytes(f->in[0]), 4);
	/* The driver starts over: old rings are gone, the input waits for the new one. */
	vdrv_start(&f->d, 2, 0);
	h = post_rx(f, D + 0x200, 16);
	expect_used(f, RXQ, h, 4);
	assert_memory_equal(vdrv_ptr(&f->d, D + 0x200), "late", 4);
	expect_used(f, TXQ, transmit(f, D + 0x300, "fresh"), 0);
	expect_read(f->out[0], "fresh");
}

/* QueueReady = 0 on the transmit queue while its chain is stuck on a full backend: that chain is
 * forgotten (it is not written out when the backend drains), the receive queue keeps its buffer,
 * and the new transmit ring works. */
static void test_queue_reset_tx_held(void **state)
{
	struct fx *f = *state;
	size_t filled;

	filled = stuck_chains(f);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_SEL, TXQ);
	vdrv_wr(&f->d, VDRV_REG_QUEUE_READY, 0);
	assert_false(f->con->tx_held);
	assert_true(f->con->rx_held);
	assert_int_equal(vdrv_queue_setup(&f->d, TXQ, VDRV_QSIZE), 1);
	drain(f->out[0], filled);
	vdrv_pump(&f->loop, 50);
	assert_int_equal(pending_bytes(f->out[0]), 0); /* "stuck" went with its ring */
	expect_used(f, TXQ, transmit(f, D + 0x300, "fresh"), 0);
	expect_read(f->out[0], "fresh");
	assert_false(vdrv_status(&f->d) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_escape_quit(void **state)
{
	struct fx *f = *state;
	uint16_t h;

	make_stdio(f, true);
	vdrv_start(&f->d, 2, 0);
	h = post_rx(f, D, 16);
	assert_int_equal(write(f->in[1],
			       "a\x01\x01"
			       "b\x01x",
			       6),
			 6);
	vdrv_pump(&f->loop, 1000);
	expect_used(f, RXQ, h, 3);
	assert_memory_equal(vdrv_ptr(&f->d, D),
			    "a\x01"
			    "b",
			    3);
	assert_int_equal(f->quits, 1);
}

static void test_input_eof(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	make_stdio(f, false);
	vdrv_start(&f->d, 2, 0);
	post_rx(f, D, 16);
	close(f->in[1]);
	f->in[1] = -1;
	vdrv_pump(&f->loop, 50);
	assert_false(vdrv_used(&f->d, RXQ, &id, &len));
	expect_used(f, TXQ, transmit(f, D + 0x100, "still"), 0); /* output goes on */
	expect_read(f->out[0], "still");
}

static int connect_client(const char *path)
{
	int fd = unix_connect(path, 0, 0);

	assert_true(fd >= 0);
	return fd;
}

/* One exchange with a connected client: it sends `in`, the guest sends `out`. */
static void exchange(struct fx *f, int cl, const char *in, const char *out)
{
	uint16_t h = post_rx(f, D, 64);

	assert_int_equal(send(cl, in, strlen(in), 0), (ssize_t)strlen(in));
	vdrv_pump(&f->loop, 1000);
	expect_used(f, RXQ, h, (uint32_t)strlen(in));
	assert_memory_equal(vdrv_ptr(&f->d, D), in, strlen(in));
	expect_used(f, TXQ, transmit(f, D + 0x100, out), 0);
	expect_read(cl, out);
}

static void test_socket_round_trip(void **state)
{
	struct fx *f = *state;
	struct stat st;
	struct chardev_stats cs;
	int cl;

	make(f, CHARDEV_SOCKET, "con.sock");
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	vdrv_start(&f->d, 2, 0);
	/* No client yet: output is dropped (counted), the chain still completes. */
	expect_used(f, TXQ, transmit(f, D + 0x100, "lost"), 0);
	cl = connect_client(f->path);
	vdrv_pump(&f->loop, 1000);
	exchange(f, cl, "ping", "pong");
	close(cl);
	vdrv_pump(&f->loop, 1000);
	cs = virtio_console_stats(f->con).backend;
	assert_int_equal(cs.connects, 1);
	assert_int_equal(cs.disconnects, 1);
	expect_used(f, TXQ, transmit(f, D + 0x100, "gone"), 0);
	/* Back to listening: a new client gets the console. */
	cl = connect_client(f->path);
	vdrv_pump(&f->loop, 1000);
	exchange(f, cl, "again", "welcome back");
	cs = virtio_console_stats(f->con).backend;
	assert_int_equal(cs.connects, 2);
	assert_int_equal(cs.tx_dropped, 8);
	close(cl);
	vdrv_pump(&f->loop, 1000);
	vdrv_detach(&f->d);
	virtio_console_destroy(f->con);
	f->con = NULL;
	assert_int_equal(stat(f->path, &st), -1); /* the socket file is removed */
}

/* A client that hangs up with input the guest has not taken: it is still delivered. */
static void test_socket_hangup_delivers_input(void **state)
{
	struct fx *f = *state;
	int cl, second;
	uint16_t h;

	make(f, CHARDEV_SOCKET, "con.sock");
	vdrv_start(&f->d, 2, 0);
	cl = connect_client(f->path);
	vdrv_pump(&f->loop, 1000);
	assert_int_equal(send(cl, "bye", 3, 0), 3);
	close(cl);
	second = connect_client(f->path); /* waits in the backlog meanwhile */
	vdrv_pump(&f->loop, 50);
	assert_int_equal(virtio_console_stats(f->con).backend.disconnects, 0);
	h = post_rx(f, D, 64);
	expect_used(f, RXQ, h, 3);
	vdrv_pump(&f->loop, 1000);
	assert_int_equal(virtio_console_stats(f->con).backend.disconnects, 1);
	assert_int_equal(virtio_console_stats(f->con).backend.connects, 2);
	exchange(f, second, "next", "hi");
	close(second);
}

static void test_socket_refuses_other_files(void **state)
{
	struct fx *f = *state;
	struct virtio_console_config cfg = {.mem = &f->d.mem, .loop = &f->loop};
	struct virtio_console *c;
	int fd;

	snprintf(f->path, sizeof(f->path), "%s/plain", f->dir);
	fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	cfg.kind = CHARDEV_SOCKET;
	cfg.path = f->path;
	assert_int_equal(virtio_console_create(&cfg, &c), -EEXIST);
	cfg.loop = NULL;
	assert_int_equal(virtio_console_create(&cfg, &c), -EINVAL);
	make_stdio(f, false); /* for teardown */
}

static void test_none_backend(void **state)
{
	struct fx *f = *state;
	uint32_t id, len;

	make(f, CHARDEV_NONE, NULL);
	vdrv_start(&f->d, 2, 0);
	expect_used(f, TXQ, transmit(f, D, "void"), 0);
	post_rx(f, D + 0x100, 8);
	assert_false(vdrv_used(&f->d, RXQ, &id, &len));
	assert_int_equal(virtio_console_stats(f->con).backend.tx_dropped, 4);
}

static void test_parse(void **state)
{
	struct chardev_config c;

	(void)state;
	assert_int_equal(chardev_parse("stdio", &c), 0);
	assert_int_equal(c.kind, CHARDEV_STDIO);
	assert_int_equal(chardev_parse("none", &c), 0);
	assert_int_equal(c.kind, CHARDEV_NONE);
	assert_int_equal(chardev_parse("file:/tmp/x", &c), 0);
	assert_int_equal(c.kind, CHARDEV_FILE);
	assert_string_equal(c.path, "/tmp/x");
	assert_int_equal(chardev_parse("socket:/run/k.sock", &c), 0);
	assert_int_equal(c.kind, CHARDEV_SOCKET);
	assert_string_equal(c.path, "/run/k.sock");
	assert_int_equal(chardev_parse("file:", &c), -EINVAL);
	assert_int_equal(chardev_parse("socket", &c), -EINVAL);
	assert_int_equal(chardev_parse("tty", &c), -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_identity_and_config),
	    T(test_transmit_to_pipe),
	    T(test_transmit_to_file),
	    T(test_receive_from_pipe),
	    T(test_receive_flow_control),
	    T(test_transmit_backpressure),
	    T(test_emergency_write),
	    T(test_malformed_chains),
	    T(test_reset_with_data_pending),
	    T(test_queue_reset_tx_held),
	    T(test_escape_quit),
	    T(test_input_eof),
	    T(test_socket_round_trip),
	    T(test_socket_hangup_delivers_input),
	    T(test_socket_refuses_other_files),
	    T(test_none_backend),
	    cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

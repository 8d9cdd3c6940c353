/* vcon_stream.c — virtio-console port 0 as a never-ending writer for the fault suite
 * (tests/fault): numbered 64-byte lines on transmitq0 as fast as kiln takes them, while socket
 * peers come, go and die. Every line received is answered with "echo: LINE"; a line containing
 * "quit" ends the guest (PASS). COM1 reports progress, so the runner sees the guest keep writing
 * with no peer, or block while a peer does not read. */
#include "virtio.h"

/*
 * Command line: report=N (a COM1 line "vcon: N lines" every N lines; default 2000),
 * max=N (give up, failing, after N lines; default 50 million: the runner ends it with "quit").
 */
#define RXQ	   0
#define TXQ	   1
#define RX_BUFS	   8
#define RX_LEN	   64
#define LINE_LEN   64
#define LINE_MAX   256
#define TX_WAIT_MS 60000 /* a peer that does not read holds the queue until it goes */

static struct vdev dev;
static struct vq rx, tx;
static uint8_t *rx_buf[RX_BUFS];
static int rx_head[RX_BUFS];
static char *tx_buf;
static char line[LINE_MAX];
static unsigned line_len;

static void post_rx(unsigned i)
{
	struct vbuf b = {rx_buf[i], RX_LEN, true};

	rx_head[i] = vq_add(&rx, &b, 1);
	GUEST_ASSERT(rx_head[i] >= 0);
}

/* Send n bytes of s and wait (up to TX_WAIT_MS) until the device has taken them. */
static void send(const char *s, unsigned n)
{
	struct vbuf b = {tx_buf, n, false};
	int head;

	memcpy(tx_buf, s, n);
	head = vq_add(&tx, &b, 1);
	GUEST_ASSERT(head >= 0);
	vq_kick(&tx);
	GUEST_ASSERT_EQ(vq_wait_at(&tx, NULL, TX_WAIT_MS, __FILE__, __LINE__), (uint32_t)head);
}

/* A complete line arrived: echo it; whether it asks to quit. */
static bool got_line(void)
{
	char msg[LINE_MAX + 16];
	int n;

	line[line_len] = 0;
	guest_printf("vcon: received \"%s\"\n", line);
	n = guest_snprintf(msg, sizeof(msg), "echo: %s\n", line);
	send(msg, (unsigned)n);
	line_len = 0;
	return strstr(line, "quit") != NULL;
}

/* Take what receiveq0 has (reposting each buffer); whether a "quit" line came. */
static bool poll_input(void)
{
	uint32_t id, len;
	bool quit = false;

	while (vq_poll(&rx, &id, &len)) {
		unsigned i;

		for (i = 0; i < RX_BUFS && rx_head[i] != (int)id; i++)
			;
		GUEST_ASSERT(i < RX_BUFS && len <= RX_LEN);
		for (unsigned k = 0; k < len; k++) {
			char c = (char)rx_buf[i][k];

			if (c == '\n')
				quit |= got_line();
			else if (line_len < LINE_MAX - 1)
				line[line_len++] = c;
		}
		post_rx(i);
		vq_kick(&rx);
	}
	return quit;
}

int main(void)
{
	uint64_t report = 2000, max = 50000000, n;
	char msg[LINE_LEN + 1];

	guest_cmdline_u64("report", &report);
	guest_cmdline_u64("max", &max);
	VDEV_FIND(VIRTIO_ID_CONSOLE, &dev);
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1));
	vq_setup(&dev, &rx, RXQ, 16);
	vq_setup(&dev, &tx, TXQ, 16);
	vdev_driver_ok(&dev);
	tx_buf = virtio_alloc(LINE_MAX + 16, 8);
	for (unsigned i = 0; i < RX_BUFS; i++) {
		rx_buf[i] = virtio_alloc(RX_LEN, 8);
		post_rx(i);
	}
	vq_kick(&rx);
	guest_printf("vcon: streaming\n");
	for (n = 0; n < max; n++) {
		/* 64 bytes: "line NNNNNNNNNN " padded with '.' and a newline */
		memset(msg, '.', LINE_LEN);
		guest_snprintf(msg, sizeof(msg), "line %010lu ", n);
		msg[strlen(msg)] = '.';
		msg[LINE_LEN - 1] = '\n';
		send(msg, LINE_LEN);
		if (n % report == 0)
			guest_printf("vcon: %lu lines\n", n);
		if (poll_input()) {
			guest_printf("vcon: quit after %lu lines\n", n + 1);
			return 0;
		}
	}
	guest_fail("no quit line after %lu lines", n);
}

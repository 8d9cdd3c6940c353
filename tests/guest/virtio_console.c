/* virtio_console.c — virtio-console port 0 echo: a line the runner sends arrives on receiveq0
 * (across several small buffers) and goes back on transmitq0 as "echo: <line>"; then the
 * emergency-write register, when offered, carries "emerg: ok". */
#include "virtio.h"

/*
 * Command line: expect=TEXT (the line the runner sends, without its newline). The runner
 * (run-guest --vcon-send/--vcon-expect) talks to kiln's socket backend and checks the echo.
 */
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2
#define CFG_EMERG_WR		     8
#define RXQ			     0 /* receiveq0 */
#define TXQ			     1 /* transmitq0 */
#define RX_BUFS			     8
#define RX_LEN			     8 /* small on purpose: a line spans several buffers */
#define LINE_MAX		     128
#define WAIT_INPUT_MS		     20000

static struct vdev dev;
static struct vq rx, tx;
static uint8_t *rx_buf[RX_BUFS];

/* Make rx_buf[i] available on receiveq0; return its head. */
static int post_rx(unsigned i)
{
	struct vbuf b = {rx_buf[i], RX_LEN, true};
	int head = vq_add(&rx, &b, 1);

	GUEST_ASSERT(head >= 0);
	return head;
}

/* Send s on transmitq0 and wait until the device has consumed it. */
static void send(const char *s)
{
	char *p = virtio_alloc(strlen(s), 1);
	struct vbuf b = {p, (uint32_t)strlen(s), false};

	memcpy(p, s, strlen(s));
	GUEST_ASSERT_EQ(VQ_RUN(&tx, &b, 1), 0); /* the device writes nothing into a tx buffer */
}

int main(void)
{
	char expect[LINE_MAX], line[LINE_MAX], msg[LINE_MAX + 16];
	unsigned n = 0, chains = 0;
	int head_of[RX_BUFS];

	GUEST_ASSERT(guest_cmdline_get("expect", expect, sizeof(expect)));
	VDEV_FIND(VIRTIO_ID_CONSOLE, &dev);
	vdev_init(&dev, VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE));
	vq_setup(&dev, &rx, RXQ, 16);
	vq_setup(&dev, &tx, TXQ, 16);
	vdev_driver_ok(&dev);
	guest_printf("virtio-console at %#lx: features %#lx\n", dev.base, dev.features);

	for (unsigned i = 0; i < RX_BUFS; i++) {
		rx_buf[i] = virtio_alloc(RX_LEN, 8);
		head_of[i] = post_rx(i);
	}
	vq_kick(&rx);

	/* Collect input until a newline; each used buffer is reposted. */
	while (n == 0 || line[n - 1] != '\n') {
		uint32_t id, len;
		unsigned i;

		id = vq_wait_at(&rx, &len, WAIT_INPUT_MS, __FILE__, __LINE__);
		for (i = 0; i < RX_BUFS && head_of[i] != (int)id; i++)
			;
		GUEST_ASSERT(i < RX_BUFS);
		GUEST_ASSERT(len > 0 && len <= RX_LEN);
		GUEST_ASSERT(n + len < LINE_MAX);
		memcpy(line + n, rx_buf[i], len);
		n += len;
		chains++;
		head_of[i] = post_rx(i);
		vq_kick(&rx);
	}
	line[n - 1] = 0;
	guest_printf("received \"%s\" in %u buffers\n", line, chains);
	GUEST_ASSERT(strcmp(line, expect) == 0);
	GUEST_ASSERT(chains >= (n + RX_LEN - 1) / RX_LEN);

	guest_snprintf(msg, sizeof(msg), "echo: %s\n", line);
	send(msg);
	guest_printf("sent the echo on transmitq0\n");

	if (dev.offered & VIRTIO_BIT(VIRTIO_CONSOLE_F_EMERG_WRITE)) {
		for (const char *s = "emerg: ok\n"; *s; s++)
			mmio_write32(dev.base + VIRTIO_MMIO_CONFIG + CFG_EMERG_WR, (uint8_t)*s);
		guest_printf("wrote \"emerg: ok\" to emerg_wr\n");
	}
	return 0;
}

/* console.c — virtio-console, port 0: transmitq to a chardev, chardev input to receiveq with
 * flow control, and the emergency-write register. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "util/log.h"
#include "virtio/console.h"

/* Transmit chains are driver-readable only; receive chains device-writable only, with room. */
static bool chain_ok(const struct virtq_chain *c, unsigned q)
{
	return q == VIRTIO_CONSOLE_TXQ ? c->in_len == 0 && c->nr_out == c->nr_segs
				       : c->nr_out == 0 && c->in_len > 0;
}

/* Take the next chain of queue q into *chain (virtio_dev_take). 1 held, 0 empty, -EIO broke. */
static int take(struct virtio_console *c, unsigned q, struct virtq_chain *chain, bool *used)
{
	return virtio_dev_take(&c->vd, q, chain, chain_ok, &c->stats.malformed, used);
}

static void complete(struct virtio_console *c, unsigned q, uint16_t head, uint32_t written)
{
	if (virtq_push(&c->vd.vq[q], head, written) < 0)
		virtio_dev_set_needs_reset(&c->vd, "used ring update failed");
}

/* --- transmitq: guest output --- */

/* Write the held chain out. Returns false if the backend is full (the chain stays held). */
static bool tx_send(struct virtio_console *c)
{
	while (c->tx_seg < c->tx.nr_out) {
		const struct virtq_seg *s = &c->tx.seg[c->tx_seg];
		ssize_t n =
		    chardev_write(c->chr, (uint8_t *)s->host + c->tx_off, s->len - c->tx_off);

		if (n < 0)
			return false;
		c->stats.tx_bytes += (size_t)n;
		c->tx_off += (uint32_t)n;
		if (c->tx_off == s->len) {
			c->tx_seg++;
			c->tx_off = 0;
		}
	}
	return true;
}

static void tx_pump(struct virtio_console *c)
{
	bool used = false;

	while (virtio_dev_live(&c->vd)) {
		if (!c->tx_held) {
			if (take(c, VIRTIO_CONSOLE_TXQ, &c->tx, &used) <= 0)
				break;
			c->tx_held = true;
			c->tx_seg = 0;
			c->tx_off = 0;
		}
		if (!tx_send(c))
			break; /* resumed by on_output */
		c->tx_held = false;
		complete(c, VIRTIO_CONSOLE_TXQ, c->tx.head, 0);
		used = true;
	}
	if (used)
		virtio_dev_used(&c->vd, VIRTIO_CONSOLE_TXQ);
}

/* --- receiveq: guest input --- */

/* Copy staged input into the held chain and complete it. */
static void rx_deliver(struct virtio_console *c)
{
	uint32_t done = 0;

	for (unsigned i = c->rx.nr_out; i < c->rx.nr_segs && c->rx_off < c->rx_len; i++) {
		uint32_t left = c->rx_len - c->rx_off;
		uint32_t n = c->rx.seg[i].len < left ? c->rx.seg[i].len : left;

		memcpy(c->rx.seg[i].host, c->rx_buf + c->rx_off, n);
		c->rx_off += n;
		done += n;
	}
	c->stats.rx_bytes += done;
	c->rx_held = false;
	complete(c, VIRTIO_CONSOLE_RXQ, c->rx.head, done);
}

/* Read the backend only while a receive buffer is held: the guest paces its input. */
static void rx_pump(struct virtio_console *c)
{
	bool used = false;

	while (virtio_dev_live(&c->vd)) {
		if (!c->rx_held) {
			if (take(c, VIRTIO_CONSOLE_RXQ, &c->rx, &used) <= 0)
				break;
			c->rx_held = true;
		}
		if (c->rx_off == c->rx_len) {
			c->rx_off = 0;
			c->rx_len = (uint32_t)chardev_read(c->chr, c->rx_buf, sizeof(c->rx_buf));
			if (c->rx_len == 0)
				break; /* resumed by on_input */
		}
		rx_deliver(c);
		used = true;
	}
	if (used)
		virtio_dev_used(&c->vd, VIRTIO_CONSOLE_RXQ);
}

/* --- backend hooks (main loop, vd.lock held by chardev) --- */

static void on_input(void *ctx)
{
	rx_pump(ctx);
}

static void on_output(void *ctx)
{
	tx_pump(ctx);
}

static void on_quit(void *ctx)
{
	struct virtio_console *c = ctx;

	if (c->cfg.on_quit)
		c->cfg.on_quit(c->cfg.quit_ctx);
}

/* --- device ops (vd.lock held) --- */

static uint64_t con_features(void *dev)
{
	(void)dev;
	return 1ULL << VIRTIO_CONSOLE_F_EMERG_WRITE;
}

static void con_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	/* cols, rows: 0 (no SIZE); max_nr_ports: 1 (no MULTIPORT); emerg_wr reads 0. */
	static const uint8_t cfg[VIRTIO_CONSOLE_CFG_LEN] = {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};

	(void)dev;
	memcpy(buf, cfg + off, len);
}

/* §5.3.4: a write to emerg_wr outputs its low byte, even before DRIVER_OK. Other fields are
 * read-only: writes are ignored. */
static void con_config_write(void *dev, uint32_t off, const void *buf, uint32_t len)
{
	struct virtio_console *c = dev;
	uint8_t ch;

	if (off > VIRTIO_CONSOLE_CFG_EMERG_WR || off + len <= VIRTIO_CONSOLE_CFG_EMERG_WR)
		return;
	ch = ((const uint8_t *)buf)[VIRTIO_CONSOLE_CFG_EMERG_WR - off];
	if (chardev_write(c->chr, &ch, 1) == 1)
		c->stats.emerg_bytes++;
	else
		c->stats.emerg_dropped++;
}

/* Buffers posted before DRIVER_OK were notified while the device was not live. */
static int con_activate(void *dev)
{
	tx_pump(dev);
	rx_pump(dev);
	return 0;
}

static void con_reset(void *dev)
{
	struct virtio_console *c = dev;

	c->tx_held = false;
	c->rx_held = false;
}

static void con_notify(void *dev, unsigned q)
{
	if (q == VIRTIO_CONSOLE_TXQ)
		tx_pump(dev);
	else
		rx_pump(dev);
}

/* The chain held from queue q belongs to a ring that is gone. Staged input stays staged. */
static void con_queue_reset(void *dev, unsigned q)
{
	struct virtio_console *c = dev;

	if (q == VIRTIO_CONSOLE_TXQ)
		c->tx_held = false;
	else
		c->rx_held = false;
}

static int con_save(void *dev, struct state_buf *b)
{
	virtio_console_save(dev, b);
	return 0;
}

static int con_load(void *dev, struct state_buf *b, uint16_t version)
{
	return virtio_console_load(dev, b, version);
}

static const struct device_counter con_counters[] = {
    DEVICE_COUNTER(struct virtio_console_stats, rx_bytes),
    DEVICE_COUNTER(struct virtio_console_stats, tx_bytes),
    DEVICE_COUNTER(struct virtio_console_stats, emerg_bytes),
    DEVICE_COUNTER(struct virtio_console_stats, emerg_dropped),
    DEVICE_COUNTER(struct virtio_console_stats, malformed),
};

static void con_stats(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_console_stats s = virtio_console_stats(dev);

	device_report_counters(DEVICE_COUNTERS(con_counters), &s, name, fn, ctx);
}

static void con_destroy(void *dev)
{
	virtio_console_destroy(dev);
}

static const struct virtio_dev_ops console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .nr_queues = 2,
    .queue_max = VIRTIO_CONSOLE_QUEUE_MAX,
    .config_len = VIRTIO_CONSOLE_CFG_LEN,
    .features = con_features,
    .config_read = con_config_read,
    .config_write = con_config_write,
    .activate = con_activate,
    .reset = con_reset,
    .notify = con_notify,
    .queue_reset = con_queue_reset,
    .state_name = "console",
    .state_version = VIRTIO_CONSOLE_STATE_VERSION,
    .state_min_version = 1,
    .save = con_save,
    .load = con_load,
    .stats = con_stats,
    .destroy = con_destroy,
};

int virtio_console_create(const struct virtio_console_config *cfg, struct virtio_console **out)
{
	struct chardev_config cc = {
	    .kind = cfg->kind,
	    .path = cfg->path,
	    .in_fd = cfg->in_fd,
	    .out_fd = cfg->out_fd,
	    .escape = cfg->escape,
	    .loop = cfg->loop,
	    .on_input = on_input,
	    .on_output = on_output,
	    .on_quit = on_quit,
	    .err = cfg->err,
	};
	struct virtio_console *c;
	int ret;

	if (!cfg->mem)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	ret = virtio_dev_init(&c->vd, &console_ops, c, cfg->mem);
	if (ret < 0)
		goto out_free;
	cc.lock = &c->vd.lock;
	cc.ctx = c;
	ret = chardev_create(&cc, &c->chr);
	if (ret < 0)
		goto out_dev;
	*out = c;
	return 0;
out_dev:
	virtio_dev_destroy(&c->vd);
out_free:
	free(c);
	return ret;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	chardev_destroy(c->chr);
	virtio_dev_destroy(&c->vd);
	free(c);
}

static void on_console_quit(void *ctx)
{
	vm_request_stop(ctx, VM_STOP_HOST, KILN_EXIT_OK);
}

/* The console's settings from the VM's configuration. */
static struct virtio_console_config config_of(struct vm *vm)
{
	static const enum chardev_kind kinds[] = {[VCONSOLE_NONE] = CHARDEV_NONE,
						  [VCONSOLE_STDIO] = CHARDEV_STDIO,
						  [VCONSOLE_FILE] = CHARDEV_FILE,
						  [VCONSOLE_SOCKET] = CHARDEV_SOCKET,
						  [VCONSOLE_FD] = CHARDEV_STDIO};
	const struct vconsole_config *vc = &vm->cfg->vconsole;
	bool fd_only = vc->mode == VCONSOLE_FD; /* output only: no input, no escape */

	return (struct virtio_console_config){.mem = &vm->mem,
					      .loop = vm->loop,
					      .kind = kinds[vc->mode],
					      .path = vc->path,
					      .in_fd = fd_only ? -1 : STDIN_FILENO,
					      .out_fd = fd_only ? vc->fd : STDOUT_FILENO,
					      .escape = !fd_only,
					      .on_quit = on_console_quit,
					      .quit_ctx = vm,
					      .err = vm->err};
}

int virtio_console_board_add(struct vm *vm)
{
	struct virtio_console_config cc;
	struct virtio_console *con;
	int ret;

	if (vm->cfg->vconsole.mode == VCONSOLE_NONE)
		return 0;
	cc = config_of(vm);
	ret = virtio_console_create(&cc, &con);
	if (ret < 0) /* the backend has said what was wrong with the path: the configuration's */
		return ret == -EEXIST || ret == -ENOENT || ret == -EACCES || ret == -EADDRINUSE ||
			       ret == -ENAMETOOLONG
			   ? -EINVAL
			   : ret;
	ret = board_add_virtio(vm, &con->vd, "virtio_console");
	if (ret < 0)
		virtio_console_destroy(con);
	return ret;
}

struct virtio_console_stats virtio_console_stats(struct virtio_console *c)
{
	struct virtio_console_stats s;

	pthread_mutex_lock(&c->vd.lock);
	s = c->stats;
	s.backend = chardev_stats(c->chr);
	pthread_mutex_unlock(&c->vd.lock);
	return s;
}

/* --- state --- */

void virtio_console_save(struct virtio_console *c, struct state_buf *b)
{
	pthread_mutex_lock(&c->vd.lock);
	state_put_u8(b, c->tx_held);
	state_put_u16(b, c->tx_held ? c->tx.head : 0);
	state_put_u16(b, c->tx_held ? c->tx_seg : 0);
	state_put_u32(b, c->tx_held ? c->tx_off : 0);
	state_put_u8(b, c->rx_held);
	state_put_u16(b, c->rx_held ? c->rx.head : 0);
	state_put_u32(b, c->rx_len - c->rx_off);
	state_put_bytes(b, c->rx_buf + c->rx_off, c->rx_len - c->rx_off);
	pthread_mutex_unlock(&c->vd.lock);
}

/* Pop again the chain a queue's device held when saved. NULL, or why it cannot be. */
static const char *repop(struct virtio_console *c, unsigned q, uint16_t head,
			 struct virtq_chain *chain)
{
	struct virtq *vq = &c->vd.vq[q];

	if (virtq_unpop(vq) < 0 || virtq_pop(vq, chain) < 0 || chain->head != head)
		return "a held chain is not the queue's last popped one";
	if (q == VIRTIO_CONSOLE_TXQ ? chain->in_len != 0 : chain->nr_out != 0 || !chain->in_len)
		return "a held chain goes the wrong way";
	return NULL;
}

static const char *console_restore(struct virtio_console *c, const uint8_t *hdr, uint16_t tx_head,
				   uint16_t tx_seg, uint32_t tx_off, uint16_t rx_head)
{
	const char *why = NULL;

	if (hdr[0] > 1 || hdr[1] > 1)
		return "flags not 0/1";
	if (hdr[0]) {
		why = repop(c, VIRTIO_CONSOLE_TXQ, tx_head, &c->tx);
		if (!why && (tx_seg >= c->tx.nr_out || tx_off >= c->tx.seg[tx_seg].len))
			why = "transmit position outside the held chain";
	}
	if (!why && hdr[1])
		why = repop(c, VIRTIO_CONSOLE_RXQ, rx_head, &c->rx);
	return why;
}

int virtio_console_load(struct virtio_console *c, struct state_buf *b, uint16_t version)
{
	uint8_t hdr[2];
	uint16_t tx_head, tx_seg, rx_head;
	uint32_t tx_off, staged;
	const char *why;

	hdr[0] = state_get_u8(b);
	tx_head = state_get_u16(b);
	tx_seg = state_get_u16(b);
	tx_off = state_get_u32(b);
	hdr[1] = state_get_u8(b);
	rx_head = state_get_u16(b);
	staged = state_get_u32(b);
	pthread_mutex_lock(&c->vd.lock);
	if (staged <= sizeof(c->rx_buf))
		state_get_bytes(b, c->rx_buf, staged);
	why = version != VIRTIO_CONSOLE_STATE_VERSION ? "unknown section version"
	      : staged > sizeof(c->rx_buf) || state_section_done(b)
		  ? "staged input too long, or section length wrong"
		  : console_restore(c, hdr, tx_head, tx_seg, tx_off, rx_head);
	if (!why) {
		c->tx_held = hdr[0], c->tx_seg = tx_seg, c->tx_off = tx_off;
		c->rx_held = hdr[1];
		c->rx_off = 0;
		c->rx_len = staged;
	}
	pthread_mutex_unlock(&c->vd.lock);
	if (why)
		state_refuse(b, "virtio-console: %s", why);
	return why ? -EINVAL : 0;
}

/* console.h — virtio console device (virtio 1.2 §5.3): port 0 only, emergency write, attached
 * to a chardev backend (stdio, file, Unix socket, none). */
#ifndef KILN_VIRTIO_CONSOLE_H
#define KILN_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/chardev.h"
#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

/* Feature bits (§5.3.3). Only EMERG_WRITE is offered. */
#define VIRTIO_CONSOLE_F_SIZE	     0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

#define VIRTIO_CONSOLE_RXQ	 0 /* receiveq(port0): device to driver */
#define VIRTIO_CONSOLE_TXQ	 1 /* transmitq(port0): driver to device */
#define VIRTIO_CONSOLE_QUEUE_MAX 256
#define VIRTIO_CONSOLE_RX_STAGE	 256 /* input read ahead of the guest, at most (bytes) */

/* struct virtio_console_config of §5.3.4, as the guest sees it (12 bytes, little endian). */
#define VIRTIO_CONSOLE_CFG_COLS		0
#define VIRTIO_CONSOLE_CFG_ROWS		2
#define VIRTIO_CONSOLE_CFG_MAX_NR_PORTS 4
#define VIRTIO_CONSOLE_CFG_EMERG_WR	8
#define VIRTIO_CONSOLE_CFG_LEN		12

struct kiln_err;

struct virtio_console_config {
	const struct guest_mem *mem; /* guest memory the device DMAs to and from */
	struct event_loop *loop;     /* backend fds are watched here (required for SOCKET) */
	/* The backend: kind, path (FILE, SOCKET), in_fd/out_fd (STDIO, normally STDIN_FILENO and
	 * STDOUT_FILENO) and escape (Ctrl-A x, for stdio), as in struct chardev_config. The
	 * console fills in that struct's loop, lock and hooks itself. */
	enum chardev_kind kind;
	const char *path;
	int in_fd, out_fd;
	bool escape;
	/* Ctrl-A x typed on the console (escape only); called on the main thread with the
	 * device lock held (e.g. vm_request_stop). May be NULL. */
	void (*on_quit)(void *ctx);
	void *quit_ctx;
	struct kiln_err *err; /* where a backend failure's reason goes (err_set); may be NULL */
};

struct virtio_console_stats {
	uint64_t rx_bytes, tx_bytes; /* to the guest / from the guest */
	uint64_t emerg_bytes;	     /* emerg_wr characters written */
	uint64_t emerg_dropped;	     /* emerg_wr characters lost to a full output */
	uint64_t malformed; /* chains with buffers in the wrong direction, returned empty */
	struct chardev_stats backend;
};

struct virtio_console {
	struct virtio_dev vd; /* hand &vd to a transport (virtio_mmio_create) */
	struct virtio_console_config cfg;
	struct chardev *chr;
	/* A transmit chain being written out: segment tx_seg from byte tx_off. */
	bool tx_held;
	uint16_t tx_seg;
	uint32_t tx_off;
	struct virtq_chain tx;
	/* A receive chain waiting for input, and input read but not yet delivered (kept across
	 * a device reset: it already left the backend). */
	bool rx_held;
	struct virtq_chain rx;
	uint8_t rx_buf[VIRTIO_CONSOLE_RX_STAGE];
	uint32_t rx_off, rx_len;
	struct virtio_console_stats stats;
};

/*
 * Create a console on the backend cfg describes (see chardev_create for its errors). The board
 * then exposes it with
 *	virtio_mmio_create(&con->vd, &mmio_cfg, &transport)
 * and tears down with virtio_mmio_destroy(transport), then virtio_console_destroy(con).
 *
 * Flow: guest output (transmitq) goes to the backend without blocking; when the backend is
 * full the chain stays pending and resumes when it drains (EPOLLOUT on the loop); with a socket
 * backend and no client, output is dropped (counted). Backend input is read only while the
 * guest has a receive buffer posted (plus at most VIRTIO_CONSOLE_RX_STAGE bytes staged), so a
 * guest that stops reading holds input back in the kernel instead of losing it. emerg_wr writes
 * one character at any time, even before the driver is ready; it is dropped (counted) while
 * the output is full. Malformed chains (writable buffers on transmitq, readable on receiveq)
 * are counted and returned with 0 bytes. Main thread. Returns 0 or -errno.
 */
int virtio_console_create(const struct virtio_console_config *cfg,
			  struct virtio_console **out) MUST_CHECK;

/* Close the backend and free. The transport must be destroyed first. NULL is ignored. */
void virtio_console_destroy(struct virtio_console *c);

/* Counters, backend included (takes vd.lock). */
struct virtio_console_stats virtio_console_stats(struct virtio_console *c);

struct vm;

/* The board's virtio console, if vm->cfg asks for one (--console): connected to stdio, a file, a
 * Unix socket or an fd as configured, attached with board_add_virtio under the name
 * "virtio_console"; the escape sequence on stdio stops the VM. 0, -EINVAL for a path the backend
 * refused (it said why), or -errno. Main thread, during board_create. */
int virtio_console_board_add(struct vm *vm) MUST_CHECK;

/* --- state (snapshots, migration) --- */

#define VIRTIO_CONSOLE_STATE_VERSION 1

/* Put the device's own state into the open section: the transmit chain being written out (its
 * head and how far it got), the receive chain waiting for input, and input staged but not yet
 * delivered. The virtio state goes with the transport. Takes vd.lock. */
void virtio_console_save(struct virtio_console *c, struct state_buf *b);

/* Load the selected section, after the transport's: held chains are popped again from their
 * queues (they must be the last popped, with the saved head, and go the right way), offsets must
 * lie inside them, the staged input inside the staging buffer. 0 or -EINVAL (logged). */
int virtio_console_load(struct virtio_console *c, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

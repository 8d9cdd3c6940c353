/* vsock.h — virtio-vsock (virtio 1.2 §5.10) with Firecracker's host side: stream connections
 * between the guest's AF_VSOCK sockets and host AF_UNIX sockets. A host process connects to
 * uds_path, writes "CONNECT <port>\n" and, once the guest's listener accepted, reads
 * "OK <host_port>\n"; a guest connecting to host port P reaches the Unix socket listening at
 * "<uds_path>_P". Everything runs on the main loop (one nested epoll descriptor for the
 * listener and every connection's socket), under vd.lock. */
#ifndef KILN_VIRTIO_VSOCK_H
#define KILN_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "state/state.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"

#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_HDR_LEN	 44	    /* struct virtio_vsock_hdr */
#define VSOCK_PKT_MAX	 (64 << 10) /* payload bytes in one packet, either way */
#define VSOCK_CONN_BUF                                                                             \
	(256 << 10)	      /* buf_alloc kiln advertises: the most it buffers for                \
			       * one connection (guest data its host peer has not read) */
#define VSOCK_CONN_MAX	 1023 /* connections at once (host-initiated ones being set up too) */
#define VSOCK_RSTQ_MAX	 1024 /* resets waiting for a receive buffer (for unknown connections) */
#define VSOCK_HOST_CID	 2
#define VSOCK_CID_MIN	 3	    /* the smallest guest CID (0-2 are reserved) */
#define VSOCK_CONFIG_LEN 8	    /* le64 guest_cid */
#define VSOCK_PORT_FIRST (1u << 30) /* host ports of host-initiated connections: [2^30, 2^31) */
#define VSOCK_LINE_MAX	 32	    /* "CONNECT <port>\n", as Firecracker reads it */

/* Packet types, operations, shutdown flags, events (§5.10.6). */
#define VSOCK_TYPE_STREAM	    1
#define VSOCK_OP_REQUEST	    1
#define VSOCK_OP_RESPONSE	    2
#define VSOCK_OP_RST		    3
#define VSOCK_OP_SHUTDOWN	    4
#define VSOCK_OP_RW		    5
#define VSOCK_OP_CREDIT_UPDATE	    6
#define VSOCK_OP_CREDIT_REQUEST	    7
#define VSOCK_SHUTDOWN_RCV	    1u
#define VSOCK_SHUTDOWN_SEND	    2u
#define VSOCK_EVENT_TRANSPORT_RESET 0u

/* struct virtio_vsock_hdr: every field little-endian on the wire. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

struct virtio_vsock_config {
	const struct guest_mem *mem; /* guest memory the device DMAs into */
	struct event_loop *loop;     /* where the device's nested epoll descriptor is watched */
	uint64_t guest_cid;	     /* >= VSOCK_CID_MIN */
	const char *uds_path;	     /* host side: listened on; "<uds_path>_P" connected to */
};

struct virtio_vsock_stats {
	uint64_t rx_packets, rx_bytes; /* packets (and payload bytes) delivered to the guest */
	uint64_t tx_packets, tx_bytes; /* packets (and payload bytes) taken from the guest */
	uint64_t tx_malformed;	       /* chains refused: writable buffers, short, len beyond */
	uint64_t tx_dropped;	       /* packets with the wrong CIDs, dropped */
	uint64_t rx_malformed;	       /* receive or event chains refused */
	uint64_t conns_opened;	       /* connections established, either way */
	uint64_t conns_refused;	       /* limit reached, no host listener, bad CONNECT line */
	uint64_t rst_sent;	       /* resets sent to the guest */
	uint64_t rst_dropped;	       /* resets lost: the reset queue was full */
	uint64_t credit_overruns;      /* guest writes beyond the credit kiln gave: reset */
	uint64_t host_errors;	       /* host socket reads/writes that failed: reset */
	uint64_t events;	       /* event-queue events (TRANSPORT_RESET) delivered */
};

struct vsock_conn;

/* A reset for a connection the device no longer has (host port, guest port). */
struct vsock_rst {
	uint32_t local_port, peer_port;
};

struct virtio_vsock {
	struct virtio_dev vd; /* hand &vd to a transport (board_add_virtio, virtio_mmio_create) */
	struct virtio_vsock_config cfg;
	char path[108]; /* uds_path (the listener's), copied */
	int epfd;	/* nested epoll: listener and connections */
	int listen_fd;	/* -1: none */
	int listen_tag; /* what the listener's epoll entry points at */
	int kick_fd;	/* eventfd in epfd: DRIVER_OK's first look at the queues (VMM thread) */
	int kick_tag;	/* what its epoll entry points at */
	bool kicked;	/* vc_poll saw kick_fd: on_epoll takes that look */
	uint8_t config[VSOCK_CONFIG_LEN];
	bool reset_pending; /* a TRANSPORT_RESET waits for an event buffer (after a restore) */

	struct vsock_conn *all;			     /* every connection (list) */
	struct vsock_conn *rx_head, *rx_tail;	     /* connections with a packet for the guest */
	struct vsock_conn *hash[VSOCK_CONN_MAX + 1]; /* by (local_port, peer_port) */
	unsigned nr_conns;
	uint32_t local_port_last;
	struct vsock_rst rstq[VSOCK_RSTQ_MAX];
	unsigned rst_head, rst_len;

	struct virtq_chain chain; /* the chain being worked on (rx or tx) */
	struct virtio_vsock_stats stats;
};

/*
 * Create a vsock device: virtio device id 19, queues rx (0), tx (1), event (2) of
 * VSOCK_QUEUE_SIZE, no device features (stream sockets only), configuration guest_cid. Listens on
 * cfg->uds_path (unix_listen: a stale socket there is replaced; a live one or another file is
 * refused) and adds the nested epoll descriptor to cfg->loop. Main thread. 0, or -EINVAL (no
 * memory or loop, a CID below 3, an empty path), or unix_listen's -errno.
 */
int virtio_vsock_create(const struct virtio_vsock_config *cfg,
			struct virtio_vsock **out) MUST_CHECK;

/* Close every connection, stop listening (the socket file is removed), leave the loop, free. The
 * transport must be destroyed first. NULL is ignored. */
void virtio_vsock_destroy(struct virtio_vsock *vs);

struct vm;

/* The board's vsock device, if vm->cfg->vsock asks for one, attached as "vsock". A uds_path
 * kiln cannot listen on is a configuration error: -EINVAL with "vsock: <path>: <why>" in vm->err.
 * 0 or -errno. Main thread, during board_create (a restore too: the socket is listened on again).
 */
int virtio_vsock_board_add(struct vm *vm) MUST_CHECK;

/* Connections open (host-initiated ones waiting for their CONNECT line included). Takes the lock.
 */
unsigned virtio_vsock_conns(struct virtio_vsock *vs);

/* Counters (takes the lock). */
struct virtio_vsock_stats virtio_vsock_stats(struct virtio_vsock *vs);

/* --- state (snapshots, migration) --- */

#define VIRTIO_VSOCK_STATE_VERSION 2

/* Put the device's own state into the open section: its guest CID and the last host port it gave
 * a host-initiated connection (version 2), so that the restored device numbers new connections on
 * from there and never reuses a port the guest may still hold a reset socket for. Connections are
 * not saved: the restored device has none and tells the guest with a TRANSPORT_RESET event. Takes
 * the lock. */
int virtio_vsock_save(struct virtio_vsock *vs, struct state_buf *b) MUST_CHECK;

/* Load the selected section (version 1 or 2) after the transport's: the CID must be the
 * configured one; version 1 has no port counter (numbering starts again). Every
 * connection is closed and a TRANSPORT_RESET event is due: it goes to the guest at the restore's
 * activation, or as soon as the driver posts an event buffer. 0 or -EINVAL (state_refuse). */
int virtio_vsock_load(struct virtio_vsock *vs, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

/* vsock_conn.h — the connections of virtio-vsock (vsock.c's private half): one per host Unix
 * socket, the state machine, credit both ways and the bounded buffer of guest data the host
 * peer has not read yet. Everything here runs with vs->vd.lock held. */
#ifndef KILN_VIRTIO_VSOCK_CONN_H
#define KILN_VIRTIO_VSOCK_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/vsock.h"

enum vsock_conn_state {
	VC_CONNECT_LINE, /* host-initiated: waiting for "CONNECT <port>\n" */
	VC_LOCAL_INIT,	 /* host-initiated: REQUEST sent to the guest, waiting for RESPONSE */
	VC_ESTABLISHED,	 /* data both ways */
};

/* Control packets a connection owes the guest (bits of vsock_conn.pend). */
#define VC_P_REQUEST	    0x01u
#define VC_P_RESPONSE	    0x02u
#define VC_P_SHUTDOWN	    0x04u
#define VC_P_CREDIT_UPDATE  0x08u
#define VC_P_CREDIT_REQUEST 0x10u

struct vsock_conn {
	int tag; /* first: what its epoll entry points at (VC_TAG) */
	struct virtio_vsock *vs;
	int fd;
	enum vsock_conn_state state;
	uint32_t local_port, peer_port;
	unsigned pend;	     /* VC_P_* */
	uint32_t shut_flags; /* what the next SHUTDOWN says */
	bool readable;	     /* the socket may have data (no EAGAIN since its EPOLLIN) */
	bool host_eof;	     /* the host peer sends no more (read 0) */
	bool host_hup;	     /* the host peer is gone (EPOLLHUP) */
	bool peer_no_send;   /* the guest said SHUTDOWN_SEND */
	bool peer_no_rcv;    /* the guest said SHUTDOWN_RCV */
	bool wr_shut;	     /* shutdown(SHUT_WR) done on the host socket */
	bool credit_asked;   /* a CREDIT_REQUEST went out since the guest's last credit */
	bool in_rxq;
	struct vsock_conn *rx_next, *rx_prev, *hnext, *next, *prev;
	/* guest → host: bytes taken from the guest but not yet written to the socket */
	uint8_t *buf; /* VSOCK_CONN_BUF bytes while buf_used > 0, else NULL */
	uint32_t buf_head, buf_used;
	uint32_t fwd_cnt;      /* bytes written to the host socket */
	uint32_t fwd_cnt_sent; /* fwd_cnt as last told to the guest */
	/* host → guest */
	uint32_t rx_cnt; /* payload bytes sent to the guest */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
};

#define VC_TAG	   1
#define LISTEN_TAG 2
#define KICK_TAG   3

/* --- the table --- */

/* The connection (local_port, peer_port), or NULL. */
struct vsock_conn *vc_find(struct virtio_vsock *vs, uint32_t local_port, uint32_t peer_port);

/* A new connection on fd (owned from here: closed on failure) in `state`, watched by the nested
 * epoll. NULL on failure (limit or no memory: fd closed, counted in conns_refused). */
struct vsock_conn *vc_new(struct virtio_vsock *vs, int fd, enum vsock_conn_state state);

/* Give c its key (local_port, peer_port): it is found by vc_find from now on. */
void vc_set_key(struct vsock_conn *c, uint32_t local_port, uint32_t peer_port);

/* Close c's socket and free it; rst: a reset for its key goes to the guest (if it has one). */
void vc_kill(struct vsock_conn *c, bool rst);

/* Close every connection and forget the pending resets, without telling the guest. */
void vc_kill_all(struct virtio_vsock *vs);

/* Queue a reset to the guest for (local_port, peer_port) (dropped, counted, if the queue is full).
 */
void vc_queue_rst(struct virtio_vsock *vs, uint32_t local_port, uint32_t peer_port);

/* Put c at the tail of the receive list if it owes the guest a packet (vc_wants_rx). */
void vc_schedule(struct vsock_conn *c);
void vc_unschedule(struct vsock_conn *c);

/* Whether c owes the guest a packet now: a control packet, or data it has credit for. */
bool vc_wants_rx(const struct vsock_conn *c);

/* Payload bytes the guest has room for (its buf_alloc minus what is in flight). */
uint32_t vc_peer_credit(const struct vsock_conn *c);

/* --- guest → host --- */

/* Handle a packet from the guest for c (its header in host byte order, its payload as iov). */
void vc_from_guest(struct vsock_conn *c, const struct vsock_hdr *h, const struct iovec *iov,
		   int iovcnt);

/* A REQUEST h (host order) from the guest for host port dst_port from guest port src_port:
 * connect to "<uds_path>_<dst_port>" and answer RESPONSE, or RST. */
void vc_guest_connect(struct virtio_vsock *vs, const struct vsock_hdr *h);

/* --- the nested epoll --- */

/* Handle every event of the nested epoll (main loop callback body); the activation eventfd only
 * sets vs->kicked, for the caller to act on. */
void vc_poll(struct virtio_vsock *vs);

/* --- host → guest --- */

/* Read up to `max` bytes of c's socket into iov: > 0 bytes, 0 nothing now (EAGAIN: readable
 * cleared), < 0 EOF or an error (c was shut down or killed: do not use it). */
int vc_read(struct vsock_conn *c, const struct iovec *iov, int iovcnt, uint32_t max);

#endif

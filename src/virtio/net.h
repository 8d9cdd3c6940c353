/* net.h — virtio-net (virtio 1.2 §5.1): one receive and one transmit queue over a frame backend,
 * a descriptor that keeps frame boundaries (a TAP opened by backend/tap.c, or in tests one end
 * of a SOCK_SEQPACKET socketpair). Every frame crosses the backend with the 12-byte
 * virtio_net_hdr_v1 in front, in both directions, so the guest's header goes to the backend as
 * it is and the backend's header reaches the guest as it is (num_buffers set by the device). */
#ifndef KILN_VIRTIO_NET_H
#define KILN_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/event_loop.h"
#include "core/guest_mem.h"
#include "core/rate_limiter.h"
#include "state/state.h"
#include "util/compiler.h"
#include "virtio/virtio_dev.h"
#include "virtio/virtq.h"

/* Feature bits (§5.1.3). */
#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_UFO	10
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_UFO	14
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP 1 /* config status (§5.1.4) */

/* Offload flags of the backend (the values of linux/if_tun.h's TUN_F_*). */
#define NET_OFFLOAD_CSUM 0x01u
#define NET_OFFLOAD_TSO4 0x02u
#define NET_OFFLOAD_TSO6 0x04u
#define NET_OFFLOAD_UFO	 0x10u

#define NET_RXQ		0
#define NET_TXQ		1
#define NET_QUEUE_SIZE	256
#define NET_HDR_LEN	12    /* struct virtio_net_hdr_v1, num_buffers included */
#define NET_FRAME_MAX	65550 /* an Ethernet frame, header not included */
#define NET_BUF_MAX	(NET_HDR_LEN + NET_FRAME_MAX) /* 65562: the most one frame takes */
#define NET_MTU_DEFAULT 1500
#define NET_CONFIG_LEN	12   /* mac, status, max_virtqueue_pairs, mtu */
#define NET_RX_IOV_MAX	1023 /* segments one received frame may spread over (IOV_MAX - 1) */

/* struct virtio_net_hdr_v1 (§5.1.6): every field little-endian. */
struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

/*
 * Hooks for frames that never cross the backend (the integrator's MMDS). All optional, all called
 * with the device's lock held on whichever thread drives the device: they must not block and
 * must not call back into this device (virtio_net_rx_kick, virtio_net_set_hooks, ...).
 *
 * tx_intercept: called for every well-formed transmit frame, after the rate limiter let it go and
 *   before it is written to the backend. hdr is a copy of the guest's header; frame/iovcnt are the
 *   frame's len bytes after the header, pointing into guest memory, which the guest may change at
 *   any time: copy before parsing. Return true to consume the frame (the chain completes, nothing
 *   reaches the backend), false to let it go on. It may be called again for a frame it declined
 *   (the backend was full, or the VM was restored meanwhile).
 * rx_pending: the length of the next frame waiting to be received by the guest (an Ethernet frame
 *   without the virtio header), 0 if none. Such frames go before the backend's whenever the
 *   guest has buffers: the device asks at every receive attempt (a receive notification, a
 *   backend event, the rate limiter's timer), right after tx_intercept consumed a frame, and on
 *   virtio_net_rx_kick. A frame waits at the source while the guest has no room for it.
 * rx_take: copy that frame into iov (iovcnt entries, room for at least the announced length) and
 *   drop it from the source; return the bytes copied. Called with iov NULL and iovcnt 0 to drop
 *   a frame the guest cannot take (longer than NET_FRAME_MAX, or than a whole receive buffer
 *   without VIRTIO_NET_F_MRG_RXBUF). The device writes the header before it: all zero
 *   (no offload: the source computes its checksums) but num_buffers.
 */
struct virtio_net_hooks {
	bool (*tx_intercept)(void *ctx, const struct net_hdr *hdr, const struct iovec *frame,
			     int iovcnt, size_t len);
	size_t (*rx_pending)(void *ctx);
	size_t (*rx_take)(void *ctx, const struct iovec *iov, int iovcnt);
	void *ctx;
};

struct virtio_net_config {
	const struct guest_mem *mem; /* guest memory the device DMAs into */
	struct event_loop *loop; /* where the backend and the rate limiters' timers are watched */
	/* The backend: frames with a 12-byte header each way, one per read/write. Made
	 * non-blocking; owned by the device once virtio_net_create succeeds (closed by
	 * virtio_net_destroy). */
	int fd;
	/* NET_OFFLOAD_* the backend takes (tap_probe_offloads): offload features are offered only
	 * for these (none without NET_OFFLOAD_CSUM). */
	unsigned offloads;
	/* Tell the backend which offloads it may hand the guest (tap_set_offload), called at each
	 * activation with those the driver negotiated. NULL: never called. 0 or -errno. */
	int (*set_offload)(int fd, unsigned flags);
	uint8_t mac[6];
	bool mac_set; /* else a random locally administered unicast MAC (06:xx:xx:xx:xx:xx) */
	uint16_t mtu; /* 68..65535: offered as VIRTIO_NET_F_MTU; 0: no MTU feature */
	/* Firecracker's rate limiters: a frame costs one operation and its bytes, header included;
	 * rx: to the guest, tx: from it. Zeroed: none. */
	struct rate_limit_config rx_rate, tx_rate;
	struct virtio_net_hooks hooks; /* zeroed: none */
};

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes; /* delivered to the guest (bytes: header included) */
	uint64_t tx_frames, tx_bytes; /* written to the backend (bytes: header included) */
	uint64_t rx_dropped;	 /* frames lost: longer than the buffers, shorter than a header */
	uint64_t rx_errors;	 /* backend reads that failed (not EAGAIN) */
	uint64_t rx_malformed;	 /* receive chains with readable buffers or < 12 bytes */
	uint64_t rx_no_buffers;	 /* times a frame could wait for the guest to post buffers */
	uint64_t rx_throttled;	 /* times a frame waited for the rx rate limiter */
	uint64_t rx_injected;	 /* frames from hooks.rx_take */
	uint64_t tx_errors;	 /* frames the backend refused (not EAGAIN): dropped */
	uint64_t tx_malformed;	 /* transmit chains with writable buffers, < 12 or > 65562 bytes */
	uint64_t tx_blocked;	 /* times the backend was full and the frame waited */
	uint64_t tx_throttled;	 /* times a frame waited for the tx rate limiter */
	uint64_t tx_intercepted; /* frames hooks.tx_intercept consumed */
};

/* Receive chains popped and not completed, in ring order (net.c: "the chains frames go into"). */
struct net_rx_batch {
	unsigned nr;	/* chains */
	unsigned used;	/* a placed frame fills the first `used` */
	uint32_t len;	/* the placed frame's length, header included */
	uint64_t space; /* writable bytes of the nr chains */
	unsigned nr_iov;
	uint16_t head[NET_QUEUE_SIZE];
	uint32_t room[NET_QUEUE_SIZE];	      /* writable bytes of each chain */
	uint16_t nseg[NET_QUEUE_SIZE];	      /* its entries in iov */
	struct iovec iov[NET_RX_IOV_MAX + 1]; /* + the overflow probe of a backend read */
};

struct virtio_net {
	struct virtio_dev vd; /* hand &vd to a transport (board_add_virtio, virtio_mmio_create) */
	struct virtio_net_config cfg;
	struct virtio_net_hooks hooks;
	uint8_t mac[6];
	uint8_t config[NET_CONFIG_LEN]; /* configuration space, little-endian */
	bool mrg;			/* VIRTIO_NET_F_MRG_RXBUF negotiated */
	struct rate_limiter rx_rl, tx_rl;

	/* transmit: the chain taken from the queue and not completed yet */
	bool tx_held;
	bool tx_admitted; /* the held chain got past the rate limiter */
	bool tx_wait_out; /* the backend was full: wait for EPOLLOUT */
	bool tx_consumed; /* tx_intercept took a frame in this pass: look at the rx source */
	struct virtq_chain tx;
	struct iovec tx_iov[VIRTQ_CHAIN_MAX];

	/* receive */
	bool rx_ready; /* the backend may have a frame (no EAGAIN since its last EPOLLIN) */
	bool rx_held;  /* rxb holds a placed frame the rate limiter has not let go yet */
	uint8_t rx_probe;
	struct virtq_chain rx_chain;
	struct net_rx_batch rxb;

	struct iovec view[NET_RX_IOV_MAX]; /* a frame's bytes after the header, for the hooks */
	struct virtio_net_stats stats;
};

/*
 * Create a network device: virtio device id 1, queues receiveq (0) and transmitq (1) of
 * NET_QUEUE_SIZE, features MAC, STATUS (link up), MRG_RXBUF, MTU when cfg->mtu is set, and the
 * offloads cfg->offloads
 * allows (CSUM, GUEST_CSUM, HOST_TSO4/6, HOST_UFO with NET_OFFLOAD_CSUM; GUEST_TSO4/6, GUEST_UFO
 * with the matching flag). The backend is added to cfg->loop edge-triggered; frames are read only
 * while the guest has posted buffers (at most one frame is read ahead of the rate limiter, into
 * guest buffers), and a full backend keeps the transmit chain until EPOLLOUT. Main thread.
 * 0, or -EINVAL (no memory or loop, a bad fd or mtu), -errno (getrandom, timers, the loop).
 */
int virtio_net_create(const struct virtio_net_config *cfg, struct virtio_net **out) MUST_CHECK;

/* Remove the backend and the timers from the loop, close the backend, free. The transport must
 * be destroyed first. NULL is ignored. */
void virtio_net_destroy(struct virtio_net *n);

struct vm;

/*
 * The board's network devices: one per vm->cfg->nets[i], in order, on the TAP named there (opened
 * with tap_open, offloads probed), attached with board_add_virtio as "net0", "net1", ... A TAP that
 * cannot be opened is a configuration error: -EINVAL with "network interface <id>: <why>" in
 * vm->err. 0 or -errno. Main thread, during board_create (also for a restore: the TAP is opened
 * again by name, the MAC comes back from the snapshot).
 */
int virtio_net_board_add(struct vm *vm) MUST_CHECK;

/* The network device of vm->cfg->nets[index] (virtio_net_board_add's), or NULL if none. */
struct virtio_net *virtio_net_find(struct vm *vm, unsigned index);

/* Attach (or, zeroed, detach) the MMDS hooks; a frame the new rx source has waiting is looked at
 * at once. Takes the device's lock: not from inside a hook. Main thread. */
void virtio_net_set_hooks(struct virtio_net *n, const struct virtio_net_hooks *hooks);

/* The rx source (hooks.rx_pending) has a frame now: deliver it if the guest has buffers, else
 * it waits for the next receive notification. Takes the lock: not from inside a hook. */
void virtio_net_rx_kick(struct virtio_net *n);

/* Replace the rate limiters (PATCH /network-interfaces/{id}); NULL keeps that direction's. A
 * frame held back by an old limiter is looked at again under the new one. Main thread. 0 or
 * -errno (the old limiters stay). */
int virtio_net_set_rate_limits(struct virtio_net *n, const struct rate_limit_config *rx,
			       const struct rate_limit_config *tx) MUST_CHECK;

/* The MAC the guest sees (given or generated, or restored from a snapshot). */
void virtio_net_mac(struct virtio_net *n, uint8_t mac[6]);

/* Counters (takes the lock). */
struct virtio_net_stats virtio_net_stats(struct virtio_net *n);

/* --- state (snapshots, migration) --- */

#define VIRTIO_NET_STATE_VERSION 1

/* Deliver a received frame the rate limiter holds back (a save must not find one). Main thread,
 * the VM paused. 0. */
int virtio_net_drain(struct virtio_net *n);

/* Put the MAC and the transmit chain held (its head), if any, into the open section. -EBUSY
 * (logged) if a received frame is held: call virtio_net_drain first. Takes the lock. */
int virtio_net_save(struct virtio_net *n, struct state_buf *b) MUST_CHECK;

/* Load the selected section after the transport's: the MAC (a unicast address) replaces the
 * device's, a held transmit chain is popped again (it must be the queue's last popped, with the
 * saved head, and a well-formed transmit chain). 0 or -EINVAL (state_refuse). Takes the lock. */
int virtio_net_load(struct virtio_net *n, struct state_buf *b, uint16_t version) MUST_CHECK;

#endif

/* vhost_user.h — the frontend ("master") side of the vhost-user protocol (QEMU's
 * docs/interop/vhost-user.rst) over a connected Unix stream socket: kiln hands a backend process
 * its guest memory (memfds), the rings' addresses and each queue's kick and call eventfds, so
 * the data path runs between the guest, KVM and the backend without kiln.
 *
 * The backend is not trusted: every reply is checked (request echoed, reply flag, exact size,
 * no descriptors where none belong), every exchange has a deadline, and the first failure marks
 * the connection broken: later calls fail with -EPIPE at once. Nothing a backend sends can make
 * kiln read or write out of bounds. Calls block the calling thread (at most the deadline per
 * message); a connection is used by one thread at a time (the device's lock). */
#ifndef KILN_VHOST_VHOST_USER_H
#define KILN_VHOST_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/guest_mem.h"
#include "util/compiler.h"

/* Requests (frontend to backend). */
enum vhost_user_request {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_RESET_DEVICE = 34,
};

/* Header flags. */
#define VHOST_USER_VERSION	   0x1u
#define VHOST_USER_VERSION_MASK	   0x3u
#define VHOST_USER_FLAG_REPLY	   (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY (1u << 3)

/* Virtio feature bit announcing protocol features (in GET/SET_FEATURES). */
#define VHOST_USER_F_PROTOCOL_FEATURES 30

/* Protocol feature bits kiln knows. */
#define VHOST_USER_PROTOCOL_F_MQ	   0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK	   3
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE 13
/* What kiln asks for: the others are declined. */
#define VHOST_USER_PROTOCOL_WANTED                                                                 \
	((1ULL << VHOST_USER_PROTOCOL_F_MQ) | (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK) |          \
	 (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE))

#define VHOST_USER_HDR_SIZE    12
#define VHOST_USER_MAX_REGIONS 8   /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VHOST_USER_MAX_PAYLOAD 320 /* the largest message kiln sends or accepts, header apart */
#define VHOST_USER_MAX_QUEUES  8
#define VHOST_USER_TIMEOUT_MS  5000 /* default deadline of one exchange */

/* The addresses of one started ring, as the frontend's (kiln's) virtual addresses. */
struct vhost_user_vring {
	uint16_t num;		    /* queue size */
	uint64_t desc, avail, used; /* host addresses inside the memory table's regions */
	int kick_fd; /* eventfd the guest's notifications arrive on (KVM's ioeventfd) */
	int call_fd; /* eventfd the backend signals used buffers on (KVM's irqfd) */
};

struct vhost_user {
	int fd;		     /* the connected socket, -1 once closed */
	bool broken;	     /* an exchange failed: everything fails with -EPIPE from now on */
	int timeout_ms;	     /* deadline of one reply */
	uint64_t features;   /* the backend's virtio features (GET_FEATURES) */
	uint64_t protocol;   /* negotiated protocol features (offer & VHOST_USER_PROTOCOL_WANTED) */
	uint32_t max_queues; /* GET_QUEUE_NUM with MQ, else 0 (unknown) */
	uint32_t started;    /* bit q: ring q handed to the backend and not stopped since */
	char name[32];	     /* for messages: the device ("virtio-fs share") */
};

/*
 * Take over connected socket fd (closed by vhost_user_close, also on failure here) and greet the
 * backend: SET_OWNER, GET_FEATURES, and with VHOST_USER_F_PROTOCOL_FEATURES offered,
 * GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES (the offer & VHOST_USER_PROTOCOL_WANTED) and with
 * MQ GET_QUEUE_NUM. timeout_ms <= 0: VHOST_USER_TIMEOUT_MS. Returns 0, or -errno with the
 * connection broken (-EPROTO: the backend broke the protocol, -ETIMEDOUT, -EPIPE: it closed).
 */
int vhost_user_connect(struct vhost_user *v, int fd, const char *name, int timeout_ms) MUST_CHECK;

/* Close the socket (the backend sees its peer go; a running backend stops its rings). */
void vhost_user_close(struct vhost_user *v);

/* SET_FEATURES: features (the driver's choice) must be within the backend's offer; the protocol
 * features bit is added when the backend offered it. 0, -EINVAL (outside the offer) or -errno. */
int vhost_user_set_features(struct vhost_user *v, uint64_t features) MUST_CHECK;

/* SET_MEM_TABLE with every region of m that has a descriptor (GUEST_MEM_SHARED), at most
 * VHOST_USER_MAX_REGIONS. -EINVAL if a RAM region is not shareable or there are too many. */
int vhost_user_set_mem_table(struct vhost_user *v, const struct guest_mem *m) MUST_CHECK;

/*
 * Hand ring q to the backend and start it: SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE (0: a
 * fresh ring), SET_VRING_CALL, SET_VRING_KICK and, with protocol features, SET_VRING_ENABLE 1.
 * The memory table must be set. 0 or -errno (-EINVAL: q out of range or a bad ring).
 */
int vhost_user_start_ring(struct vhost_user *v, unsigned q,
			  const struct vhost_user_vring *r) MUST_CHECK;

/* Stop ring q (SET_VRING_ENABLE 0 with protocol features, then GET_VRING_BASE, whose answer
 * must name q and goes to *base if not NULL). A ring not started: 0 at once. 0 or -errno. */
int vhost_user_stop_ring(struct vhost_user *v, unsigned q, uint32_t *base) MUST_CHECK;

/* The device was reset: stop every started ring, and with RESET_DEVICE negotiated send it
 * (else RESET_OWNER is not sent: backends treat it as the end of the session). 0 or -errno. */
int vhost_user_reset(struct vhost_user *v) MUST_CHECK;

#endif

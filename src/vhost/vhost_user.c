/* vhost_user.c — the vhost-user frontend: framing, replies checked as hostile input, and the
 * request sequences kiln needs (greeting, features, memory table, ring start and stop). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vhost_user.h"

/* One message as it travels: the 12-byte header, then `size` bytes of payload (native byte
 * order, as the specification says; kiln runs on little-endian hosts). */
struct vu_msg {
	uint32_t request, flags, size;
	uint8_t payload[VHOST_USER_MAX_PAYLOAD];
};

_Static_assert(sizeof(struct vu_msg) == VHOST_USER_HDR_SIZE + VHOST_USER_MAX_PAYLOAD,
	       "the header is three packed 32-bit words");

struct vu_state { /* VhostUserVringState */
	uint32_t index, num;
};

struct vu_addr { /* VhostUserVringAddr */
	uint32_t index, flags;
	uint64_t desc, used, avail, log;
};

struct vu_region { /* VhostUserMemoryRegion */
	uint64_t gpa, size, uaddr, mmap_offset;
};

#define MEM_TABLE_HDR 8 /* u32 nregions, u32 padding */

_Static_assert(MEM_TABLE_HDR + VHOST_USER_MAX_REGIONS * sizeof(struct vu_region) <=
		   VHOST_USER_MAX_PAYLOAD,
	       "a full memory table fits a message");

/* The connection is unusable from now on: say why once. Returns err. */
static int fail(struct vhost_user *v, int err, const char *what)
{
	if (!v->broken)
		log_warn("%s: vhost-user backend: %s (%s); the device stops", v->name, what,
			 strerror(-err));
	v->broken = true;
	return err;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for `events` or the deadline passes. 0, -ETIMEDOUT, -EPIPE, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			continue;
		if (p.revents & events)
			return 0;
		return -EPIPE; /* HUP or ERR without the event */
	}
}

static void close_fds(const struct cmsghdr *cm)
{
	size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	const unsigned char *data = CMSG_DATA(cm);

	for (size_t i = 0; i < n; i++) {
		int fd;

		memcpy(&fd, data + i * sizeof(int), sizeof(fd));
		close(fd);
	}
}

/* Close every descriptor a message carried; returns whether there was any. */
static bool drop_fds(struct msghdr *mh)
{
	bool any = (mh->msg_flags & MSG_CTRUNC) != 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			close_fds(cm);
			any = true;
		}
	}
	return any;
}

/* Read exactly len bytes by the deadline; a backend attaching descriptors breaks the protocol
 * (they are closed). 0, -EPROTO, -EPIPE (closed), -ETIMEDOUT or -errno. */
static int read_exact(struct vhost_user *v, void *buf, size_t len, int64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * 8)];
		} ctl;
		struct iovec iov = {(uint8_t *)buf + got, len - got};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = &ctl,
				    .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(v->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		int ret;

		if (n > 0 && drop_fds(&mh))
			return -EPROTO;
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		ret = wait_fd(v->fd, POLLIN, deadline);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Send header + size payload bytes with up to nfds descriptors, by the deadline. */
static int send_msg(struct vhost_user *v, struct vu_msg *m, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * VHOST_USER_MAX_REGIONS)];
	} ctl;
	size_t total = VHOST_USER_HDR_SIZE + m->size, sent = 0;
	int64_t deadline = now_ms() + v->timeout_ms;

	memset(&ctl, 0, sizeof(ctl));
	while (sent < total) {
		struct iovec iov = {(uint8_t *)m + sent, total - sent};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n;
		int ret;

		if (sent == 0 && nfds) { /* the descriptors go with the first byte */
			struct cmsghdr *cm;

			mh.msg_control = &ctl;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(v->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return errno == ECONNRESET ? -EPIPE : -errno;
		ret = wait_fd(v->fd, POLLOUT, deadline);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Read the reply to `request`: version 1, the reply flag, exactly `size` payload bytes. */
static int recv_reply(struct vhost_user *v, uint32_t request, void *payload, uint32_t size)
{
	int64_t deadline = now_ms() + v->timeout_ms;
	uint32_t hdr[3];
	int ret = read_exact(v, hdr, sizeof(hdr), deadline);

	if (ret < 0)
		return fail(v, ret, "no reply");
	if (hdr[0] != request || (hdr[1] & VHOST_USER_VERSION_MASK) != VHOST_USER_VERSION ||
	    !(hdr[1] & VHOST_USER_FLAG_REPLY) || hdr[2] != size) {
		log_warn("%s: vhost-user: reply to request %u has request %u, flags %#x, size %u "
			 "(expected %u)",
			 v->name, request, hdr[0], hdr[1], hdr[2], size);
		return fail(v, -EPROTO, "malformed reply");
	}
	ret = read_exact(v, payload, size, deadline);
	return ret < 0 ? fail(v, ret, "reply cut short") : 0;
}

static bool has_protocol(const struct vhost_user *v, unsigned bit)
{
	return (v->protocol >> bit) & 1;
}

/* Send a request that returns nothing; with REPLY_ACK wait for the backend's verdict. A refusal
 * is -EIO (the connection stays usable); anything else that fails breaks it. */
static int request(struct vhost_user *v, uint32_t req, const void *payload, uint32_t size,
		   const int *fds, unsigned nfds)
{
	struct vu_msg m = {.request = req, .flags = VHOST_USER_VERSION, .size = size};
	bool ack = has_protocol(v, VHOST_USER_PROTOCOL_F_REPLY_ACK);
	uint64_t verdict;
	int ret;

	if (v->broken || v->fd < 0)
		return -EPIPE;
	if (size > sizeof(m.payload))
		return -EINVAL;
	if (size)
		memcpy(m.payload, payload, size);
	if (ack)
		m.flags |= VHOST_USER_FLAG_NEED_REPLY;
	ret = send_msg(v, &m, fds, nfds);
	if (ret < 0)
		return fail(v, ret, "request not sent");
	if (!ack)
		return 0;
	ret = recv_reply(v, req, &verdict, sizeof(verdict));
	if (ret == 0 && verdict != 0) {
		log_warn("%s: vhost-user: the backend refused request %u", v->name, req);
		return -EIO;
	}
	return ret;
}

/* Send a request whose answer is `size` bytes into out (GET_*). */
static int query(struct vhost_user *v, uint32_t req, const void *arg, uint32_t arg_size, void *out,
		 uint32_t size)
{
	struct vu_msg m = {.request = req, .flags = VHOST_USER_VERSION, .size = arg_size};
	int ret;

	if (v->broken || v->fd < 0)
		return -EPIPE;
	if (arg_size)
		memcpy(m.payload, arg, arg_size);
	ret = send_msg(v, &m, NULL, 0);
	if (ret < 0)
		return fail(v, ret, "request not sent");
	return recv_reply(v, req, out, size);
}

static int get_u64(struct vhost_user *v, uint32_t req, uint64_t *out)
{
	return query(v, req, NULL, 0, out, sizeof(*out));
}

static int set_u64(struct vhost_user *v, uint32_t req, uint64_t val)
{
	return request(v, req, &val, sizeof(val), NULL, 0);
}

static int negotiate_protocol(struct vhost_user *v)
{
	uint64_t offer, mq;
	int ret = get_u64(v, VHOST_USER_GET_PROTOCOL_FEATURES, &offer);

	if (ret < 0)
		return ret;
	/* Until SET_PROTOCOL_FEATURES is acknowledged, REPLY_ACK is not in force. */
	ret = set_u64(v, VHOST_USER_SET_PROTOCOL_FEATURES, offer & VHOST_USER_PROTOCOL_WANTED);
	if (ret < 0)
		return ret;
	v->protocol = offer & VHOST_USER_PROTOCOL_WANTED;
	if (!has_protocol(v, VHOST_USER_PROTOCOL_F_MQ))
		return 0;
	ret = get_u64(v, VHOST_USER_GET_QUEUE_NUM, &mq);
	if (ret == 0 && (mq == 0 || mq > 0xffff))
		return fail(v, -EPROTO, "queue count out of range");
	if (ret == 0)
		v->max_queues = (uint32_t)mq;
	return ret;
}

int vhost_user_connect(struct vhost_user *v, int fd, const char *name, int timeout_ms)
{
	int ret, fl;

	memset(v, 0, sizeof(*v));
	v->fd = fd;
	v->timeout_ms = timeout_ms > 0 ? timeout_ms : VHOST_USER_TIMEOUT_MS;
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "vhost-user");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return fail(v, -errno, "socket");
	ret = request(v, VHOST_USER_SET_OWNER, NULL, 0, NULL, 0);
	if (ret == 0)
		ret = get_u64(v, VHOST_USER_GET_FEATURES, &v->features);
	if (ret == 0 && (v->features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1)
		ret = negotiate_protocol(v);
	if (ret < 0)
		v->broken = true;
	return ret;
}

void vhost_user_close(struct vhost_user *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	v->broken = true;
	v->started = 0;
}

int vhost_user_set_features(struct vhost_user *v, uint64_t features)
{
	uint64_t pf = 1ULL << VHOST_USER_F_PROTOCOL_FEATURES;

	if (v->broken || v->fd < 0)
		return -EPIPE;
	if (features & ~v->features)
		return -EINVAL;
	return set_u64(v, VHOST_USER_SET_FEATURES, features | (v->features & pf));
}

int vhost_user_set_mem_table(struct vhost_user *v, const struct guest_mem *m)
{
	uint8_t payload[MEM_TABLE_HDR + VHOST_USER_MAX_REGIONS * sizeof(struct vu_region)] = {0};
	int fds[VHOST_USER_MAX_REGIONS];
	uint32_t n = 0;

	for (unsigned i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];
		struct vu_region vr = {r->gpa, r->len, (uint64_t)(uintptr_t)r->host, r->fd_offset};

		if (!(r->flags & GUEST_MEM_SHARED)) {
			if (r->flags & GUEST_MEM_RAM)
				return -EINVAL; /* the backend could not reach this RAM */
			continue;
		}
		if (n == VHOST_USER_MAX_REGIONS)
			return -EINVAL;
		memcpy(payload + MEM_TABLE_HDR + n * sizeof(vr), &vr, sizeof(vr));
		fds[n++] = r->fd;
	}
	if (n == 0)
		return -EINVAL;
	memcpy(payload, &n, sizeof(n));
	return request(v, VHOST_USER_SET_MEM_TABLE, payload,
		       MEM_TABLE_HDR + n * (uint32_t)sizeof(struct vu_region), fds, n);
}

static int set_state(struct vhost_user *v, uint32_t req, unsigned q, uint32_t num)
{
	struct vu_state s = {q, num};

	return request(v, req, &s, sizeof(s), NULL, 0);
}

/* SET_VRING_KICK / SET_VRING_CALL: the queue index in bits 0-7, the eventfd attached. */
static int set_ring_fd(struct vhost_user *v, uint32_t req, unsigned q, int fd)
{
	uint64_t val = q;

	return request(v, req, &val, sizeof(val), &fd, 1);
}

static bool queue_ok(const struct vhost_user *v, unsigned q)
{
	return q < VHOST_USER_MAX_QUEUES && (v->max_queues == 0 || q < v->max_queues);
}

int vhost_user_start_ring(struct vhost_user *v, unsigned q, const struct vhost_user_vring *r)
{
	struct vu_addr a = {.index = q, .desc = r->desc, .used = r->used, .avail = r->avail};
	int ret;

	if (!queue_ok(v, q) || r->num == 0 || r->kick_fd < 0 || r->call_fd < 0)
		return -EINVAL;
	ret = set_state(v, VHOST_USER_SET_VRING_NUM, q, r->num);
	if (ret == 0)
		ret = set_state(v, VHOST_USER_SET_VRING_BASE, q, 0);
	if (ret == 0)
		ret = request(v, VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	if (ret == 0)
		ret = set_ring_fd(v, VHOST_USER_SET_VRING_CALL, q, r->call_fd);
	if (ret == 0)
		ret = set_ring_fd(v, VHOST_USER_SET_VRING_KICK, q, r->kick_fd);
	if (ret == 0)
		v->started |= 1u << q;
	if (ret == 0 && (v->features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1)
		ret = set_state(v, VHOST_USER_SET_VRING_ENABLE, q, 1);
	return ret;
}

int vhost_user_stop_ring(struct vhost_user *v, unsigned q, uint32_t *base)
{
	struct vu_state s = {q, 0}, reply;
	int ret = 0;

	if (q >= VHOST_USER_MAX_QUEUES || !(v->started & (1u << q)))
		return 0;
	v->started &= ~(1u << q);
	if ((v->features >> VHOST_USER_F_PROTOCOL_FEATURES) & 1)
		ret = set_state(v, VHOST_USER_SET_VRING_ENABLE, q, 0);
	if (ret == 0)
		ret = query(v, VHOST_USER_GET_VRING_BASE, &s, sizeof(s), &reply, sizeof(reply));
	if (ret == 0 && reply.index != q)
		return fail(v, -EPROTO, "GET_VRING_BASE answered for another ring");
	if (ret == 0 && reply.num > 0xffff)
		return fail(v, -EPROTO, "GET_VRING_BASE: ring index out of range");
	if (ret == 0 && base)
		*base = reply.num;
	return ret;
}

int vhost_user_reset(struct vhost_user *v)
{
	int ret = 0;

	for (unsigned q = 0; q < VHOST_USER_MAX_QUEUES; q++) {
		int r = vhost_user_stop_ring(v, q, NULL);

		if (ret == 0)
			ret = r;
	}
	if (ret == 0 && has_protocol(v, VHOST_USER_PROTOCOL_F_RESET_DEVICE))
		ret = request(v, VHOST_USER_RESET_DEVICE, NULL, 0, NULL, 0);
	return ret;
}

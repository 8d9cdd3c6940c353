/* test_vhost_user.c — the vhost-user frontend and virtio-fs against a scripted backend: the
 * test end of a socketpair holds the replies before each call (the frontend is synchronous) and
 * reads back what kiln sent — message sequence, memory table and its descriptors, ring
 * addresses, kick and call eventfds — and plays a hostile backend: garbage, wrong sizes, wrong
 * requests, descriptors where none belong, silence, and a close in the middle of a message. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config/config_json.h"
#include "vdrv.h"
#include "vhost/vhost_user.h"
#include "virtio/fs.h"

#define PF  (1ULL << VHOST_USER_F_PROTOCOL_FEATURES)
#define V1  (1ULL << VIRTIO_F_VERSION_1)
#define EI  (1ULL << VIRTIO_RING_F_EVENT_IDX)
#define ID  (1ULL << VIRTIO_RING_F_INDIRECT_DESC)
#define ACK (1ULL << VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define MQ  (1ULL << VHOST_USER_PROTOCOL_F_MQ)

/* A message as the backend reads it. */
struct tmsg {
	uint32_t req, flags, size;
	uint8_t p[512];
	int fds[8];
	unsigned nfds;
};

/* --- the backend's end --- */

static void put_raw(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Queue a reply: request req, flags, size bytes of payload p. */
static void reply_as(int fd, uint32_t req, uint32_t flags, const void *p, uint32_t size)
{
	uint8_t buf[12 + 64];

	memcpy(buf, &req, 4);
	memcpy(buf + 4, &flags, 4);
	memcpy(buf + 8, &size, 4);
	memcpy(buf + 12, p, size);
	put_raw(fd, buf, 12 + size);
}

static void reply_u64(int fd, uint32_t req, uint64_t v)
{
	reply_as(fd, req, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY, &v, 8);
}

static void reply_state(int fd, uint32_t req, uint32_t index, uint32_t num)
{
	uint32_t s[2] = {index, num};

	reply_as(fd, req, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY, s, 8);
}

/* n REPLY_ACK verdicts of 0 for the next n requests, in order. */
static void acks(int fd, const uint32_t *reqs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		reply_u64(fd, reqs[i], 0);
}

/* Read exactly len bytes (already queued), collecting descriptors. */
static void take(int fd, void *buf, size_t len, struct tmsg *m)
{
	size_t got = 0;

	while (got < len) {
		char ctl[CMSG_SPACE(sizeof(int) * 8)];
		struct iovec iov = {(uint8_t *)buf + got, len - got};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctl,
				    .msg_controllen = sizeof(ctl)};
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		assert_true(n > 0);
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

			assert_true(m->nfds + k <= 8);
			memcpy(m->fds + m->nfds, CMSG_DATA(c), k * sizeof(int));
			m->nfds += k;
		}
		got += (size_t)n;
	}
}

/* The next message kiln sent; asserts its request and version. */
static void next(int fd, struct tmsg *m, uint32_t req)
{
	memset(m, 0, sizeof(*m));
	take(fd, m, 12, m);
	assert_int_equal(m->req, req);
	assert_int_equal(m->flags & VHOST_USER_VERSION_MASK, VHOST_USER_VERSION);
	assert_false(m->flags & VHOST_USER_FLAG_REPLY);
	assert_true(m->size <= sizeof(m->p));
	if (m->size)
		take(fd, m->p, m->size, m);
}

static void close_fds(struct tmsg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		close(m->fds[i]);
	m->nfds = 0;
}

/* Nothing more was sent. */
static void nothing_more(int fd)
{
	char c;

	assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static uint64_t u64_at(const struct tmsg *m, size_t off)
{
	uint64_t v;

	memcpy(&v, m->p + off, 8);
	return v;
}

static uint32_t u32_at(const struct tmsg *m, size_t off)
{
	uint32_t v;

	memcpy(&v, m->p + off, 4);
	return v;
}

/* --- fixture: a connected pair; the frontend greeted a backend offering `features` and
 * `protocol` --- */

struct fx {
	struct vhost_user v;
	int be; /* the backend's end */
};

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Greet: returns vhost_user_connect's result; on success the greeting was checked. */
static int greet(struct fx *f, uint64_t features, uint64_t protocol, uint64_t queues)
{
	int sv[2], ret;
	struct tmsg m;

	pair(sv);
	f->be = sv[1];
	reply_u64(f->be, VHOST_USER_GET_FEATURES, features);
	if (features & PF) {
		reply_u64(f->be, VHOST_USER_GET_PROTOCOL_FEATURES, protocol);
		if (protocol & MQ)
			reply_u64(f->be, VHOST_USER_GET_QUEUE_NUM, queues);
	}
	ret = vhost_user_connect(&f->v, sv[0], "test", 200);
	if (ret < 0)
		return ret;
	next(f->be, &m, VHOST_USER_SET_OWNER);
	assert_int_equal(m.size, 0);
	assert_false(m.flags & VHOST_USER_FLAG_NEED_REPLY);
	next(f->be, &m, VHOST_USER_GET_FEATURES);
	assert_int_equal(m.size, 0);
	if (features & PF) {
		next(f->be, &m, VHOST_USER_GET_PROTOCOL_FEATURES);
		next(f->be, &m, VHOST_USER_SET_PROTOCOL_FEATURES);
		assert_int_equal(m.size, 8);
		assert_int_equal(u64_at(&m, 0), protocol & VHOST_USER_PROTOCOL_WANTED);
		assert_false(m.flags & VHOST_USER_FLAG_NEED_REPLY);
		if (protocol & MQ)
			next(f->be, &m, VHOST_USER_GET_QUEUE_NUM);
	}
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vhost_user_close(&f->v);
	close(f->be);
	free(f);
	return 0;
}

static int setup(void **state)
{
	*state = calloc(1, sizeof(struct fx));
	return *state ? 0 : -1;
}

/* --- the greeting --- */

static void test_greeting(void **state)
{
	struct fx *f = *state;

	/* bit 5 (BACKEND_REQ) is offered but not wanted: declined */
	assert_int_equal(greet(f, V1 | PF | EI, ACK | MQ | (1ULL << 5), 2), 0);
	assert_int_equal(f->v.features, V1 | PF | EI);
	assert_int_equal(f->v.protocol, ACK | MQ);
	assert_int_equal(f->v.max_queues, 2);
	nothing_more(f->be);
}

static void test_greeting_without_protocol_features(void **state)
{
	struct fx *f = *state;

	assert_int_equal(greet(f, V1, 0, 0), 0);
	assert_int_equal(f->v.protocol, 0);
	assert_int_equal(f->v.max_queues, 0);
	nothing_more(f->be);
}

/* --- the memory table --- */

static void test_mem_table(void **state)
{
	struct fx *f = *state;
	struct guest_mem mem;
	struct tmsg m;
	const uint32_t ack[] = {VHOST_USER_SET_MEM_TABLE};

	guest_mem_init(&mem, -1);
	assert_int_equal(guest_mem_add(&mem, 0, 0x40000, GUEST_MEM_RAM | GUEST_MEM_SHARED), 0);
	assert_int_equal(
	    guest_mem_add(&mem, 0x100000000ULL, 0x20000, GUEST_MEM_RAM | GUEST_MEM_SHARED), 0);
	assert_int_equal(greet(f, V1 | PF, ACK, 0), 0);
	acks(f->be, ack, 1);
	assert_int_equal(vhost_user_set_mem_table(&f->v, &mem), 0);
	next(f->be, &m, VHOST_USER_SET_MEM_TABLE);
	assert_true(m.flags & VHOST_USER_FLAG_NEED_REPLY);
	assert_int_equal(m.size, 8 + 2 * 32);
	assert_int_equal(u32_at(&m, 0), 2);
	assert_int_equal(m.nfds, 2);
	for (unsigned i = 0; i < 2; i++) {
		const struct guest_region *r = &mem.r[i];
		struct stat a, b;
		uint8_t *peer;

		assert_int_equal(u64_at(&m, 8 + i * 32), r->gpa);
		assert_int_equal(u64_at(&m, 8 + i * 32 + 8), r->len);
		assert_int_equal(u64_at(&m, 8 + i * 32 + 16), (uint64_t)(uintptr_t)r->host);
		assert_int_equal(u64_at(&m, 8 + i * 32 + 24), 0);
		/* the descriptor is the region's memfd: same file, same pages */
		assert_int_equal(fstat(m.fds[i], &a), 0);
		assert_int_equal(fstat(r->fd, &b), 0);
		assert_int_equal(a.st_ino, b.st_ino);
		peer = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fds[i], 0);
		assert_true(peer != MAP_FAILED);
		peer[r->len - 1] = (uint8_t)(0x5a + i);
		assert_int_equal(r->host[r->len - 1], 0x5a + i);
		/* the backend cannot shrink it under kiln */
		assert_int_equal(ftruncate(m.fds[i], 4096), -1);
		munmap(peer, r->len);
	}
	close_fds(&m);
	nothing_more(f->be);
	guest_mem_destroy(&mem);
}

static void test_mem_table_refuses_private_ram(void **state)
{
	struct fx *f = *state;
	struct guest_mem mem;

	guest_mem_init(&mem, -1);
	assert_int_equal(guest_mem_add(&mem, 0, 0x40000, GUEST_MEM_RAM), 0);
	assert_int_equal(greet(f, V1, 0, 0), 0);
	assert_int_equal(vhost_user_set_mem_table(&f->v, &mem), -EINVAL);
	nothing_more(f->be);
	assert_false(f->v.broken);
	guest_mem_destroy(&mem);
}

/* --- rings --- */

static void expect_state(int be, uint32_t req, uint32_t index, uint32_t num)
{
	struct tmsg m;

	next(be, &m, req);
	assert_int_equal(m.size, 8);
	assert_int_equal(u32_at(&m, 0), index);
	assert_int_equal(u32_at(&m, 4), num);
}

/* The next SET_VRING_KICK/CALL for ring q carries a descriptor of eventfd efd. */
static void expect_ring_fd(int be, uint32_t req, unsigned q, int efd)
{
	struct tmsg m;
	uint64_t one = 1, got = 0;

	next(be, &m, req);
	assert_int_equal(m.size, 8);
	assert_int_equal(u64_at(&m, 0), q); /* index, no "invalid fd" bit */
	assert_int_equal(m.nfds, 1);
	assert_int_equal(write(m.fds[0], &one, 8), 8);
	assert_int_equal(read(efd, &got, 8), 8);
	assert_int_equal(got, 1);
	close_fds(&m);
}

static void test_ring_start_and_stop(void **state)
{
	struct fx *f = *state;
	int kick = eventfd(0, EFD_NONBLOCK), call = eventfd(0, EFD_NONBLOCK);
	struct vhost_user_vring r = {256, 0x7000, 0x8000, 0x9000, kick, call};
	const uint32_t ack[] = {VHOST_USER_SET_VRING_NUM,  VHOST_USER_SET_VRING_BASE,
				VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_CALL,
				VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_ENABLE};
	struct tmsg m;
	uint32_t base = 0;

	assert_int_equal(greet(f, V1 | PF, ACK | MQ, 2), 0);
	acks(f->be, ack, 6);
	assert_int_equal(vhost_user_start_ring(&f->v, 1, &r), 0);
	expect_state(f->be, VHOST_USER_SET_VRING_NUM, 1, 256);
	expect_state(f->be, VHOST_USER_SET_VRING_BASE, 1, 0);
	next(f->be, &m, VHOST_USER_SET_VRING_ADDR);
	assert_int_equal(m.size, 40);
	assert_int_equal(u32_at(&m, 0), 1);
	assert_int_equal(u32_at(&m, 4), 0);	  /* no logging */
	assert_int_equal(u64_at(&m, 8), 0x7000);  /* descriptors */
	assert_int_equal(u64_at(&m, 16), 0x9000); /* used */
	assert_int_equal(u64_at(&m, 24), 0x8000); /* available */
	expect_ring_fd(f->be, VHOST_USER_SET_VRING_CALL, 1, call);
	expect_ring_fd(f->be, VHOST_USER_SET_VRING_KICK, 1, kick);
	expect_state(f->be, VHOST_USER_SET_VRING_ENABLE, 1, 1);
	nothing_more(f->be);
	assert_int_equal(f->v.started, 1u << 1);
	/* a queue the backend does not have is refused before anything is sent */
	assert_int_equal(vhost_user_start_ring(&f->v, 2, &r), -EINVAL);
	nothing_more(f->be);

	reply_u64(f->be, VHOST_USER_SET_VRING_ENABLE, 0);
	reply_state(f->be, VHOST_USER_GET_VRING_BASE, 1, 77);
	assert_int_equal(vhost_user_stop_ring(&f->v, 1, &base), 0);
	assert_int_equal(base, 77);
	expect_state(f->be, VHOST_USER_SET_VRING_ENABLE, 1, 0);
	expect_state(f->be, VHOST_USER_GET_VRING_BASE, 1, 0);
	assert_int_equal(f->v.started, 0);
	/* stopping it again sends nothing */
	assert_int_equal(vhost_user_stop_ring(&f->v, 1, &base), 0);
	nothing_more(f->be);
	close(kick);
	close(call);
}

static void test_reset_stops_rings_and_resets_device(void **state)
{
	struct fx *f = *state;
	struct tmsg m;

	assert_int_equal(greet(f, V1 | PF, ACK | (1ULL << VHOST_USER_PROTOCOL_F_RESET_DEVICE), 0),
			 0);
	f->v.started = 1u << 0; /* as if ring 0 had been started */
	reply_u64(f->be, VHOST_USER_SET_VRING_ENABLE, 0);
	reply_state(f->be, VHOST_USER_GET_VRING_BASE, 0, 3);
	reply_u64(f->be, VHOST_USER_RESET_DEVICE, 0);
	assert_int_equal(vhost_user_reset(&f->v), 0);
	expect_state(f->be, VHOST_USER_SET_VRING_ENABLE, 0, 0);
	expect_state(f->be, VHOST_USER_GET_VRING_BASE, 0, 0);
	next(f->be, &m, VHOST_USER_RESET_DEVICE);
	nothing_more(f->be);
}

static void test_set_features_checks_the_offer(void **state)
{
	struct fx *f = *state;
	struct tmsg m;

	assert_int_equal(greet(f, V1 | PF | EI, 0, 0), 0);
	assert_int_equal(vhost_user_set_features(&f->v, V1 | ID), -EINVAL);
	nothing_more(f->be);
	assert_int_equal(vhost_user_set_features(&f->v, V1 | EI), 0);
	next(f->be, &m, VHOST_USER_SET_FEATURES);
	assert_int_equal(u64_at(&m, 0), V1 | EI | PF);
}

/* --- a hostile backend --- */

/* The connection is broken: the next call fails at once with -EPIPE, sending nothing. */
static void assert_broken(struct fx *f)
{
	assert_true(f->v.broken);
	assert_int_equal(vhost_user_set_features(&f->v, V1), -EPIPE);
}

/* Answer GET_FEATURES with the len bytes at bad (then hang up if asked). */
static int bad_features_reply(struct fx *f, const void *bad, size_t len, bool hangup)
{
	int sv[2];

	pair(sv);
	f->be = sv[1];
	put_raw(f->be, bad, len);
	if (hangup)
		shutdown(f->be, SHUT_WR);
	return vhost_user_connect(&f->v, sv[0], "test", 200);
}

static void test_garbage_replies(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint32_t h[3];
		uint64_t v;
		int err;
	} cases[] = {
	    /* another request */
	    {{VHOST_USER_GET_PROTOCOL_FEATURES, 5, 8}, V1, -EPROTO},
	    /* no reply flag */
	    {{VHOST_USER_GET_FEATURES, 1, 8}, V1, -EPROTO},
	    /* version 2 */
	    {{VHOST_USER_GET_FEATURES, 6, 8}, V1, -EPROTO},
	    /* size 4, 16, huge */
	    {{VHOST_USER_GET_FEATURES, 5, 4}, V1, -EPROTO},
	    {{VHOST_USER_GET_FEATURES, 5, 16}, V1, -EPROTO},
	    {{VHOST_USER_GET_FEATURES, 5, 0xffffffff}, V1, -EPROTO},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[20];

		memcpy(buf, cases[i].h, 12);
		memcpy(buf + 12, &cases[i].v, 8);
		/* SET_OWNER is not acknowledged (no REPLY_ACK yet): the first reply is this one */
		assert_int_equal(bad_features_reply(f, buf, sizeof(buf), false), cases[i].err);
		assert_broken(f);
		vhost_user_close(&f->v);
		close(f->be);
	}
	f->be = -1;
}

static void test_reply_with_descriptors_is_refused(void **state)
{
	struct fx *f = *state;
	int sv[2], efd = eventfd(0, 0);
	uint32_t h[3] = {VHOST_USER_GET_FEATURES, 5, 8};
	uint8_t buf[20];
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	memcpy(buf, h, 12);
	memset(buf + 12, 0, 8);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &efd, sizeof(int));
	pair(sv);
	f->be = sv[1];
	assert_int_equal(sendmsg(f->be, &mh, 0), (ssize_t)sizeof(buf));
	close(efd);
	assert_int_equal(vhost_user_connect(&f->v, sv[0], "test", 200), -EPROTO);
	assert_broken(f);
}

static void test_backend_closes_mid_message(void **state)
{
	struct fx *f = *state;
	uint32_t h[3] = {VHOST_USER_GET_FEATURES, 5, 8};
	uint8_t buf[16];

	memcpy(buf, h, 12);
	memset(buf + 12, 0, 4);
	assert_int_equal(bad_features_reply(f, buf, 7, true), -EPIPE); /* half a header */
	assert_broken(f);
	vhost_user_close(&f->v);
	close(f->be);
	/* half the payload */
	assert_int_equal(bad_features_reply(f, buf, sizeof(buf), true), -EPIPE);
	assert_broken(f);
}

static void test_silent_backend_times_out(void **state)
{
	struct fx *f = *state;
	int sv[2];

	pair(sv);
	f->be = sv[1];
	assert_int_equal(vhost_user_connect(&f->v, sv[0], "test", 100), -ETIMEDOUT);
	assert_broken(f);
}

static void test_backend_gone_before_sending(void **state)
{
	struct fx *f = *state;
	int sv[2];

	pair(sv);
	close(sv[1]);
	f->be = -1;
	assert_int_equal(vhost_user_connect(&f->v, sv[0], "test", 100), -EPIPE);
	assert_broken(f);
}

static void test_refusal_keeps_connection(void **state)
{
	struct fx *f = *state;
	struct tmsg m;

	assert_int_equal(greet(f, V1 | PF, ACK, 0), 0);
	reply_u64(f->be, VHOST_USER_SET_FEATURES, 1); /* the backend says no */
	assert_int_equal(vhost_user_set_features(&f->v, V1), -EIO);
	assert_false(f->v.broken);
	next(f->be, &m, VHOST_USER_SET_FEATURES);
	reply_u64(f->be, VHOST_USER_SET_FEATURES, 0);
	assert_int_equal(vhost_user_set_features(&f->v, V1), 0);
}

static void test_bad_vring_base_answers(void **state)
{
	struct fx *f = *state;

	assert_int_equal(greet(f, V1, 0, 0), 0);
	f->v.started = 1u << 0;
	reply_state(f->be, VHOST_USER_GET_VRING_BASE, 1, 0); /* another ring */
	assert_int_equal(vhost_user_stop_ring(&f->v, 0, NULL), -EPROTO);
	assert_broken(f);
	vhost_user_close(&f->v);
	close(f->be);
	assert_int_equal(greet(f, V1, 0, 0), 0);
	f->v.started = 1u << 0;
	reply_state(f->be, VHOST_USER_GET_VRING_BASE, 0, 0x10000); /* not a 16-bit index */
	assert_int_equal(vhost_user_stop_ring(&f->v, 0, NULL), -EPROTO);
	assert_broken(f);
}

static void test_bad_queue_count(void **state)
{
	struct fx *f = *state;

	assert_int_equal(greet(f, V1 | PF, MQ, 0), -EPROTO);
	assert_broken(f);
}

/* --- virtio-fs over it --- */

struct fsfx {
	struct vdrv d;
	struct event_loop loop;
	struct virtio_fs *fs;
	int be, kick[2], call;
};

/* vdrv's guest memory, made shareable: the same gpa and size, a memfd behind it. */
static void share_vdrv_memory(struct vdrv *d)
{
	assert_int_equal(guest_mem_remove(&d->mem, VDRV_MEM_GPA), 0);
	free(d->ram);
	assert_int_equal(
	    guest_mem_add(&d->mem, VDRV_MEM_GPA, d->mem_len, GUEST_MEM_RAM | GUEST_MEM_SHARED), 0);
	d->ram = NULL; /* vdrv_fini frees it: guest_mem_destroy unmaps the region instead */
	d->ram = guest_mem_ptr(&d->mem, VDRV_MEM_GPA, d->mem_len);
}

static int fs_setup(void **state)
{
	struct fsfx *x = calloc(1, sizeof(*x));
	char why[256];
	int sv[2];

	vdrv_init(&x->d);
	share_vdrv_memory(&x->d);
	assert_int_equal(event_loop_init(&x->loop), 0);
	pair(sv);
	x->be = sv[1];
	reply_u64(x->be, VHOST_USER_GET_FEATURES, V1 | PF | EI); /* no INDIRECT_DESC */
	reply_u64(x->be, VHOST_USER_GET_PROTOCOL_FEATURES, ACK);
	assert_int_equal(
	    virtio_fs_create("share", sv[0], &x->d.mem, &x->loop, &x->fs, why, sizeof(why)), 0);
	x->fs->vu.timeout_ms = 200;
	for (int i = 0; i < 4; i++) { /* the greeting */
		struct tmsg m;

		next(x->be, &m,
		     i == 0   ? VHOST_USER_SET_OWNER
		     : i == 1 ? VHOST_USER_GET_FEATURES
		     : i == 2 ? VHOST_USER_GET_PROTOCOL_FEATURES
			      : VHOST_USER_SET_PROTOCOL_FEATURES);
	}
	vdrv_attach(&x->d, &x->fs->vd);
	/* without KVM the transport has no eventfds: stand in for its ioeventfds and irqfd */
	x->kick[0] = eventfd(0, EFD_NONBLOCK);
	x->kick[1] = eventfd(0, EFD_NONBLOCK);
	x->call = eventfd(0, EFD_NONBLOCK);
	x->d.call_fd = x->call;
	x->fs->vd.ops->external_queues(x->fs, x->kick, 2);
	*state = x;
	return 0;
}

static int fs_teardown(void **state)
{
	struct fsfx *x = *state;

	vdrv_detach(&x->d);
	virtio_fs_destroy(x->fs);
	x->d.ram = NULL;
	vdrv_fini(&x->d);
	event_loop_destroy(&x->loop);
	if (x->be >= 0)
		close(x->be);
	close(x->kick[0]);
	close(x->kick[1]);
	close(x->call);
	free(x);
	return 0;
}

static void test_fs_registers_and_config(void **state)
{
	struct fsfx *x = *state;
	char tag[37] = {0};

	assert_int_equal(vdrv_rd(&x->d, VDRV_REG_DEVICE_ID), VIRTIO_ID_FS);
	/* the offer is kiln's transport features the backend has: no INDIRECT_DESC */
	assert_int_equal(vdrv_device_features(&x->d), V1 | EI);
	for (unsigned i = 0; i < 36; i++)
		tag[i] = (char)vdrv_cfg_rd(&x->d, i, 1);
	assert_string_equal(tag, "share");
	assert_int_equal(vdrv_cfg_rd(&x->d, 36, 4), 1); /* num_request_queues */
	assert_int_equal(vdrv_queue_max(&x->d, 0), VIRTIO_FS_QUEUE_MAX);
	/* InterruptStatus always shows a used buffer: the backend's interrupts bypass kiln */
	assert_int_equal(vdrv_rd(&x->d, VDRV_REG_INTERRUPT_STATUS) & 1, 1);
}

static void test_fs_driver_ok_hands_rings_over(void **state)
{
	struct fsfx *x = *state;
	const uint32_t per_ring[] = {VHOST_USER_SET_VRING_NUM,	VHOST_USER_SET_VRING_BASE,
				     VHOST_USER_SET_VRING_ADDR, VHOST_USER_SET_VRING_CALL,
				     VHOST_USER_SET_VRING_KICK, VHOST_USER_SET_VRING_ENABLE};
	const uint32_t first[] = {VHOST_USER_SET_FEATURES, VHOST_USER_SET_MEM_TABLE};
	struct tmsg m;

	vdrv_negotiate(&x->d, 2, EI);
	acks(x->be, first, 2);
	acks(x->be, per_ring, 6);
	acks(x->be, per_ring, 6);
	vdrv_driver_ok(&x->d);
	assert_false(vdrv_status(&x->d) & VIRTIO_STATUS_NEEDS_RESET);
	next(x->be, &m, VHOST_USER_SET_FEATURES);
	assert_int_equal(u64_at(&m, 0), V1 | EI | PF);
	next(x->be, &m, VHOST_USER_SET_MEM_TABLE);
	assert_int_equal(u32_at(&m, 0), 1);
	assert_int_equal(u64_at(&m, 8), VDRV_MEM_GPA);
	assert_int_equal(u64_at(&m, 16), x->d.mem_len);
	assert_int_equal(u64_at(&m, 24), (uint64_t)(uintptr_t)vdrv_ptr(&x->d, 0));
	close_fds(&m);
	for (unsigned q = 0; q < 2; q++) {
		uint8_t *ring = vdrv_ptr(&x->d, q * 0x4000);

		expect_state(x->be, VHOST_USER_SET_VRING_NUM, q, VDRV_QSIZE);
		expect_state(x->be, VHOST_USER_SET_VRING_BASE, q, 0);
		next(x->be, &m, VHOST_USER_SET_VRING_ADDR);
		assert_int_equal(u64_at(&m, 8), (uint64_t)(uintptr_t)ring);
		assert_int_equal(u64_at(&m, 16), (uint64_t)(uintptr_t)(ring + 0x2000));
		assert_int_equal(u64_at(&m, 24), (uint64_t)(uintptr_t)(ring + 0x1000));
		expect_ring_fd(x->be, VHOST_USER_SET_VRING_CALL, q, x->call);
		expect_ring_fd(x->be, VHOST_USER_SET_VRING_KICK, q, x->kick[q]);
		expect_state(x->be, VHOST_USER_SET_VRING_ENABLE, q, 1);
	}
	nothing_more(x->be);

	/* a device reset stops both rings */
	for (unsigned q = 0; q < 2; q++) {
		reply_u64(x->be, VHOST_USER_SET_VRING_ENABLE, 0);
		reply_state(x->be, VHOST_USER_GET_VRING_BASE, q, 0);
	}
	vdrv_set_status(&x->d, 0);
	for (unsigned q = 0; q < 2; q++) {
		expect_state(x->be, VHOST_USER_SET_VRING_ENABLE, q, 0);
		expect_state(x->be, VHOST_USER_GET_VRING_BASE, q, 0);
	}
	nothing_more(x->be);
}

static void test_fs_refusing_backend_fails_the_device(void **state)
{
	struct fsfx *x = *state;

	vdrv_negotiate(&x->d, 2, 0);
	reply_u64(x->be, VHOST_USER_SET_FEATURES, 0);
	reply_u64(x->be, VHOST_USER_SET_MEM_TABLE, 1); /* refused */
	vdrv_wr(&x->d, VDRV_REG_STATUS, vdrv_status(&x->d) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(vdrv_status(&x->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(x->fs->stats.backend_errors, 1);
}

static void test_fs_backend_gone(void **state)
{
	struct fsfx *x = *state;

	vdrv_negotiate(&x->d, 2, 0);
	close(x->be);
	x->be = -1;
	vdrv_pump(&x->loop, 100);
	assert_true(vdrv_status(&x->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(x->fs->vu.broken);
	/* the driver's next try fails cleanly, without waiting for anything */
	vdrv_wr(&x->d, VDRV_REG_STATUS, vdrv_status(&x->d) | VIRTIO_STATUS_DRIVER_OK);
	assert_true(x->fs->stats.backend_errors >= 1);
}

static void test_fs_backend_without_version_1(void **state)
{
	struct guest_mem mem;
	struct virtio_fs *fs;
	char why[256] = "";
	int sv[2];

	(void)state;
	guest_mem_init(&mem, -1);
	pair(sv);
	reply_u64(sv[1], VHOST_USER_GET_FEATURES, EI);
	assert_int_equal(virtio_fs_create("t", sv[0], &mem, NULL, &fs, why, sizeof(why)), -EPROTO);
	assert_non_null(strstr(why, "VERSION_1"));
	close(sv[1]);
	pair(sv);
	assert_int_equal(virtio_fs_create("bad tag", sv[0], &mem, NULL, &fs, why, sizeof(why)),
			 -EINVAL);
	close(sv[1]);
}

/* --- the real backend: Debian's virtiofsd, started as --fs dir= does --- */

struct fuse_in_hdr {
	uint32_t len, opcode;
	uint64_t unique, nodeid;
	uint32_t uid, gid, pid;
	uint16_t total_extlen, padding;
};

struct fuse_out_hdr {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

#define FUSE_INIT 26

/* virtiofsd serves a FUSE_INIT the test driver posts: kick through the queue's eventfd, the
 * reply in the used ring, the interrupt on the call eventfd; then kiln stops the daemon. Needs
 * root (virtiofsd's sandbox) and the binary: skipped otherwise. */
static void test_real_virtiofsd(void **state)
{
	struct vdrv d;
	struct event_loop loop;
	struct virtiofsd daemon;
	struct virtio_fs *fs;
	char why[512] = "", dir[] = "/tmp/kiln-test-vfs-XXXXXX";
	int fd, kick[2], call;
	uint64_t one = 1, n;
	uint32_t id = ~0u, len = 0;
	struct pollfd p;

	(void)state;
	if (geteuid() != 0 || access(virtiofsd_path(), X_OK) < 0)
		skip();
	assert_non_null(mkdtemp(dir));
	assert_int_equal(virtiofsd_start(&daemon, dir, &fd, why, sizeof(why)), 0);
	assert_true(daemon.pid > 0);
	vdrv_init(&d);
	share_vdrv_memory(&d);
	assert_int_equal(event_loop_init(&loop), 0);
	assert_int_equal(virtio_fs_create("real", fd, &d.mem, &loop, &fs, why, sizeof(why)), 0);
	fs->daemon = daemon;
	vdrv_attach(&d, &fs->vd);
	kick[0] = eventfd(0, EFD_NONBLOCK);
	kick[1] = eventfd(0, EFD_NONBLOCK);
	call = eventfd(0, EFD_NONBLOCK);
	d.call_fd = call;
	fs->vd.ops->external_queues(fs, kick, 2);
	vdrv_start(&d, 2, 0);
	assert_false(vdrv_status(&d) & VIRTIO_STATUS_NEEDS_RESET);
	{
		uint64_t in = vdrv_alloc(&d, 40 + 64), out = vdrv_alloc(&d, 16 + 256);
		struct fuse_in_hdr h = {40 + 64, FUSE_INIT, 7, 0, 0, 0, 0, 0, 0};
		uint32_t init_in[16] = {7, 31, 0x20000, 0};
		struct vdrv_buf b[2] = {{in, 40 + 64, false}, {out, 16 + 256, true}};
		struct fuse_out_hdr o;

		memcpy(vdrv_ptr(&d, in), &h, sizeof(h));
		memcpy((uint8_t *)vdrv_ptr(&d, in) + 40, init_in, sizeof(init_in));
		vdrv_add(&d, 1, b, 2);
		assert_int_equal(write(kick[1], &one, 8), 8); /* what KVM's ioeventfd does */
		/* what KVM's irqfd would inject; libvhost-user also signals each call eventfd once
		 * when it gets it, so wait for the reply itself */
		for (int i = 0; i < 100 && !vdrv_used(&d, 1, &id, &len); i++) {
			p = (struct pollfd){.fd = call, .events = POLLIN};
			if (poll(&p, 1, 100) == 1)
				assert_int_equal(read(call, &n, 8), 8);
		}
		assert_int_equal(id, 0);
		assert_true(len >= sizeof(o));
		memcpy(&o, vdrv_ptr(&d, out), sizeof(o));
		assert_int_equal(o.error, 0);
		assert_int_equal(o.unique, 7);
		assert_int_equal(o.len, len);
	}
	vdrv_set_status(&d, 0); /* a reset stops the rings: GET_VRING_BASE answered */
	assert_int_equal(fs->stats.backend_errors, 0);
	vdrv_detach(&d);
	virtio_fs_destroy(fs); /* closes the socket and stops virtiofsd */
	assert_int_equal(kill(daemon.pid, 0), -1);
	assert_int_equal(access(daemon.rundir, F_OK), -1);
	d.ram = NULL;
	vdrv_fini(&d);
	event_loop_destroy(&loop);
	close(kick[0]);
	close(kick[1]);
	close(call);
	rmdir(dir);
}

static void test_virtiofsd_start_failures(void **state)
{
	struct virtiofsd daemon;
	char why[512] = "";
	int fd;

	(void)state;
	setenv("KILN_VIRTIOFSD", "/nonexistent/virtiofsd", 1);
	assert_int_equal(virtiofsd_start(&daemon, "/", &fd, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, "qemu-system-common"));
	setenv("KILN_VIRTIOFSD", "/bin/false", 1); /* exits at once */
	assert_int_equal(virtiofsd_start(&daemon, "/", &fd, why, sizeof(why)), -ECHILD);
	assert_non_null(strstr(why, "exited with status 1 before its socket was ready"));
	assert_int_equal(daemon.pid, 0);
	assert_string_equal(daemon.rundir, "");
	unsetenv("KILN_VIRTIOFSD");
}

/* --- configuration --- */

#define PARSE(c, err, ...)                                                                         \
	({                                                                                         \
		char *argv_[] = {"run", __VA_ARGS__, NULL};                                        \
		config_defaults(c);                                                                \
		config_parse_run(c, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, err,       \
				 sizeof(err));                                                     \
	})

#define EXPECT_ERROR(part, ...)                                                                    \
	do {                                                                                       \
		struct vm_config c_;                                                               \
		char e_[256] = "";                                                                 \
		assert_int_equal(PARSE(&c_, e_, __VA_ARGS__), -EINVAL);                            \
		if (!strstr(e_, part))                                                             \
			fail_msg("expected '%s' in '%s'", part, e_);                               \
	} while (0)

static void test_cli(void **state)
{
	static struct vm_config c;
	char err[256];

	(void)state;
	assert_int_equal(PARSE(&c, err, "--fs", "tag=share,dir=/srv/x", "--fs",
			       "socket=/run/vfs.sock,tag=other"),
			 0);
	assert_int_equal(c.nr_fs, 2);
	assert_string_equal(c.fs[0].tag, "share");
	assert_string_equal(c.fs[0].dir, "/srv/x");
	assert_string_equal(c.fs[0].socket, "");
	assert_string_equal(c.fs[1].tag, "other");
	assert_string_equal(c.fs[1].socket, "/run/vfs.sock");
	assert_int_equal(PARSE(&c, err, "--fs", "tag=123456789012345678901234567890123456,dir=/"),
			 0);
	EXPECT_ERROR("give exactly one of socket=PATH and dir=PATH", "--fs", "tag=a");
	EXPECT_ERROR("give exactly one of socket=PATH and dir=PATH", "--fs",
		     "tag=a,dir=/,socket=/s");
	EXPECT_ERROR("tag '' is not", "--fs", "dir=/");
	EXPECT_ERROR("tag= must be 1-36 bytes", "--fs",
		     "tag=1234567890123456789012345678901234567,dir=/");
	EXPECT_ERROR("tag 'a b' is not", "--fs", "tag=a b,dir=/");
	EXPECT_ERROR("tag= given twice", "--fs", "tag=a,tag=b,dir=/");
	EXPECT_ERROR("is not KEY=VALUE", "--fs", "tag");
	EXPECT_ERROR("the options are tag=, socket= and dir=", "--fs", "tag=a,cache=none");
	EXPECT_ERROR("socket= must be 1-107 bytes", "--fs",
		     "tag=a,socket=/0123456789012345678901234567890123456789012345678901234567890"
		     "1234567890123456789012345678901234567890123456");
	EXPECT_ERROR("is not KEY=VALUE", "--fs", "tag=a,dir=");
	EXPECT_ERROR("tag 'a' is used twice", "--fs", "tag=a,dir=/", "--fs", "tag=a,dir=/tmp");
	EXPECT_ERROR("at most 4 devices", "--fs", "tag=a,dir=/", "--fs", "tag=b,dir=/", "--fs",
		     "tag=c,dir=/", "--fs", "tag=d,dir=/", "--fs", "tag=e,dir=/");
}

static void test_config_put(void **state)
{
	static struct vm_config c;
	struct fs_config f = {"t", "", "/a"};

	(void)state;
	config_defaults(&c);
	assert_int_equal(config_fs_put(&c, &f), 0);
	strcpy(f.dir, "/b");
	assert_int_equal(config_fs_put(&c, &f), 0); /* same tag: replaced */
	assert_int_equal(c.nr_fs, 1);
	assert_string_equal(c.fs[0].dir, "/b");
	strcpy(f.socket, "/s"); /* both */
	assert_int_equal(config_fs_put(&c, &f), -EINVAL);
	assert_false(config_fs_tag_ok(""));
	assert_false(config_fs_tag_ok("a,b"));
	assert_false(config_fs_tag_ok("\x7f"));
	assert_true(config_fs_tag_ok("my-share_1.x"));
}

/* The config file's kiln_fs array, its errors, and GET /vm/config's export of it. */
static int json_doc(struct vm_config *c, const char *text, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	int ret;

	assert_non_null(doc);
	config_defaults(c);
	ret = config_json_document(c, doc, err, errlen);
	json_decref(doc);
	return ret;
}

#define EXPECT_JSON_ERROR(part, text)                                                              \
	do {                                                                                       \
		char e_[256] = "";                                                                 \
		assert_int_equal(json_doc(&c, text, e_, sizeof(e_)), -EINVAL);                     \
		if (!strstr(e_, part))                                                             \
			fail_msg("expected '%s' in '%s'", part, e_);                               \
	} while (0)

static void test_json(void **state)
{
	static struct vm_config c, back;
	char err[256] = "", *text;
	json_t *doc;

	(void)state;
	assert_int_equal(json_doc(&c,
				  "{\"kiln_fs\": [{\"tag\": \"a\", \"shared_dir\": \"/srv\"},"
				  "{\"tag\": \"b\", \"socket\": \"/run/b.sock\"}]}",
				  err, sizeof(err)),
			 0);
	assert_int_equal(c.nr_fs, 2);
	assert_string_equal(c.fs[0].dir, "/srv");
	assert_string_equal(c.fs[1].socket, "/run/b.sock");
	doc = config_json_export(&c);
	assert_non_null(doc);
	text = json_dumps(doc, 0);
	json_decref(doc);
	assert_int_equal(json_doc(&back, text, err, sizeof(err)), 0);
	free(text);
	assert_int_equal(back.nr_fs, 2);
	assert_memory_equal(back.fs, c.fs, sizeof(c.fs));
	EXPECT_JSON_ERROR("kiln_fs[0]: give exactly one of the fields 'socket' and 'shared_dir'",
			  "{\"kiln_fs\": [{\"tag\": \"a\"}]}");
	EXPECT_JSON_ERROR(
	    "give exactly one",
	    "{\"kiln_fs\": [{\"tag\": \"a\", \"socket\": \"/s\", \"shared_dir\": \"/d\"}]}");
	EXPECT_JSON_ERROR("kiln_fs[0]: field 'tag' is missing",
			  "{\"kiln_fs\": [{\"socket\": \"/s\"}]}");
	EXPECT_JSON_ERROR("kiln_fs[1]: unknown field 'cache'",
			  "{\"kiln_fs\": [{\"tag\": \"a\", \"socket\": \"/s\"},"
			  "{\"tag\": \"b\", \"socket\": \"/s\", \"cache\": \"none\"}]}");
	EXPECT_JSON_ERROR("field 'tag': \"a b\" is not",
			  "{\"kiln_fs\": [{\"tag\": \"a b\", \"socket\": \"/s\"}]}");
	EXPECT_JSON_ERROR("kiln_fs: expected an array", "{\"kiln_fs\": {}}");
	/* no devices: the export leaves the key out, as kiln's other extensions */
	config_defaults(&c);
	doc = config_json_export(&c);
	assert_null(json_object_get(doc, "kiln_fs"));
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_greeting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_greeting_without_protocol_features, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_mem_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mem_table_refuses_private_ram, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_start_and_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reset_stops_rings_and_resets_device, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_set_features_checks_the_offer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage_replies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reply_with_descriptors_is_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_backend_closes_mid_message, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_silent_backend_times_out, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_backend_gone_before_sending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refusal_keeps_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_vring_base_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_queue_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fs_registers_and_config, fs_setup, fs_teardown),
	    cmocka_unit_test_setup_teardown(test_fs_driver_ok_hands_rings_over, fs_setup,
					    fs_teardown),
	    cmocka_unit_test_setup_teardown(test_fs_refusing_backend_fails_the_device, fs_setup,
					    fs_teardown),
	    cmocka_unit_test_setup_teardown(test_fs_backend_gone, fs_setup, fs_teardown),
	    cmocka_unit_test(test_fs_backend_without_version_1),
	    cmocka_unit_test(test_cli),
	    cmocka_unit_test(test_config_put),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_virtiofsd_start_failures),
	    cmocka_unit_test(test_real_virtiofsd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

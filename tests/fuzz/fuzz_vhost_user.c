/* fuzz_vhost_user.c — libFuzzer target: the vhost-user frontend against a hostile backend whose
 * whole side of the conversation is the input.
 *
 * Input: chunks, each [u8 ctl][u16 len, little-endian][len bytes] written to the backend's end of
 * a socketpair before the frontend runs (ctl bit 0: attach an eventfd to the chunk, as a backend
 * passing descriptors would); then the backend stops writing, so every read ends in data or end
 * of file, never in the deadline. The frontend then greets, sets features and the memory table
 * (one shared region), starts rings 0 and 1, stops ring 1 and resets, stopping at the first
 * failure. Checked: results are 0 or -errno, a broken connection refuses everything with -EPIPE,
 * `started` names only real rings, and no descriptor the backend sent is leaked.
 *
 * Build: meson setup build-fuzz -Dfuzz=true with CC=clang (see tests/fuzz/meson.build).
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/log.h"
#include "vhost/vhost_user.h"

#define MAX_INPUT 16384 /* well inside a socketpair's buffer: writes never block */

static struct guest_mem mem;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	guest_mem_init(&mem, -1);
	if (guest_mem_add(&mem, 0, 0x40000, GUEST_MEM_RAM | GUEST_MEM_SHARED) < 0)
		abort();
	return 0;
}

/* Send one chunk, with an eventfd attached if asked. */
static void send_chunk(int fd, const uint8_t *p, size_t len, bool with_fd)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {(void *)p, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int efd = -1;

	if (with_fd && (efd = eventfd(0, EFD_CLOEXEC)) >= 0) {
		struct cmsghdr *c;

		memset(ctl, 0, sizeof(ctl));
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &efd, sizeof(int));
	}
	(void)sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (efd >= 0)
		close(efd);
}

static void feed(int fd, const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off + 3 <= size) {
		uint8_t ctl = data[off];
		size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;

		off += 3;
		if (len > size - off)
			len = size - off;
		if (len)
			send_chunk(fd, data + off, len, ctl & 1);
		off += len;
	}
}

/* One step's result: 0 or -errno; once broken, always -EPIPE. */
static bool step(struct vhost_user *v, int ret)
{
	assert(ret <= 0 && ret > -4096);
	if (v->broken)
		assert(vhost_user_set_features(v, 0) == -EPIPE);
	assert((v->started & ~((1u << VHOST_USER_MAX_QUEUES) - 1)) == 0);
	return ret == 0;
}

static void converse(struct vhost_user *v, int fd)
{
	int kick = eventfd(0, EFD_CLOEXEC), call = eventfd(0, EFD_CLOEXEC);
	struct vhost_user_vring r = {64, 0x1000, 0x2000, 0x3000, kick, call};
	uint32_t base;

	if (step(v, vhost_user_connect(v, fd, "fuzz", 1000)) &&
	    step(v, vhost_user_set_features(v, v->features & (1ULL << 32))) &&
	    step(v, vhost_user_set_mem_table(v, &mem)) &&
	    step(v, vhost_user_start_ring(v, 0, &r)) && step(v, vhost_user_start_ring(v, 1, &r)) &&
	    step(v, vhost_user_stop_ring(v, 1, &base)))
		(void)step(v, vhost_user_reset(v));
	close(kick);
	close(call);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vhost_user v;
	int sv[2], probe_before, probe_after;

	if (size > MAX_INPUT)
		return 0;
	probe_before = dup(0);
	close(probe_before);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	feed(sv[1], data, size);
	shutdown(sv[1], SHUT_WR);
	converse(&v, sv[0]);
	vhost_user_close(&v);
	close(sv[1]);
	probe_after = dup(0);
	close(probe_after);
	assert(probe_after == probe_before); /* no descriptor leaked */
	return 0;
}

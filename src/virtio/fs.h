/* fs.h — virtio-fs (virtio 1.2 §5.11, device 26) whose queues a vhost-user backend serves
 * (virtiofsd): kiln keeps the registers, the configuration space (tag, one request queue) and the
 * backend connection; requests go from the guest to the backend and back without kiln. */
#ifndef KILN_VIRTIO_FS_H
#define KILN_VIRTIO_FS_H

#include "config/config.h"
#include "core/event_loop.h"
#include "vhost/vhost_user.h"
#include "vhost/virtiofsd.h"
#include "virtio/virtio_dev.h"

#define VIRTIO_FS_QUEUES     2	  /* hiprio (0) and one request queue (1) */
#define VIRTIO_FS_QUEUE_MAX  1024 /* libvhost-user's VIRTQUEUE_MAX_SIZE */
#define VIRTIO_FS_CONFIG_LEN 40	  /* tag[36], le32 num_request_queues */

struct vm;

struct virtio_fs_stats {
	uint64_t starts;	 /* activations that handed the rings to the backend */
	uint64_t backend_errors; /* exchanges with the backend that failed */
};

struct virtio_fs {
	struct virtio_dev vd;
	struct vhost_user vu;
	struct virtiofsd daemon; /* the virtiofsd kiln started (daemon.pid 0: none) */
	struct event_loop *loop; /* watches the socket for the backend going away; may be NULL */
	bool watching;
	char tag[CONFIG_FS_TAG_MAX + 1];
	int kick_fd[VIRTIO_FS_QUEUES]; /* the transport's (external_queues), -1 without KVM */
	struct virtio_fs_stats stats;
};

/*
 * Make a virtio-fs device with tag `tag` over backend socket fd (connected; owned from now on,
 * also on failure), DMA through mem (whose RAM must be GUEST_MEM_SHARED for the backend to reach
 * it). Greets the backend (vhost_user_connect) and refuses one that does not offer VERSION_1 or
 * serves fewer than VIRTIO_FS_QUEUES queues; the offer to the guest is kiln's transport features
 * the backend has too. loop (may be NULL) watches the socket: a backend that closes it puts a
 * live device in NEEDS_RESET. Returns 0 or -errno (-EPROTO: an unusable backend) with one line in
 * why.
 */
int virtio_fs_create(const char *tag, int fd, const struct guest_mem *mem, struct event_loop *loop,
		     struct virtio_fs **out, char *why, size_t whylen) MUST_CHECK;

/* Close the connection, stop the virtiofsd kiln started (if any) and free. NULL: nothing. */
void virtio_fs_destroy(struct virtio_fs *f);

/* Board: one device per cfg->fs[i] as "fs<i>", connecting to socket= or starting virtiofsd on
 * dir=; a failure is one line in vm->err ("virtio-fs TAG: ..."). */
int virtio_fs_board_add(struct vm *vm) MUST_CHECK;

#endif

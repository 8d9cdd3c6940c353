/* fs.c — virtio-fs over vhost-user: kiln negotiates with the driver and, at DRIVER_OK, hands
 * the backend the memory table, the rings and the transport's ioeventfds (kick) and irqfd
 * (call); requests then never pass through kiln. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/board.h"
#include "core/vm.h"
#include "util/err.h"
#include "util/log.h"
#include "util/unix_sock.h"
#include "virtio/fs.h"

/* Ring features kiln's transport offers that the backend must implement too to be offered. */
#define RING_FEATURES ((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | (1ULL << VIRTIO_RING_F_EVENT_IDX))

static uint64_t fs_features(void *dev)
{
	(void)dev;
	return 0; /* §5.11.3: VIRTIO_FS_F_NOTIFICATION is not offered (no notification queue) */
}

/* §5.11.4: tag[36] (zero-padded, no NUL when full), le32 num_request_queues. */
static void fs_config_read(void *dev, uint32_t off, void *buf, uint32_t len)
{
	struct virtio_fs *f = dev;
	uint8_t cfg[VIRTIO_FS_CONFIG_LEN] = {0};
	uint32_t nrq = VIRTIO_FS_QUEUES - 1; /* x86: little-endian */

	memcpy(cfg, f->tag, strlen(f->tag));
	memcpy(cfg + 36, &nrq, sizeof(nrq));
	memcpy(buf, cfg + off, len); /* the transport checked off + len <= config_len */
}

static void backend_error(struct virtio_fs *f, const char *what, int err)
{
	f->stats.backend_errors++;
	log_warn_ratelimited(&f->vd.rl, "virtio-fs %s: %s: %s", f->tag, what, strerror(-err));
}

static int start_ring(struct virtio_fs *f, unsigned q)
{
	const struct virtq *vq = &f->vd.vq[q];
	struct vhost_user_vring r = {
	    .num = vq->size,
	    .desc = (uint64_t)(uintptr_t)vq->desc,
	    .avail = (uint64_t)(uintptr_t)vq->avail,
	    .used = (uint64_t)(uintptr_t)vq->used,
	    .kick_fd = f->kick_fd[q],
	    .call_fd = f->vd.queue_call_fd ? f->vd.queue_call_fd(f->vd.irq_ctx, q) : -1,
	};

	if (r.kick_fd < 0 || r.call_fd < 0)
		return -ENODEV; /* no KVM (host-side tests): nothing to hand over */
	return vhost_user_start_ring(&f->vu, q, &r);
}

/* DRIVER_OK: features, memory, then every ring the driver made ready. */
static int fs_activate(void *dev)
{
	struct virtio_fs *f = dev;
	int ret = vhost_user_set_features(&f->vu, f->vd.features);

	if (ret == 0)
		ret = vhost_user_set_mem_table(&f->vu, f->vd.mem);
	for (unsigned q = 0; ret == 0 && q < VIRTIO_FS_QUEUES; q++)
		if (f->vd.vq[q].active)
			ret = start_ring(f, q);
	if (ret < 0) {
		backend_error(f, "starting the backend", ret);
		return ret;
	}
	f->stats.starts++;
	return 0;
}

static void fs_reset(void *dev)
{
	struct virtio_fs *f = dev;
	int ret;

	if (!f->vu.started)
		return;
	ret = vhost_user_reset(&f->vu);
	if (ret < 0)
		backend_error(f, "stopping the backend", ret);
}

static void fs_notify(void *dev, unsigned q)
{
	(void)dev;
	(void)q; /* kicks go to the backend through the ioeventfd; nothing reaches kiln */
}

static void fs_queue_reset(void *dev, unsigned q)
{
	struct virtio_fs *f = dev;
	int ret = vhost_user_stop_ring(&f->vu, q, NULL);

	if (ret < 0)
		backend_error(f, "stopping a ring", ret);
}

static void fs_external_queues(void *dev, const int *kick_fds, unsigned nr)
{
	struct virtio_fs *f = dev;

	for (unsigned q = 0; q < nr && q < VIRTIO_FS_QUEUES; q++)
		f->kick_fd[q] = kick_fds[q];
}

static const struct device_counter fs_counters[] = {
    DEVICE_COUNTER(struct virtio_fs_stats, starts),
    DEVICE_COUNTER(struct virtio_fs_stats, backend_errors),
};

static void fs_stats(void *dev, const char *name, device_stat_fn fn, void *ctx)
{
	struct virtio_fs *f = dev;
	struct virtio_fs_stats s;

	pthread_mutex_lock(&f->vd.lock);
	s = f->stats;
	pthread_mutex_unlock(&f->vd.lock);
	device_report_counters(DEVICE_COUNTERS(fs_counters), &s, name, fn, ctx);
}

static void fs_destroy(void *dev)
{
	virtio_fs_destroy(dev);
}

/* No state section: snapshots and migrations of a VM with virtio-fs are refused before they
 * start (the backend's state cannot be saved), so the device never has to be saved. */
static const struct virtio_dev_ops fs_ops = {
    .name = "virtio-fs",
    .device_id = VIRTIO_ID_FS,
    .nr_queues = VIRTIO_FS_QUEUES,
    .queue_max = VIRTIO_FS_QUEUE_MAX,
    .config_len = VIRTIO_FS_CONFIG_LEN,
    .features = fs_features,
    .config_read = fs_config_read,
    .activate = fs_activate,
    .reset = fs_reset,
    .notify = fs_notify,
    .queue_reset = fs_queue_reset,
    .external_queues = fs_external_queues,
    .stats = fs_stats,
    .destroy = fs_destroy,
};

/* The backend closed the socket (or it failed): the device stops until the driver resets it,
 * and every later start fails cleanly. */
static void on_backend_event(void *ctx, int fd, uint32_t events)
{
	struct virtio_fs *f = ctx;

	(void)events;
	pthread_mutex_lock(&f->vd.lock);
	if (f->watching) {
		(void)event_loop_del(f->loop, fd);
		f->watching = false;
	}
	if (!f->vu.broken)
		log_warn("virtio-fs %s: the vhost-user backend closed its connection", f->tag);
	f->vu.broken = true;
	f->vu.started = 0;
	virtio_dev_set_needs_reset(&f->vd, "vhost-user backend gone");
	pthread_mutex_unlock(&f->vd.lock);
}

static int PRINTF(3, 4) say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return 0;
}

/* What the backend must offer: VERSION_1 (kiln has no legacy interface) and both queues. */
static int backend_check(const struct vhost_user *vu, char *why, size_t whylen)
{
	if (!((vu->features >> VIRTIO_F_VERSION_1) & 1))
		return say(why, whylen, "the vhost-user backend does not offer VIRTIO_F_VERSION_1"),
		       -EPROTO;
	if (vu->max_queues && vu->max_queues < VIRTIO_FS_QUEUES)
		return say(why, whylen, "the vhost-user backend serves %u queue(s), kiln needs %u",
			   vu->max_queues, VIRTIO_FS_QUEUES),
		       -EPROTO;
	return 0;
}

static int fs_init(struct virtio_fs *f, int fd, const struct guest_mem *mem, char *why,
		   size_t whylen)
{
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "virtio-fs %s", f->tag);
	ret = vhost_user_connect(&f->vu, fd, name, 0);
	if (ret < 0)
		return say(why, whylen, "vhost-user handshake: %s", strerror(-ret)), ret;
	ret = backend_check(&f->vu, why, whylen);
	if (ret < 0)
		return ret;
	ret = virtio_dev_init(&f->vd, &fs_ops, f, mem);
	if (ret < 0)
		return say(why, whylen, "device: %s", strerror(-ret)), ret;
	f->vd.offered &=
	    ~RING_FEATURES | f->vu.features; /* what the backend cannot do is not offered */
	if (f->loop) {
		ret = event_loop_add(f->loop, f->vu.fd, EPOLLRDHUP, on_backend_event, f);
		if (ret < 0)
			return say(why, whylen, "event loop: %s", strerror(-ret)), ret;
		f->watching = true;
	}
	return 0;
}

int virtio_fs_create(const char *tag, int fd, const struct guest_mem *mem, struct event_loop *loop,
		     struct virtio_fs **out, char *why, size_t whylen)
{
	struct virtio_fs *f;
	int ret;

	if (!mem || !tag || !config_fs_tag_ok(tag)) {
		close(fd);
		return say(why, whylen, "bad tag or memory"), -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return say(why, whylen, "out of memory"), -ENOMEM;
	}
	snprintf(f->tag, sizeof(f->tag), "%s", tag);
	f->loop = loop;
	f->kick_fd[0] = f->kick_fd[1] = -1;
	f->vu.fd = -1;
	ret = fs_init(f, fd, mem, why, whylen);
	if (ret < 0) {
		if (f->vd.ops)
			virtio_dev_destroy(&f->vd);
		vhost_user_close(&f->vu);
		free(f);
		return ret;
	}
	*out = f;
	return 0;
}

void virtio_fs_destroy(struct virtio_fs *f)
{
	if (!f)
		return;
	if (f->watching)
		(void)event_loop_del(f->loop, f->vu.fd);
	vhost_user_close(&f->vu);
	virtiofsd_stop(&f->daemon);
	virtio_dev_destroy(&f->vd);
	free(f);
}

/* --- the board --- */

/* A connected socket to fc's backend: its socket=, or a virtiofsd started on its dir= (then
 * recorded in *d). */
static int open_backend(const struct fs_config *fc, struct virtiofsd *d, int *fd, char *why,
			size_t whylen)
{
	struct stat st;

	if (fc->socket[0]) {
		*fd = unix_connect(fc->socket, 0, 0);
		if (*fd < 0)
			say(why, whylen, "%s: %s", fc->socket, unix_sock_strerror(*fd));
		return *fd < 0 ? *fd : 0;
	}
	if (stat(fc->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return say(why, whylen, "%s: %s", fc->dir,
			   errno && !S_ISDIR(st.st_mode) ? "not a directory" : strerror(errno)),
		       -ENOTDIR;
	return virtiofsd_start(d, fc->dir, fd, why, whylen);
}

static int add_one(struct vm *vm, unsigned i)
{
	const struct fs_config *fc = &vm->cfg->fs[i];
	struct virtiofsd d = {0};
	struct virtio_fs *f;
	char why[512] = "", name[16];
	int fd, ret = open_backend(fc, &d, &fd, why, sizeof(why));

	if (ret == 0)
		ret = virtio_fs_create(fc->tag, fd, &vm->mem, vm->loop, &f, why, sizeof(why));
	if (ret < 0) {
		virtiofsd_stop(&d);
		return err_set(vm->err, ret == -EINVAL ? -EIO : ret, "virtio-fs %s: %s", fc->tag,
			       why);
	}
	f->daemon = d;
	snprintf(name, sizeof(name), "fs%u", i);
	ret = board_add_virtio(vm, &f->vd, name);
	if (ret < 0)
		virtio_fs_destroy(f);
	return ret;
}

int virtio_fs_board_add(struct vm *vm)
{
	int ret = 0;

	for (unsigned i = 0; i < vm->cfg->nr_fs && ret == 0; i++)
		ret = add_one(vm, i);
	return ret;
}

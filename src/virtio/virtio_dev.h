/* virtio_dev.h — the transport-independent half of a virtio device: feature negotiation, the
 * status state machine, queues and interrupts (virtio 1.2 §2, §3). Each device (blk, console,
 * rng, ...) fills a struct virtio_dev_ops; a transport (virtio_mmio.c) exposes it to the guest. */
#ifndef KILN_VIRTIO_VIRTIO_DEV_H
#define KILN_VIRTIO_VIRTIO_DEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/device.h"
#include "core/guest_mem.h"
#include "util/compiler.h"
#include "state/state.h"
#include "util/log.h"
#include "virtio/virtq.h"

#define VIRTIO_F_VERSION_1    32
#define VIRTIO_DEV_MAX_QUEUES 8

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER	  2u
#define VIRTIO_STATUS_DRIVER_OK	  4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED	  128u

/* What an interrupt is for besides a queue (raise_irq's source). */
#define VIRTIO_IRQ_CONFIG 0xffffu

/* InterruptStatus bits (§4.2.2). */
#define VIRTIO_ISR_USED	  1u
#define VIRTIO_ISR_CONFIG 2u

/* Device IDs (§5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19
#define VIRTIO_ID_FS	  26

struct virtio_dev;

/*
 * What a device implements. The queue and configuration callbacks (features to notify) run with
 * vd->lock held, on whichever thread drove the transport (a vCPU for register accesses, the main
 * loop for notifications and backend completions), and must not block for long. The board hooks
 * (save to destroy) are the device's half of its board entry (core/device.h): they run on the
 * main thread without vd->lock, and take it as they need.
 */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	unsigned nr_queues;  /* at most VIRTIO_DEV_MAX_QUEUES */
	uint16_t queue_max;  /* QueueNumMax: a power of two */
	uint32_t config_len; /* bytes of device-specific configuration */
	/* Device-specific feature bits offered (the transport adds VERSION_1 and ring features). */
	uint64_t (*features)(void *dev);
	/* Copy config bytes [off, off+len) into buf; the transport has checked the range. */
	void (*config_read)(void *dev, uint32_t off, void *buf, uint32_t len);
	/* Driver writes to config space; NULL if it is read-only (writes are then ignored). */
	void (*config_write)(void *dev, uint32_t off, const void *buf, uint32_t len);
	/* DRIVER_OK was set: vd->features is final and the enabled queues are active.
	 * Return 0, or -errno to put the device in NEEDS_RESET. */
	int (*activate)(void *dev);
	/* The driver reset the device: forget requests in flight, return to the initial state. */
	void (*reset)(void *dev);
	/* The driver added buffers to queue q. */
	void (*notify)(void *dev, unsigned q);
	/* The driver wrote 0 to QueueReady of queue q (or the device is reset): forget every
	 * request taken from it (chains held, requests in flight: their completions must not reach
	 * the ring again). NULL if the device holds nothing between notifications. */
	void (*queue_reset)(void *dev, unsigned q);
	/* Queues served outside kiln (vhost-user); NULL for devices kiln serves itself. Set, the
	 * transport calls it once it is hooked up, with each queue's notification eventfd (KVM's
	 * ioeventfd; -1 without KVM), which stay the transport's, and does not watch them itself;
	 * the device asks the transport for each queue's interrupt eventfd when it starts the
	 * backend (vd->queue_call_fd). virtio-mmio's InterruptStatus always shows the used-buffer
	 * bit, since the backend signals the irqfd without kiln seeing it. No lock held (creation,
	 * main thread). */
	void (*external_queues)(void *dev, const int *kick_fds, unsigned nr);

	/* --- board hooks (main thread, vd->lock not held) --- */
	const char *state_name;	    /* section "virtio.N.<state_name>"; NULL: no state of its own */
	uint16_t state_version;	    /* what save writes */
	uint16_t state_min_version; /* oldest version load maps onto the current one */
	/* Put the device's own state into the open section. 0 or -errno (logged). */
	int (*save)(void *dev, struct state_buf *b);
	/* Load its section saved at `version` (within [state_min_version, state_version]), after
	 * the transport's section. 0 or -EINVAL (logged). */
	int (*load)(void *dev, struct state_buf *b, uint16_t version);
	/* Report the device's own counters through fn under `name` (device_report_counters). */
	void (*stats)(void *dev, const char *name, device_stat_fn fn, void *ctx);
	/* Wait until no request is in flight, at most timeout_ms. 0 or -ETIMEDOUT (logged). */
	int (*drain)(void *dev, int timeout_ms);
	/* Free the device; its transport is gone already. */
	void (*destroy)(void *dev);
};

struct virtio_dev_stats {
	uint64_t notifies, interrupts, config_changes, needs_reset, bad_access;
};

struct virtio_dev {
	const struct virtio_dev_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	pthread_mutex_t lock;	  /* guards all below and the device's own queue processing */
	uint64_t offered;	  /* device features offered to the driver */
	uint64_t driver_features; /* as written by the driver */
	uint64_t features;	  /* negotiated: valid once FEATURES_OK is accepted */
	uint32_t status;
	bool quiesced; /* board_quiesce: not live until resumed */
	uint32_t isr;
	uint32_t config_generation;
	struct virtq vq[VIRTIO_DEV_MAX_QUEUES];
	/* Raise the device's interrupt for `source`: a queue's index, or VIRTIO_IRQ_CONFIG (set by
	 * the transport, which may give each its own vector; called with lock held). */
	void (*raise_irq)(void *ctx, unsigned source);
	/* The eventfd that raises queue q's interrupt for a backend that signals it itself
	 * (vhost-user), as the driver configured the transport now (virtio-pci: the queue's
	 * vector); -1: none (no KVM, or the driver gave the queue no vector). Set by the transport;
	 * called with lock held (the device's activate). */
	int (*queue_call_fd)(void *ctx, unsigned q);
	void *irq_ctx;
	struct virtio_dev_stats stats;
	struct log_ratelimit rl;
};

/* Prepare vd for device `dev` with `ops`, DMA into `mem`. Returns 0 or -EINVAL (bad ops). */
int virtio_dev_init(struct virtio_dev *vd, const struct virtio_dev_ops *ops, void *dev,
		    const struct guest_mem *mem) MUST_CHECK;
/* Release what virtio_dev_init and the queues hold (the lock, each queue's dirty-tracking
 * records: virtq_reset); vd itself belongs to the caller. Only after a successful init. */
void virtio_dev_destroy(struct virtio_dev *vd);

/* --- for transports (vd->lock held) --- */

/* Driver wrote the status register: 0 resets (§2.4); FEATURES_OK is accepted only if the
 * driver's features are a subset of the offer and include VERSION_1 (§3.1.1); DRIVER_OK activates
 * the device. Status bits can only be added, never cleared, except by a reset. */
void virtio_dev_write_status(struct virtio_dev *vd, uint32_t status);

/* Reset the device and every queue (status 0). */
void virtio_dev_reset(struct virtio_dev *vd);

/* Driver set QueueReady=1 on queue q after configuring it: activate it with the negotiated ring
 * features. An invalid configuration puts the device in NEEDS_RESET. */
void virtio_dev_queue_ready(struct virtio_dev *vd, unsigned q);

/* Driver wrote 0 to QueueReady of queue q: the device forgets what it took from the queue
 * (ops->queue_reset), then the queue forgets its configuration. */
void virtio_dev_queue_reset(struct virtio_dev *vd, unsigned q);

/* Driver notified queue q: counted and passed to the device if it is live. */
void virtio_dev_notify(struct virtio_dev *vd, unsigned q);

/* The queue configuration a driver writes while a queue is not ready (§4.1.4.3, §4.2.2). */
enum virtq_field { VIRTQ_FIELD_SIZE, VIRTQ_FIELD_DESC, VIRTQ_FIELD_DRIVER, VIRTQ_FIELD_DEVICE };

/* The driver wrote v to queue q's field f: its size (above queue_max it becomes 0, which the
 * ready check refuses), or the low or high half (high) of a ring address. -EBUSY while the queue
 * is ready (nothing changed: the transport counts it), -EINVAL for a queue the device lacks. */
int virtio_dev_queue_set(struct virtio_dev *vd, unsigned q, enum virtq_field f, bool high,
			 uint32_t v) MUST_CHECK;

/* The driver wrote half `sel` (0 low, 1 high) of its features: -EINVAL (nothing changed, the
 * transport counts it) for another selector or once FEATURES_OK is set. */
int virtio_dev_driver_features(struct virtio_dev *vd, uint32_t sel, uint32_t v) MUST_CHECK;

/* A queue notification eventfd fired (main loop; fds[q] is queue q's, nr of them): consume it
 * and notify its queue under vd->lock. */
void virtio_dev_notify_fd(struct virtio_dev *vd, const int *fds, unsigned nr, int fd);

/* --- for devices (vd->lock held) --- */

/* Whether the driver finished initialisation (DRIVER_OK), the device is not broken and not
 * quiesced (a device that is not live takes nothing from its queues). */
bool virtio_dev_live(const struct virtio_dev *vd);

/* Whether feature bit `bit` was negotiated. */
bool virtio_dev_has_feature(const struct virtio_dev *vd, unsigned bit);

/* After pushing used buffers on queue q: interrupt the driver if it wants one (EVENT_IDX or
 * NO_INTERRUPT permitting). */
void virtio_dev_used(struct virtio_dev *vd, unsigned q);

/* The device configuration changed: bump the generation and send a config interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vd);

/* The driver broke the protocol: set NEEDS_RESET, count it, tell the driver (§2.1.1). */
void virtio_dev_set_needs_reset(struct virtio_dev *vd, const char *why);

/* Whether a chain suits the queue it came from (its buffers go the right way, ...). */
typedef bool (*virtio_chain_ok_fn)(const struct virtq_chain *c, unsigned q);

/*
 * Take the next request of queue q into *c: the one helper every device pops with. An empty ring
 * re-enables notifications and is looked at once more (a buffer added meanwhile is not missed).
 * A chain `ok` refuses (ok NULL: none is refused) goes back to the driver with 0 bytes written,
 * is counted in *refused, logged (rate-limited) and sets *used. A malformed chain or a failed
 * used-ring update puts the device in NEEDS_RESET. Returns 1 (a chain in *c), 0 (the queue is
 * empty) or -EIO (the device broke: stop). vd->lock held.
 */
int virtio_dev_take(struct virtio_dev *vd, unsigned q, struct virtq_chain *c, virtio_chain_ok_fn ok,
		    uint64_t *refused, bool *used) MUST_CHECK;

/* Report the transport-independent counters (notifies, interrupts, needs_reset, bad_access) under
 * `name`. Takes vd->lock. */
void virtio_dev_report_stats(struct virtio_dev *vd, const char *name, device_stat_fn fn, void *ctx);

/* The board entry of a virtio device (obj: its struct virtio_dev): save, load, stats, drain and
 * destroy go to the device's hooks; reset resets the device as a driver's status 0 would;
 * restored lets it take up its queues again (virtio_dev_restored). */
extern const struct device_ops virtio_device_ops;

/* --- state (vd->lock held by the caller, or no other thread running) --- */

/* Put the transport-independent state into b: device id and offered features (both checked on
 * load), driver and negotiated features, status, ISR, configuration generation, every queue. */
void virtio_dev_save(const struct virtio_dev *vd, struct state_buf *b);

/* Load what virtio_dev_save wrote: the device must be the same kind offering the same features;
 * negotiated features within the offer, status and ISR only known bits, every queue checked by
 * virtq_load against vd->mem. The device is not activated: call virtio_dev_restored once the
 * device's own section is loaded too. 0, or -EINVAL with a message naming `name`. */
int virtio_dev_load(struct virtio_dev *vd, struct state_buf *b, const char *name) MUST_CHECK;

/* virtio_dev_load of the common state that ends a transport's section: a section with bytes left
 * over is refused too ("<name>: section length wrong"). 0 or -EINVAL. */
int virtio_dev_load_end(struct virtio_dev *vd, struct state_buf *b, const char *name) MUST_CHECK;

/* After a load: if the driver had finished (DRIVER_OK, not broken) let the device pick up its
 * negotiated features (activate) and look at every active queue once (notifications sent while
 * the VM was being saved are not in the snapshot). */
void virtio_dev_restored(struct virtio_dev *vd);

#endif

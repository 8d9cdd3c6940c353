/* device.h — the one interface every device of a board implements (legacy and virtio alike), and
 * the list the board keeps of them. The board walks the list for counters, snapshots, restores,
 * resets and teardown; it never needs to know what kind of device an entry is. */
#ifndef KILN_CORE_DEVICE_H
#define KILN_CORE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state/state.h"
#include "util/compiler.h"

/* A counter callback: device name ("com1", "block0", ...), counter name, value. */
typedef void (*device_stat_fn)(void *ctx, const char *dev, const char *name, uint64_t value);

/* One named counter: a uint64_t field of a device's stats struct. */
struct device_counter {
	const char *name;
	size_t offset;
};

#define DEVICE_COUNTER(type, field)                                                                \
	{                                                                                          \
#field, offsetof(type, field)                                                      \
	}
#define DEVICE_COUNTERS(table) (table), (unsigned)(sizeof(table) / sizeof((table)[0]))

/* Report the n counters of `table` read from `stats` (a struct whose fields they name) through
 * fn under device name `dev`. */
void device_report_counters(const struct device_counter *table, unsigned n, const void *stats,
			    const char *dev, device_stat_fn fn, void *ctx);

/*
 * What a device does for the board. Every hook may be NULL (the device has nothing to do there).
 * Hooks run on the main thread with the vCPUs paused or stopped (save, load, reset, restored,
 * destroy) or running (stats, drain); each takes the device's own lock as it needs.
 */
struct device_ops {
	const char *kind; /* "uart16550", "virtio-mmio", ...: for messages */
	/* Put the device's state into the section the walker opened (named by the entry, at the
	 * entry's version). 0 or -errno (logged). */
	int (*save)(void *obj, struct state_buf *b);
	/* Load the selected section, saved at `version`: the walker has checked that version is in
	 * [min_version, version] of the entry, and the loader maps an older one onto the current
	 * fields (documented at the device's STATE_VERSION). 0 or -EINVAL (logged, unchanged). */
	int (*load)(void *obj, struct state_buf *b, uint16_t version);
	/* Report the device's counters through fn under `name`. */
	void (*stats)(void *obj, const char *name, device_stat_fn fn, void *ctx);
	/* Return to the power-on state (guest-visible registers; backends stay connected). */
	void (*reset)(void *obj);
	/* Wait until no I/O is in flight, for at most timeout_ms: 0 or -ETIMEDOUT (logged). */
	int (*drain)(void *obj, int timeout_ms);
	/* on: stop taking work from queues and backends (no guest-memory or ring access until
	 * resumed; call after drain, with the vCPUs paused); off: take it up again. For the last
	 * phase of a live migration, whose state is collected off the main thread. */
	void (*quiesce)(void *obj, bool on);
	/* After every entry of a board was loaded: take up work again (queues, interrupts). */
	void (*restored)(void *obj);
	/* Free the device; no handler may run afterwards. */
	void (*destroy)(void *obj);
};

#define DEVICE_NAME_MAX 24

/* One device of a board. */
struct device {
	const struct device_ops *ops;
	void *obj;
	char name[DEVICE_NAME_MAX];   /* counters are reported under this name */
	char section[STATE_NAME_MAX]; /* its state section; "" when it has no state */
	uint16_t version;	      /* state version save writes */
	uint16_t min_version;	      /* oldest version load accepts */
};

/* A board's devices, in registration order. A zeroed struct is an empty list. */
struct device_list {
	struct device *dev;
	unsigned nr, cap;
};

/*
 * Append d (copied). From now on the list owns d->obj: device_list_destroy calls its destroy.
 * Returns 0, -EINVAL (a name or section too long, a section but no save/load, a version range
 * that is empty or starts at 0), or -ENOMEM (d->obj is then not owned: the caller frees it).
 */
int device_list_add(struct device_list *l, const struct device *d) MUST_CHECK;

/* Make room for n more entries, so the next n device_list_add calls cannot fail with -ENOMEM
 * (for a pair of entries that must go in together). 0 or -ENOMEM. */
int device_list_reserve(struct device_list *l, unsigned n) MUST_CHECK;

/* device_list_add with the entry spelled out: `section` NULL for a device without state. */
int device_list_add_ops(struct device_list *l, const struct device_ops *ops, void *obj,
			const char *name, const char *section, uint16_t version,
			uint16_t min_version) MUST_CHECK;

/* The object of the first entry named `name` whose ops are `ops`, or NULL. */
void *device_list_find(const struct device_list *l, const char *name, const struct device_ops *ops);

/* Every device's counters, device by device in registration order. */
void device_list_stats(const struct device_list *l, device_stat_fn fn, void *ctx);

/* Drain every device; the first error is returned (the others are still drained). */
int device_list_drain(const struct device_list *l, int timeout_ms) MUST_CHECK;

/* One section per device with state, in registration order. 0 or the first -errno. */
int device_list_save(const struct device_list *l, struct state_buf *b) MUST_CHECK;

/* Load every device with state from its section, in registration order (so a transport's section
 * is loaded before its device's). A missing section or a version outside the entry's range is
 * refused with a message naming the section. 0 or -EINVAL. */
int device_list_load(const struct device_list *l, struct state_buf *b) MUST_CHECK;

/* Quiesce (on) or resume (off) every device, in registration order. */
void device_list_quiesce(const struct device_list *l, bool on);

/* Call every restored hook, in registration order. */
void device_list_restored(const struct device_list *l);

/* Reset every device, in registration order. */
void device_list_reset(const struct device_list *l);

/* Destroy every device in registration order (a transport, registered before its device, goes
 * first), then free the list and zero it. */
void device_list_destroy(struct device_list *l);

#endif
